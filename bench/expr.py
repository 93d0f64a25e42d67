"""Evaluations per second of three typical policy expressions (a figure, not a test).

.venv/bin/python bench/expr.py
"""

from __future__ import annotations

import timeit
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from makegood.domain.expr import compile_expr

CONTEXT = {
    "type": "survey.answered",
    "attributes": {"score": 2, "issue": "damaged", "promised_at": datetime(2024, 5, 1, tzinfo=UTC)},
    "lateness": timedelta(minutes=75),
    "order_value": Decimal("84.90"),
    "customer": {"tier": "silver", "lifetime_value": Decimal("620")},
    "cues": {"churn_threat": False},
}
EXPRESSIONS = [
    'type == "survey.answered" and attributes.score <= 2',
    'attributes.issue in ["missing", "damaged"] and lateness > 60m',
    "min(order_value * 0.10, 20)",
]


def main() -> None:
    for source in EXPRESSIONS:
        expr = compile_expr(source)
        runs, _ = timeit.Timer(lambda expr=expr: expr(CONTEXT)).autorange()
        best = min(timeit.repeat(lambda expr=expr: expr(CONTEXT), number=runs, repeat=5))
        rate = runs / best
        print(f"{rate:>12,.0f} evals/s  {1e6 / rate:6.2f} µs  {source}")


if __name__ == "__main__":
    main()
