"""Steps every order flow ends with: record the outcome on the trail, or open incidents.

Both are idempotent (an upsert, keyed timeline entries, incidents keyed by order and category), so
a step that runs again after a crash changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from dbos import DBOS

from m3amazon.bootstrap import runtime
from m3amazon.canonical import Order, OrderChanged, masked
from m3amazon.flows.outcomes import ORDER_FLOW_CATEGORIES, Failure, OrderOutcome, actions_for
from m3amazon.flows.transient import flow_step
from m3amazon.ops import incidents, metrics, trail
from m3amazon.ops.alerts import Alert, Severity
from m3amazon.ops.incidents import Incident

log = logging.getLogger(__name__)


def _workflow_id() -> str | None:
    return DBOS.workflow_id


@flow_step()
async def record_outcome(
    order: Order | None,
    outcome: OrderOutcome,
    event: OrderChanged | None = None,
    resolves: frozenset[str] = ORDER_FLOW_CATEGORIES,
) -> OrderOutcome:
    """The order's outcome on the trail and its timeline; the success settles the order's open
    incidents in `resolves` (the kinds of trouble this flow could have had)."""
    workflow_id = _workflow_id()
    await asyncio.to_thread(_write_outcome, order, event, outcome, workflow_id, resolves)
    metrics.ORDERS.labels(outcome=outcome.outcome).inc()
    if event is not None and event.event_time is not None:
        changed = event.event_time if event.event_time.tzinfo else event.event_time.replace(tzinfo=UTC)
        since = (datetime.now(UTC) - changed).total_seconds()
        metrics.FLOW_SECONDS.labels(outcome=outcome.outcome).observe(max(0.0, since))
    log.info("order %s: %s %s", outcome.amazon_order_id, outcome.outcome, outcome.m3_order_number or "")
    return outcome


#: Categories a run re-checks whenever it gets as far as translating the order: when such a run
#: fails for other reasons, the earlier incidents in these categories are settled.
TRANSLATION_CATEGORIES = frozenset({"sku_unknown", "address_invalid", "mapping", "order_invalid"})


@flow_step()
async def report_incident(
    event: OrderChanged | None,
    order: Order | None,
    failures: tuple[Failure, ...],
    order_id: str,
    rechecked: frozenset[str] = frozenset(),
) -> OrderOutcome:
    """One incident per category of failure, with the payload (personal data masked).

    `rechecked`: categories this run checked again; their open incidents that did not recur are
    resolved (e.g. the SKU an operator mapped is fine now, only the address is still wrong)."""
    rt = runtime()
    by_category: dict[str, list[Failure]] = {}
    for failure in failures:
        by_category.setdefault(failure.category, []).append(failure)
    for category, group in sorted(by_category.items()):
        reasons = sorted({f.reason_code for f in group})
        incident = Incident(
            key=f"order:{order_id}:{category}",
            category=category,
            reason_code=reasons[0] if len(reasons) == 1 else "+".join(reasons),
            message="; ".join(f.message for f in group),
            subject=order_id,
            payload=_payload(event, order, group),
            actions=actions_for(tuple(group)),
        )
        incident_id = await asyncio.to_thread(incidents.open_incident, rt.engine, incident)
        for reason in reasons:
            metrics.INCIDENTS.labels(category=category, reason=reason).inc()
        # People hear of it through the alert routes (ops/alerts.py: grouped per category and window).
        rt.alerter.raise_alert(
            Alert(
                category,
                Severity.WARNING,
                f"{category}: order {order_id} needs an operator",
                body=incident.message,
                key=f"incident:{incident_id}",
                subject=order_id,
            )
        )
    settled = set(rechecked) - set(by_category)
    if settled:
        await asyncio.to_thread(
            incidents.resolve_categories,
            rt.engine,
            order_id,
            settled,
            f"no longer the case in {_workflow_id()}",
        )
    summary = "; ".join(f.message for f in failures)
    outcome = OrderOutcome(order_id, "incident", reason=failures[0].reason_code, detail=summary)
    await asyncio.to_thread(_write_outcome, order, event, outcome, _workflow_id(), frozenset())
    metrics.ORDERS.labels(outcome="incident").inc()
    return outcome


def _payload(event: OrderChanged | None, order: Order | None, failures: list[Failure]) -> dict[str, Any]:
    return {
        "event": masked(event) if event else None,
        "order": masked(order) if order else None,
        "problems": [
            {"reason_code": f.reason_code, "message": f.message, "retryable": f.retryable, **f.details}
            for f in failures
        ],
    }


def _write_outcome(
    order: Order | None,
    event: OrderChanged | None,
    outcome: OrderOutcome,
    workflow_id: str | None,
    resolves: frozenset[str],
) -> None:
    rt = runtime()
    order_id = outcome.amazon_order_id
    trail.record(
        rt.engine,
        trail.TrailEntry(
            amazon_order_id=order_id,
            outcome=outcome.outcome,
            marketplace_id=order.marketplace_id if order else (event.marketplace_id if event else None),
            channel=order.channel.value if order else None,
            amazon_status=order.status.value if order else None,
            m3_order_number=outcome.m3_order_number,
            workflow_id=workflow_id,
            detail=outcome.detail,
            currency=order.currency if order else None,
            goods_total=str(order.goods_total.amount) if order else None,
            order_total=str(order.order_total.amount) if order and order.order_total else None,
        ),
    )
    if event is not None:
        status = event.reported_status or "?"
        trail.add_event(
            rt.engine,
            order_id,
            "received",
            f"{event.origin}: {status}" + (f", {event.items_shipped} shipped" if event.items_shipped else ""),
            key=f"received:{event.notification_id or workflow_id}",
            workflow_id=workflow_id,
        )
    summary = outcome.outcome + (f" M3 {outcome.m3_order_number}" if outcome.m3_order_number else "")
    if outcome.detail:
        summary += f": {outcome.detail}"
    trail.add_event(
        rt.engine,
        order_id,
        outcome.outcome,
        summary,
        key=f"outcome:{workflow_id}:{outcome.outcome}",
        detail=json.dumps({"reason": outcome.reason}) if outcome.reason else None,
        workflow_id=workflow_id,
    )
    if outcome.outcome != "incident":
        resolved = incidents.resolve_categories(
            rt.engine, order_id, set(resolves), f"{outcome.outcome} by {workflow_id}"
        )
        if resolved:
            trail.add_event(
                rt.engine,
                order_id,
                "resolved",
                f"{resolved} incident(s) resolved",
                key=f"resolved:{workflow_id}",
                workflow_id=workflow_id,
            )
