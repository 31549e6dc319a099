"""Prometheus metrics. Labels carry categories and reason codes only, never order data or PII.

Counters and histograms are updated where things happen; the gauges of the last section are set
at scrape time (`refresh`, called by GET /metrics) and the edges' own counters are read by
`RuntimeCollector`, so /metrics always tells the state of now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from m3amazon.bootstrap import Runtime

ORDERS = Counter("m3amazon_orders_total", "Amazon orders finished by the order flow, by outcome", ["outcome"])
INCIDENTS = Counter(
    "m3amazon_incidents_total", "Incidents opened, by category and reason", ["category", "reason"]
)
NOTIFICATIONS = Counter(
    "m3amazon_notifications_total",
    "SP-API notifications taken from SQS, by type and result",
    ["type", "result"],
)
INTAKE_BATCH_SECONDS = Histogram(
    "m3amazon_intake_batch_seconds", "Time to take one SQS batch and hand it to the engine"
)
FLOW_SECONDS = Histogram(
    "m3amazon_order_flow_seconds",
    "From Amazon's change of an order (the notification's event time) to the order flow's outcome",
    ["outcome"],
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600),
)

# -- read at scrape time (set by `refresh`, from the worker's live state and the database) ----------

GOVERNOR_TOKENS = Gauge(
    "m3amazon_governor_tokens",
    "SP-API rate governor: tokens available now per operation (requests that would go out at once)",
    ["seller", "operation"],
)
GOVERNOR_WAITING = Gauge(
    "m3amazon_governor_waiting", "SP-API calls of this worker waiting for a governor token", ["operation"]
)
QUEUE_DEPTH = Gauge(
    "m3amazon_queue_depth",
    "Workflows waiting (ENQUEUED) or running (PENDING) per engine queue",
    ["queue", "status"],
)
OPEN_INCIDENTS = Gauge("m3amazon_incidents_open", "Incidents open or retrying, by category", ["category"])


class RuntimeCollector(Collector):
    """Counters the edges keep themselves (SP-API calls and 429s, M3 calls and retries), as metrics."""

    _installed: RuntimeCollector | None = None

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @classmethod
    def install(cls, rt: Runtime) -> None:
        """Register for this worker's runtime (replacing the one of an earlier runtime in the process)."""
        if cls._installed is not None:
            REGISTRY.unregister(cls._installed)
        cls._installed = cls(rt)
        REGISTRY.register(cls._installed)

    def collect(self) -> Iterator[Metric]:
        stats = self.rt.amazon.stats
        for name, helptext, values in (
            ("m3amazon_sp_api_calls", "SP-API calls sent, by operation", stats.calls),
            ("m3amazon_sp_api_throttled", "SP-API answers 429 (throttled), by operation", stats.throttled),
            ("m3amazon_sp_api_server_errors", "SP-API answers 5xx, by operation", stats.server_errors),
        ):
            family = CounterMetricFamily(name, helptext, labels=["operation"])
            for operation, count in sorted(values.items()):
                family.add_metric([operation], count)
            yield family
        m3 = self.rt.m3.stats
        for name, helptext, value in (
            ("m3amazon_m3_round_trips", "HTTP calls to the M3 MI API", m3.round_trips),
            ("m3amazon_m3_transactions", "MI transactions sent to M3", m3.transactions),
            ("m3amazon_m3_errors", "M3 calls failed on transport or 5xx and repeated", m3.retries),
        ):
            yield CounterMetricFamily(name, helptext, value=value)


async def refresh(rt: Runtime) -> None:
    """Set the scrape-time gauges from the worker's governor and the database."""
    from m3amazon.ops import dashboard

    views = await rt.amazon.governor.headroom()
    GOVERNOR_TOKENS.clear()
    GOVERNOR_WAITING.clear()
    waiting: dict[str, int] = {}
    for view in views:
        GOVERNOR_TOKENS.labels(seller=view.seller_id, operation=view.operation).set(view.tokens)
        waiting[view.operation] = waiting.get(view.operation, 0) + view.waiting
    for operation, count in waiting.items():
        GOVERNOR_WAITING.labels(operation=operation).set(count)
    backlog = await asyncio.to_thread(dashboard.backlog_per_queue, rt.engine)
    QUEUE_DEPTH.clear()
    for queue, counts in backlog.items():
        for status, count in counts.items():
            QUEUE_DEPTH.labels(queue=queue or "none", status=status).set(count)
    open_counts = await asyncio.to_thread(dashboard.open_incident_counts, rt.engine)
    OPEN_INCIDENTS.clear()
    for category, count in open_counts.items():
        OPEN_INCIDENTS.labels(category=category).set(count)
