"""makegood: a service recovery engine.

Detect each service failure as it happens, make good with the customer within hard budgets,
hand hard cases to people, and measure whether recovery works.

The public Python API is listed once, here, and grows with the engine. Names load on first use,
so `import makegood` stays cheap and does nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from makegood.version import __version__

__all__ = ["Makegood", "__version__"]

if TYPE_CHECKING:
    from makegood.entrypoints.embedded import Makegood


def __getattr__(name: str) -> Any:
    if name == "Makegood":
        from makegood.entrypoints.embedded import Makegood

        return Makegood
    raise AttributeError(f"module 'makegood' has no attribute {name!r}")
