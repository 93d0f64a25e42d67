"""The HTTP API (FastAPI): see `makegood.entrypoints.api.app`."""

from makegood.entrypoints.api.app import create_app

__all__ = ["create_app"]
