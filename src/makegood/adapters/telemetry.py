"""The Prometheus metrics of one application, through `prometheus_client`.

Each application has its own `CollectorRegistry` (never the process-wide default: tests build
many applications in one process). Counters and histograms are observed where things happen
(the HTTP middleware, the event intake, the engine through `EngineObserver`); the gauges are
read from the store at scrape time by `StoreCollector`, so they are never stale and cost a few
cheap counts per scrape. Every name is listed in docs/API.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from makegood.adapters.sql.gauges import read_gauges
from makegood.service_layer.observer import BatchFigures
from makegood.service_layer.ports import Clock

log = logging.getLogger(__name__)
MINUTE, HOUR = 60.0, 3600.0
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LATENCY_BUCKETS = (1, 10, MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 4 * HOUR, 24 * HOUR)
FIRST_MESSAGE_BUCKETS = (0.5, 5, MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 4 * HOUR, 24 * HOUR)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class Telemetry:
    """The metrics of one application; also the engine's `EngineObserver`."""

    def __init__(self, engine: sa.Engine, clock: Clock, budget_per_day: Decimal) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.responses = Counter(
            "makegood_http_responses",
            "HTTP responses by method, route template and status class (5xx included)",
            ["method", "route", "status_class"],
            registry=r,
        )
        self.events_accepted = Counter(
            "makegood_events_accepted", "Events accepted (new) through the API", registry=r
        )
        self.events_duplicate = Counter(
            "makegood_events_duplicate", "Events already known (idempotent repeats)", registry=r
        )
        self.events_rejected = Counter(
            "makegood_events_rejected", "Events refused and quarantined", registry=r
        )
        self.signature_refused = Counter(
            "makegood_source_signature_refused",
            "Webhook source requests refused for their signature or token",
            registry=r,
        )
        self.failures = Counter(
            "makegood_failures_recorded", "Failures recorded by the engine", registry=r
        )
        self.batch = Histogram(
            "makegood_engine_batch_seconds",
            "Time of one engine batch (events and timers in one transaction)",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.detection = Histogram(
            "makegood_detection_latency_seconds",
            "Deadline failures: from the deadline to the failure recorded",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.first_message = Histogram(
            "makegood_time_to_first_message_seconds",
            "From a case opened to its first message to the customer queued",
            buckets=FIRST_MESSAGE_BUCKETS,
            registry=r,
        )
        r.register(StoreCollector(engine, clock, budget_per_day))

    def response(self, method: str, route: str, status: int) -> None:
        self.responses.labels(method, route, status_class(status)).inc()

    def events(self, accepted: int, duplicates: int, rejected: int) -> None:
        self.events_accepted.inc(accepted)
        self.events_duplicate.inc(duplicates)
        self.events_rejected.inc(rejected)

    def batch_done(self, seconds: float, figures: BatchFigures) -> None:
        self.batch.observe(seconds)
        self.failures.inc(figures.failures)
        for value in figures.detection_s:
            self.detection.observe(max(value, 0.0))
        for value in figures.first_message_s:
            self.first_message.observe(max(value, 0.0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Gauges read from the store when Prometheus scrapes."""

    def __init__(self, engine: sa.Engine, clock: Clock, budget_per_day: Decimal) -> None:
        self.engine = engine
        self.clock = clock
        self.budget_per_day = budget_per_day

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("makegood_store_up", "1 if the store answered this scrape")
        try:
            with self.engine.connect() as conn:
                g = read_gauges(conn, self.clock.now().date())
        except sa.exc.SQLAlchemyError:
            log.exception("metrics: the store did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        cases = GaugeMetricFamily("makegood_cases", "Cases by state", labels=["state"])
        for state, n in sorted(g.cases.items()):
            cases.add_metric([state], n)
        yield cases
        yield GaugeMetricFamily(
            "makegood_cases_waiting_for_a_person",
            "Open cases waiting for a person (the queue)",
            value=g.waiting,
        )
        yield GaugeMetricFamily(
            "makegood_approvals_pending",
            "Compensations waiting for an approval",
            value=g.approvals_pending,
        )
        outbox = GaugeMetricFamily(
            "makegood_outbox_messages", "Outbox messages by status", labels=["status"]
        )
        for status, n in sorted(g.outbox.items()):
            outbox.add_metric([status], n)
        yield outbox
        yield GaugeMetricFamily("makegood_timers_armed", "Timers armed", value=g.timers)
        yield GaugeMetricFamily(
            "makegood_budget_spent_today",
            "Compensation granted today against the global daily budget (UTC day)",
            value=float(g.spent_today),
        )
        yield GaugeMetricFamily(
            "makegood_budget_left_today",
            "What the global daily budget has left today (UTC day)",
            value=float(max(self.budget_per_day - g.spent_today, Decimal(0))),
        )
