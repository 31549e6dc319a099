"""Order to cash, first slice: an Amazon order becomes exactly one M3 customer order.

Read `amazon_order_changed` top to bottom: it is the use case. Each `@DBOS.step` is the only
place with I/O; DBOS checkpoints its result, so after a crash the workflow resumes after the last
completed step. A step that was running at the crash runs again, which is why the M3 write looks
the order up by its natural key (CUOR = Amazon order id) before creating it.

Steps never raise edge errors into the workflow: they return a `Failure` with a reason code, and
the workflow turns it into an incident. (Exceptions would have to survive pickling in the
engine's checkpoint table; plain values always do.)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from dbos import DBOS

from m3amazon.amazon.errors import AmazonApiError, AmazonTranslationError, NotFound
from m3amazon.bootstrap import runtime
from m3amazon.canonical import Order, OrderChanged, OrderStatus, masked
from m3amazon.flows import references
from m3amazon.m3.errors import MIError
from m3amazon.m3.orders import CustomerOrderPlan, EnsuredOrder, ensure_customer_order
from m3amazon.m3.translate import Translation, to_m3_order
from m3amazon.ops import metrics, trail
from m3amazon.ops.incidents import Incident, open_incident

log = logging.getLogger(__name__)

#: While Amazon still holds an order (payment not authorised), look again this often...
PENDING_RECHECK_S = 60.0
#: ...this many times before handing it to an operator.
PENDING_RECHECKS = 30


@dataclass(frozen=True)
class Failure:
    """A step could not do its job; `retryable` says whether retrying later may help."""

    reason_code: str
    message: str
    retryable: bool = False


@dataclass(frozen=True)
class OrderOutcome:
    amazon_order_id: str
    outcome: str  # created | existing | cancelled | incident
    m3_order_number: str | None = None
    reason: str | None = None


def workflow_id_for(order_id: str) -> str:
    """The idempotency key of an Amazon order's flow: a second start returns the first run."""
    return f"amazon-order:{order_id}"


@DBOS.workflow()
async def amazon_order_changed(event: OrderChanged) -> OrderOutcome:
    """Amazon order -> M3 customer order: fetch, wait for release, look up, translate, create, record."""
    order = await fetch_order(event.order_id, event.change_time, event.marketplace_id)
    for _ in range(PENDING_RECHECKS):
        if not _worth_waiting(order):
            break
        await DBOS.sleep_async(PENDING_RECHECK_S)  # not released yet, or Amazon briefly unavailable
        order = await fetch_order(event.order_id)  # as Amazon has it now
    if isinstance(order, Failure):
        return await report_incident(event, None, (order,))
    if order.status is OrderStatus.CANCELLED:
        return await record_outcome(order, OrderOutcome(order.order_id, "cancelled"))
    if not order.status.is_released:
        failure = Failure(
            "ORDER_NOT_RELEASED", f"Amazon still reports the order as {order.status.value}", True
        )
        return await report_incident(event, order, (failure,))

    translation = await plan_m3_order(order)  # customer and items in M3, then translate
    if isinstance(translation, Failure):
        return await report_incident(event, order, (translation,))
    if translation.problems:
        problems = tuple(Failure(p.reason_code, p.message) for p in translation.problems)
        return await report_incident(event, order, problems)
    assert translation.plan is not None
    m3_order = await ensure_m3_order(translation.plan)  # look up by CUOR, else create
    if isinstance(m3_order, Failure):
        return await report_incident(event, order, (m3_order,))
    outcome = "created" if m3_order.created else "existing"
    return await record_outcome(order, OrderOutcome(order.order_id, outcome, m3_order.order_number))


def _worth_waiting(order: Order | Failure) -> bool:
    if isinstance(order, Failure):
        return order.retryable
    return order.status in (OrderStatus.PENDING, OrderStatus.PENDING_AVAILABILITY)


# -- steps ----------------------------------------------------------------------------------


@DBOS.step()
async def fetch_order(
    order_id: str, changed_at: datetime | None = None, marketplace_id: str | None = None
) -> Order | Failure:
    """The canonical order, at least as new as the change at `changed_at` (None: as it is now).

    Read through the order source: getOrder, or a searchOrders page shared with other waiting
    orders when a backlog builds up (amazon/order_source.py).
    """
    try:
        return await runtime().orders.get(order_id, changed_at, marketplace_id)
    except NotFound:
        return Failure("AMAZON_ORDER_NOT_FOUND", f"Amazon does not know order {order_id}")
    except AmazonApiError as exc:
        return Failure("AMAZON_API_ERROR", f"getOrder {order_id} failed: {exc}", exc.retryable)
    except AmazonTranslationError as exc:
        # An order without prices is one Amazon has not released yet: worth waiting for.
        return Failure(
            exc.reason, f"order {order_id} cannot be read: {exc.message}", exc.reason == "MISSING_PRICE"
        )


@DBOS.step()
async def plan_m3_order(order: Order) -> Translation | Failure:
    """Look up the customer and the items in M3, then translate (pure) into batch-order records.

    One step, so the translation is checkpointed with the look-ups it used: a recovered workflow
    follows the same path even if the mapping file changed in between.
    """
    rt = runtime()
    try:
        refs = await references.resolve(order, rt.m3, rt.mappings)
    except MIError as exc:
        return Failure("M3_LOOKUP_FAILED", f"looking up customer and items failed: {exc}", exc.transient)
    return to_m3_order(order, refs, rt.mappings, rt.settings.m3)


@DBOS.step()
async def ensure_m3_order(plan: CustomerOrderPlan) -> EnsuredOrder | Failure:
    """OIS100MI batch order entry, idempotent on CUOR."""
    try:
        return await ensure_customer_order(runtime().m3, plan)
    except MIError as exc:
        code = "M3_UNAVAILABLE" if exc.transient else "M3_REJECTED_ORDER"
        return Failure(code, f"M3 did not create order {plan.cuor}: {exc}", exc.transient)


@DBOS.step()
async def report_incident(
    event: OrderChanged, order: Order | None, failures: tuple[Failure, ...]
) -> OrderOutcome:
    reasons = sorted({f.reason_code for f in failures})
    incident = Incident(
        key=f"{workflow_id_for(event.order_id)}:{'+'.join(reasons)}",
        category="order",
        reason_code=reasons[0] if len(reasons) == 1 else "MULTIPLE",
        message="; ".join(f.message for f in failures),
        subject=event.order_id,
        payload={
            "event": masked(event),
            "order": masked(order) if order else None,
            "problems": [f.__dict__ for f in failures],
        },
        actions=("retry", "discard")
        if any(f.retryable for f in failures)
        else ("fix mapping then retry", "discard"),
    )
    await asyncio.to_thread(open_incident, runtime().engine, incident)
    for reason in reasons:
        metrics.INCIDENTS.labels(category="order", reason=reason).inc()
    outcome = OrderOutcome(event.order_id, "incident", reason=incident.reason_code)
    await asyncio.to_thread(_record, order, event, outcome, incident.message)
    return outcome


@DBOS.step()
async def record_outcome(order: Order, outcome: OrderOutcome) -> OrderOutcome:
    await asyncio.to_thread(_record, order, None, outcome, None)
    return outcome


def _record(
    order: Order | None, event: OrderChanged | None, outcome: OrderOutcome, detail: str | None
) -> None:
    rt = runtime()
    trail.record(
        rt.engine,
        trail.TrailEntry(
            amazon_order_id=outcome.amazon_order_id,
            outcome=outcome.outcome,
            marketplace_id=order.marketplace_id if order else (event.marketplace_id if event else None),
            channel=order.channel.value if order else None,
            amazon_status=order.status.value if order else None,
            m3_customer=rt.mappings.customers.per_marketplace.get(order.marketplace_id) if order else None,
            m3_order_number=outcome.m3_order_number,
            workflow_id=workflow_id_for(outcome.amazon_order_id),
            detail=detail,
        ),
    )
    metrics.ORDERS.labels(outcome=outcome.outcome).inc()
    log.info("order %s: %s %s", outcome.amazon_order_id, outcome.outcome, outcome.m3_order_number or "")


__all__ = ["EnsuredOrder", "OrderOutcome", "amazon_order_changed", "workflow_id_for"]
