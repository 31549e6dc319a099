"""Prometheus metrics. Labels carry categories and reason codes only, never order data or PII."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
