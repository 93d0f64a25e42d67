"""Which policy a store's decisions were made under, kept in the store (`engine_state`), so that
`makegood ingest` never mixes two policies in one store without being told to.

The stamp is a digest of the parsed policy (comments and layout do not count) and a name for
people: the file it came from, or the shipped policy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from makegood.adapters.sql.store import SqlStore
from makegood.domain.errors import MakegoodError
from makegood.domain.rules import CompiledPolicy

DIGEST = "policy.sha256"
SOURCE = "policy.source"
SHIPPED = "the shipped food-delivery policy"


class PolicyChanged(MakegoodError):
    """The store was filled under another policy, and no `--policy` said to switch."""


@dataclass(frozen=True)
class Stamp:
    digest: str
    source: str

    def __str__(self) -> str:
        return f"{self.source} ({self.digest[:12]})"


def stamp_of(policy: CompiledPolicy, path: Path | None) -> Stamp:
    digest = hashlib.sha256(repr(policy.policy).encode("utf-8")).hexdigest()
    return Stamp(digest, str(path) if path is not None else SHIPPED)


def record(store: SqlStore, stamp: Stamp, *, chosen: bool) -> Stamp | None:
    """Record `stamp` as the store's policy; return the one it replaces, if it differs.

    Raises PolicyChanged when the store holds another policy and `chosen` is False (the
    policy came from ``MAKEGOOD_POLICY`` or the default, not from ``--policy``)."""
    with store.session() as session:
        digest, source = session.get_value(DIGEST), session.get_value(SOURCE)
        before = Stamp(digest, source or "an unnamed policy") if digest else None
        if before is not None and before.digest != stamp.digest and not chosen:
            raise PolicyChanged(
                f"this store was filled under {before}, and this run would use {stamp}: "
                "pass --policy FILE to switch (or --db for another store)"
            )
        session.set_value(DIGEST, stamp.digest)
        session.set_value(SOURCE, stamp.source)
    return before if before is not None and before.digest != stamp.digest else None
