"""Order to cash: bring M3 in line with Amazon's current view of one order.

Read `amazon_order_changed` top to bottom: it is the use case. Every change Amazon announces
(a notification, the catch-up poll, an operator's retry) starts one run for the order, and each run
reconciles: it reads the order as Amazon has it *now*, looks up what the status table says to do
about that status, and makes M3 agree: create the customer order if it is missing, report the
deliveries Amazon made (FBA), close the lines of a cancelled order. Because each run looks at the
current state, events that arrive twice or out of order lead to the same M3 state; runs of one order
never overlap (the queue is partitioned by order id).

Each `@DBOS.step` is the only place with I/O; DBOS checkpoints its result, so after a crash the run
resumes after the last completed step, and every M3 write looks the current state up first.
Seller-fulfilled shipments and invoices travel the other way (M3 -> Amazon, M3 -> trail): see
flows/shipments.py and flows/invoicing.py.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from dbos import DBOS

from m3amazon.amazon.errors import AmazonApiError, AmazonTranslationError, NotFound
from m3amazon.bootstrap import runtime
from m3amazon.canonical import FulfillmentChannel, Order, OrderChanged, OrderStatus
from m3amazon.flows import references
from m3amazon.flows.outcomes import Failure, OrderOutcome
from m3amazon.flows.records import TRANSLATION_CATEGORIES, record_outcome, report_incident
from m3amazon.flows.transient import flow_step, until_settled
from m3amazon.m3 import lifecycle
from m3amazon.m3.errors import MIError
from m3amazon.m3.orders import CustomerOrderPlan, EnsuredOrder, ensure_customer_order
from m3amazon.m3.translate import Translation, to_m3_order
from m3amazon.mapping.status import Action, Rule

log = logging.getLogger(__name__)

#: While Amazon still holds an order (payment not authorised), look again this often...
PENDING_RECHECK_S = 60.0
#: ...this many times before handing it to an operator.
PENDING_RECHECKS = 30


@DBOS.workflow()
async def amazon_order_changed(event: OrderChanged) -> OrderOutcome:
    """Amazon order -> M3: read it, decide from the status table, create / deliver / cancel, record."""
    order = await fetch_order(event.order_id, event.change_time, event.marketplace_id)
    for _ in range(PENDING_RECHECKS):
        if not _worth_waiting(order):
            break
        await DBOS.sleep_async(PENDING_RECHECK_S)  # not released yet, or Amazon briefly unavailable
        order = await fetch_order(event.order_id)  # as Amazon has it now
    if isinstance(order, Failure):
        return await report_incident(event, None, (order,), event.order_id)

    rule = await decide(order)  # the status table, checkpointed with the order it was read for
    if rule.action is Action.WAIT:
        failure = Failure(
            "ORDER_NOT_RELEASED", f"Amazon still reports the order as {order.status.value}", True
        )
        return await report_incident(event, order, (failure,), order.order_id)
    if rule.action is Action.INCIDENT:
        failure = Failure("ORDER_UNFULFILLABLE", f"Amazon reports the order as {order.status.value}")
        return await report_incident(event, order, (failure,), order.order_id)
    if rule.action is Action.IGNORE:
        return await record_outcome(order, OrderOutcome(order.order_id, "ignored"), event)
    if rule.action is Action.CLOSE_OPEN_LINES:
        cancelled = await until_settled(partial(cancel_in_m3, order))  # close what M3 has not shipped
        if isinstance(cancelled, Failure):
            return await report_incident(event, order, (cancelled,), order.order_id)
        return await record_outcome(order, cancelled, event)

    translation = await until_settled(partial(plan_m3_order, order))  # customer and items in M3, translate
    if isinstance(translation, Failure):
        return await report_incident(event, order, (translation,), order.order_id)
    if translation.problems:
        problems = await explain_problems(order, translation)  # e.g. SKU suggestions
        return await report_incident(event, order, problems, order.order_id, TRANSLATION_CATEGORIES)
    assert translation.plan is not None
    m3_order = await until_settled(partial(ensure_m3_order, translation.plan))  # by CUOR, else create
    if isinstance(m3_order, Failure):
        return await report_incident(event, order, (m3_order,), order.order_id, TRANSLATION_CATEGORIES)
    outcome = OrderOutcome(
        order.order_id, "created" if m3_order.created else "existing", m3_order.order_number
    )

    if rule.action is Action.CREATE_AND_REPORT_DELIVERY:  # Amazon shipped it (FBA): M3 delivers
        delivered = await until_settled(partial(report_amazon_delivery, order, m3_order.order_number, rule))
        if isinstance(delivered, Failure):
            return await report_incident(event, order, (delivered,), order.order_id)
        outcome = delivered
    return await record_outcome(order, outcome, event)


def _worth_waiting(order: Order | Failure) -> bool:
    if isinstance(order, Failure):
        return order.retryable
    return order.status in (OrderStatus.PENDING, OrderStatus.PENDING_AVAILABILITY)


# -- steps ----------------------------------------------------------------------------------


@flow_step()
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


@flow_step()
async def decide(order: Order) -> Rule:
    """What the status table says to do for this status and fulfillment channel."""
    return runtime().mappings.status.rule_for(order.status, order.channel)


@flow_step()
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


@flow_step()
async def explain_problems(order: Order, translation: Translation) -> tuple[Failure, ...]:
    """The translation's problems as failures, with suggestions where an operator can use them."""
    titles = {line.sku: line.title for line in order.lines}
    failures = []
    for problem in translation.problems:
        details: dict[str, object] = {}
        if problem.reason_code == "UNKNOWN_SKU" and problem.subject:
            details["sku"] = problem.subject
            details["suggestions"] = await references.suggestions_for(
                problem.subject, titles.get(problem.subject)
            )
        failures.append(Failure(problem.reason_code, problem.message, details=details))
    return tuple(failures)


@flow_step()
async def ensure_m3_order(plan: CustomerOrderPlan) -> EnsuredOrder | Failure:
    """OIS100MI batch order entry, idempotent on CUOR."""
    try:
        return await ensure_customer_order(runtime().m3, plan)
    except lifecycle.BatchOrderRejected as exc:
        return Failure(
            "M3_BATCH_REJECTED",
            f"M3 rejected batch order for {plan.cuor}: {exc}",
            details={"batch_status": exc.batch_status, "m3_messages": exc.messages},
        )
    except MIError as exc:
        code = "M3_UNAVAILABLE" if exc.transient else "M3_REJECTED_ORDER"
        return Failure(code, f"M3 did not create order {plan.cuor}: {exc}", exc.transient)


@flow_step()
async def report_amazon_delivery(order: Order, m3_order_number: str, rule: Rule) -> OrderOutcome | Failure:
    """Amazon shipped (FBA): M3's delivered quantities become Amazon's shipped quantities."""
    shipped = {line.line_id: line.quantity_shipped for line in order.lines if line.quantity_shipped}
    try:
        result = await lifecycle.ensure_delivery_reported(
            runtime().m3, m3_order_number, shipped, shipped_at=order.updated_at
        )
    except MIError as exc:
        code = "M3_UNAVAILABLE" if exc.transient else "M3_REJECTED_ORDER"
        return Failure(code, f"M3 did not take the delivery of {order.order_id}: {exc}", exc.transient)
    status = result.lowest_status
    if rule.expect_m3_status and status and status < rule.expect_m3_status:
        return Failure(
            "M3_STATUS_MISMATCH",
            f"after reporting Amazon's delivery, M3 order {m3_order_number} is at status {status}, "
            f"not {rule.expect_m3_status}",
        )
    return OrderOutcome(
        order.order_id,
        "delivered",
        m3_order_number,
        detail=f"{sum(shipped.values())} item(s) delivered by Amazon",
    )


@flow_step()
async def cancel_in_m3(order: Order) -> OrderOutcome | Failure:
    """Close the M3 lines Amazon cancelled; a seller-fulfilled line M3 already shipped is an incident."""
    rt = runtime()
    try:
        found = await lifecycle.find_order_number(
            rt.m3, order.order_id, references.customer_for(order, rt.mappings)
        )
        if found is None:  # cancelled before it reached M3: nothing to undo
            return OrderOutcome(order.order_id, "cancelled", detail="cancelled before it reached M3")
        closed = await lifecycle.ensure_lines_closed(rt.m3, found)
    except MIError as exc:
        code = "M3_UNAVAILABLE" if exc.transient else "M3_REJECTED_ORDER"
        return Failure(code, f"M3 could not close the lines of {order.order_id}: {exc}", exc.transient)
    if closed.already_delivered and order.channel is FulfillmentChannel.MERCHANT:
        lines = ", ".join(str(p) for p in closed.already_delivered)
        return Failure(
            "CANCEL_AFTER_SHIP",
            f"Amazon cancelled order {order.order_id} but M3 order {found} already shipped line(s) "
            f"{lines}: stop or return the shipment",
            details={"m3_order_number": found},
        )
    return OrderOutcome(
        order.order_id, "cancelled", found, detail=f"{len(closed.closed)} line(s) closed in M3"
    )
