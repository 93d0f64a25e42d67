"""Retraining on a schedule inside ``makegood serve`` (``text.training.every`` in the policy).

A daemon thread waits `every`, then learns from the store's outcomes as
``makegood text train --from-store`` does, installing the new head only when it reads the
held-out part better; what it did goes to the log. The first run comes one period after start,
so a restart loop never retrains in a burst.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from makegood.adapters.text.model_card import head_path
from makegood.adapters.text.rules import rules_of_policy
from makegood.domain.errors import MakegoodError
from makegood.domain.rules import CompiledPolicy

log = logging.getLogger(__name__)


def scheduled_retraining(
    engine: sa.Engine,
    policy: CompiledPolicy,
    policy_file: Path | None,
    stop: threading.Event | None = None,
) -> threading.Thread | None:
    """A started daemon thread retraining every ``text.training.every``; None when the policy
    sets no schedule (or the 'text' extra is missing, which is logged)."""
    rules = rules_of_policy(policy.policy.text, policy_file)
    every = rules.training.every
    if every is None:
        return None
    try:
        from makegood.adapters.text.training import train_from_store
    except ImportError as exc:
        log.warning("text.training.every is set but the 'text' extra is missing: %s", exc)
        return None
    out = head_path(policy.policy.text, policy_file)
    stopping = stop or threading.Event()

    def run() -> None:
        while not stopping.wait(every.total_seconds()):
            try:
                result = train_from_store(engine, policy, rules, out, datetime.now(UTC))
            except (MakegoodError, OSError, sa.exc.SQLAlchemyError) as exc:
                log.warning("scheduled text training failed: %s", exc)
                continue
            log.info("scheduled text training: %s", result.summary().replace("\n", "; "))

    thread = threading.Thread(target=run, name="makegood-text-training", daemon=True)
    thread.start()
    log.info("text training every %s, head at %s", every, out)
    return thread
