"""Multi-Channel Fulfillment: M3 orders of other channels shipped by Amazon from FBA stock.

Read `mcf_order_changed` top to bottom: it is the use case. Whatever announced a change (M3's
SyncSalesOrder BOD, the M3 poll, Amazon's FULFILLMENT_ORDER_STATUS notification, the Amazon
poll), one run reconciles the order: it reads the M3 order and Amazon's fulfillment order *now*
and makes them agree:

- an M3 order of an MCF order type or warehouse that Amazon does not know yet is planned (open
  lines -> seller SKUs through the MMS025MI aliases, delivery address), optionally previewed
  (getFulfillmentPreview) and created (createFulfillmentOrder, sellerFulfillmentOrderId = prefix +
  M3 order number; getFulfillmentOrder first, so a second run never creates a second order);
- what Amazon shipped is reported delivered in M3 with carrier and tracking (lines to 66; M3
  invoices them, and the SyncInvoice BOD lands on the order's trail: `note_mcf_invoice`);
- an order cancelled in M3 (every line closed or deleted) is cancelled at Amazon while Amazon still
  allows it (Received, Planning), else it is an incident: Amazon ships it anyway;
- Amazon could not ship everything (Unfulfillable, CompletePartialled, cancelled at Amazon): the
  M3 lines Amazon will not ship are closed and an incident says which and why.

Runs of one M3 order never overlap (the MCF queue is partitioned by order number), and every write
looks the current state up first, so duplicated or reordered triggers and a worker killed mid-run
lead to the same end state. Each `@DBOS.step` is the only place with I/O.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID
from sqlalchemy.engine import Engine

from m3amazon.amazon.api.fulfillment import FulfillmentApi
from m3amazon.amazon.errors import AmazonApiError, AmazonTranslationError, NotFound
from m3amazon.amazon.translate.fulfillment import preview_fees
from m3amazon.bootstrap import MCF_QUEUE, runtime
from m3amazon.canonical import (
    FulfillmentLineProgress,
    FulfillmentProgress,
    FulfillmentRequest,
    FulfillmentStatus,
    Invoice,
    ShippingSpeed,
)
from m3amazon.flows.outcomes import Failure
from m3amazon.flows.transient import flow_step
from m3amazon.m3 import lifecycle
from m3amazon.m3.errors import MIError
from m3amazon.m3.mcf_orders import (
    M3McfOrder,
    Problem,
    read_order,
    request_id_for,
    to_fulfillment_request,
    with_skus,
)
from m3amazon.ops import incidents, mcf_trail, metrics, trail
from m3amazon.ops.incidents import Incident

log = logging.getLogger(__name__)

#: Incident categories of this flow (docs/operations.md, "Multi-Channel Fulfillment").
CATEGORIES: dict[str, str] = {
    "MCF_NO_OPEN_LINES": "mcf_order_invalid",
    "MCF_NO_SKU": "mcf_order_invalid",
    "MCF_FRACTIONAL_QUANTITY": "mcf_order_invalid",
    "MCF_ADDRESS_INCOMPLETE": "mcf_order_invalid",
    "MCF_REFUSED": "mcf_order_invalid",
    "MCF_NOT_FULFILLABLE": "mcf_unfulfillable",
    "MCF_UNFULFILLABLE": "mcf_unfulfillable",
    "MCF_PARTIAL": "mcf_unfulfillable",
    "MCF_CANCELLED_AT_AMAZON": "mcf_unfulfillable",
    "MCF_CANCEL_TOO_LATE": "mcf_cancel",
    "MCF_PARTIAL_CANCEL": "mcf_cancel",
    "MCF_DELIVERY_REFUSED": "mcf_delivery",
    "M3_UNAVAILABLE": "m3_unavailable",
    "AMAZON_API_ERROR": "amazon_unavailable",
}
#: Statuses after which Amazon ships nothing more.
_DONE = frozenset(s for s in FulfillmentStatus if s.final)


@dataclass(frozen=True)
class McfTrigger:
    """Something says M3 order `orno` may have changed (here or at Amazon)."""

    orno: str
    #: bod | poll | notification | amazon-poll | retry
    origin: str
    amazon_status: str | None = None


@dataclass(frozen=True)
class McfOutcome:
    orno: str
    #: submitted | delivered | invoiced | cancelled | incident | ignored
    outcome: str
    request_id: str | None = None
    reason: str | None = None
    detail: str | None = None


# -- the use case -------------------------------------------------------------------------------


@DBOS.workflow()
async def mcf_order_changed(trigger: McfTrigger) -> McfOutcome:
    """M3 order -> Amazon ships it from FBA -> delivered in M3; cancellations and shortfalls."""
    order = await read_m3_order(trigger.orno)  # head, lines, address; None: not an MCF order
    if order is None:
        return McfOutcome(trigger.orno, "ignored", detail="not an MCF order type or warehouse")
    if isinstance(order, Failure):
        return await report_mcf_incident(trigger.orno, None, (order,))
    request_id = order_request_id(trigger.orno)
    progress = await fetch_progress(request_id)  # getFulfillmentOrder; None: Amazon does not know it
    if isinstance(progress, Failure):
        return await report_mcf_incident(trigger.orno, order, (progress,))

    if order.cancelled:  # every line closed or deleted in M3
        return await _cancel(order, progress)
    if progress is None:
        if not order.open_lines:
            return McfOutcome(trigger.orno, "ignored", request_id, detail="nothing left to ship")
        request = await plan_request(order)  # open lines, their SKUs (aliases), address
        if isinstance(request, Failure):
            return await report_mcf_incident(trigger.orno, order, (request,))
        if runtime().settings.mcf.preview:
            previewed = await preview_at_amazon(request)  # can Amazon ship it, at what fee?
            if isinstance(previewed, Failure):
                return await report_mcf_incident(trigger.orno, order, (previewed,))
        progress = await create_at_amazon(request, order.head.cuor)  # get first, create if unknown
        if isinstance(progress, Failure):
            return await report_mcf_incident(trigger.orno, order, (progress,))
    return await _follow(order, progress)


async def _follow(order: M3McfOrder, progress: FulfillmentProgress) -> McfOutcome:
    """Amazon has the order: bring M3 in line with what Amazon shipped, or could not ship."""
    orno = order.head.order_number
    m3_status = _m3_status(order)
    if progress.shipments:
        delivered = await report_delivery(order, progress)  # lines to 66, carrier and tracking
        if isinstance(delivered, Failure):
            return await report_mcf_incident(orno, order, (delivered,), progress)
        m3_status = delivered
    shortfall = _shortfall(order, progress)
    if shortfall is not None and shortfall.reason_code == "MCF_PARTIAL_CANCEL":
        return await report_mcf_incident(orno, order, (shortfall,), progress, m3_status=m3_status)
    if shortfall is not None:
        closed = await close_unshipped_lines(orno, shortfall.reason_code)  # M3 lines Amazon won't ship
        if isinstance(closed, Failure):
            return await report_mcf_incident(orno, order, (closed,), progress)
        return await report_mcf_incident(orno, order, (shortfall,), progress, m3_status=closed)
    if progress.status not in _DONE:
        return await record_mcf_outcome(orno, order, progress, "submitted", m3_status)
    outcome = "invoiced" if m3_status[:2] >= "77" else "delivered"
    return await record_mcf_outcome(orno, order, progress, outcome, m3_status)


async def _cancel(order: M3McfOrder, progress: FulfillmentProgress | None) -> McfOutcome:
    """Cancelled in M3: cancel at Amazon while it still allows it, else tell someone."""
    orno = order.head.order_number
    if progress is None:
        return await record_mcf_outcome(
            orno, order, None, "cancelled", detail="cancelled before Amazon had it"
        )
    if progress.status is FulfillmentStatus.CANCELLED:
        return await record_mcf_outcome(orno, order, progress, "cancelled", detail="cancelled at Amazon")
    if progress.status in (FulfillmentStatus.UNFULFILLABLE, FulfillmentStatus.INVALID):
        return await _follow(order, progress)  # Amazon ships nothing: its incident stands
    if progress.status.cancellable:
        cancelled = await cancel_at_amazon(progress.request_id)  # refused once Amazon is Processing
        if isinstance(cancelled, FulfillmentProgress):
            return await record_mcf_outcome(orno, order, cancelled, "cancelled", detail="cancelled at Amazon")
        if cancelled.retryable:  # Amazon unavailable: the poll tries again
            return await report_mcf_incident(orno, order, (cancelled,), progress)
        refreshed = await fetch_progress(progress.request_id)  # where Amazon got to meanwhile
        if isinstance(refreshed, FulfillmentProgress):
            progress = refreshed
    late = Failure(
        "MCF_CANCEL_TOO_LATE",
        f"M3 order {orno} was cancelled, but Amazon's fulfillment order {progress.request_id} is"
        f" already {progress.status.value} and can no longer be cancelled: it ships anyway; intercept"
        " it with Amazon support or book the return",
    )
    return await report_mcf_incident(orno, order, (late,), progress)


def _shortfall(order: M3McfOrder, progress: FulfillmentProgress) -> Failure | None:
    """What Amazon will not ship (and why), or None when it ships everything still asked for."""
    request_id, orno = progress.request_id, order.head.order_number
    short = [line for line in progress.lines if line.unfulfillable or line.cancelled]
    described = ", ".join(
        f"line {line.line_id} ({line.sku}): {line.unfulfillable or line.cancelled} of {line.quantity}"
        for line in short
    )
    status = progress.status
    if status in (FulfillmentStatus.UNFULFILLABLE, FulfillmentStatus.INVALID):
        return Failure(
            "MCF_UNFULFILLABLE",
            f"Amazon reports fulfillment order {request_id} as {status.value}: FBA does not have the stock"
            f" ({described or 'every line'}); the open lines of M3 order {orno} were closed - ship it from"
            " another warehouse or enter it again when FBA has stock",
        )
    if status is FulfillmentStatus.COMPLETE_PARTIALLED:
        return Failure(
            "MCF_PARTIAL",
            f"Amazon shipped fulfillment order {request_id} only in part ({described} not shipped);"
            f" M3 order {orno} was delivered for what shipped and the rest of its lines closed",
        )
    if status is FulfillmentStatus.CANCELLED:
        return Failure(
            "MCF_CANCELLED_AT_AMAZON",
            f"fulfillment order {request_id} was cancelled at Amazon (not in M3); the open lines of M3"
            f" order {orno} were closed",
        )
    if status not in _DONE:
        closed = {str(line.line_number) for line in order.lines if line.is_final and line.delivered == 0}
        still = [
            line.line_id
            for line in progress.lines
            if line.line_id in closed and line.quantity > line.cancelled
        ]
        if still:
            return Failure(
                "MCF_PARTIAL_CANCEL",
                f"line(s) {', '.join(still)} of M3 order {orno} were closed in M3, but Amazon cannot cancel"
                f" single lines of fulfillment order {request_id} ({status.value}): they ship anyway unless"
                " the whole order is cancelled in M3",
            )
    return None


def _m3_status(order: M3McfOrder) -> str:
    return f"{order.head.lowest_status}{order.head.highest_status}"


def order_request_id(orno: str) -> str:
    return request_id_for(orno, runtime().settings.mcf.request_id_prefix)


def order_number_of(request_id: str) -> str | None:
    """The M3 order number in one of our sellerFulfillmentOrderIds (None: not ours)."""
    prefix = runtime().settings.mcf.request_id_prefix
    return (
        request_id[len(prefix) :] if request_id.startswith(prefix) and len(request_id) > len(prefix) else None
    )


def is_mcf(order: M3McfOrder) -> bool:
    """An order of an MCF order type or warehouse, and not of an Amazon channel's own order type."""
    settings = runtime().settings
    amazon_types = {settings.m3.default_ortp, *(c.ortp for c in settings.m3.channels.values())}
    head = order.head
    if head.order_type in amazon_types:
        return False
    warehouses = {head.warehouse, *(line.warehouse for line in order.lines)}
    return head.order_type in settings.mcf.order_types or bool(warehouses & set(settings.mcf.warehouses))


# -- steps ----------------------------------------------------------------------------------------


def _m3_failure(exc: MIError, doing: str) -> Failure:
    if exc.transient:
        return Failure("M3_UNAVAILABLE", f"{doing} failed: {exc}", True)
    return Failure("MCF_DELIVERY_REFUSED", f"{doing}: M3 refused: {exc}")


def _amazon_failure(exc: AmazonApiError, doing: str) -> Failure:
    if exc.retryable:
        return Failure("AMAZON_API_ERROR", f"{doing} failed: {exc}", True)
    return Failure("MCF_REFUSED", f"{doing}: Amazon refused: {exc}")


@flow_step()
async def read_m3_order(orno: str) -> M3McfOrder | Failure | None:
    """The M3 order with its address and SKUs; None when it is not an MCF order."""
    try:
        order = await read_order(runtime().m3, orno)
    except MIError as exc:
        if exc.is_not_found:
            return None
        return Failure("M3_UNAVAILABLE", f"reading M3 order {orno} failed: {exc}", exc.transient)
    return order if is_mcf(order) else None


@flow_step()
async def fetch_progress(request_id: str) -> FulfillmentProgress | Failure | None:
    """The fulfillment order as Amazon has it now; None when Amazon does not know it."""
    return await _progress_of(request_id)


async def _progress_of(request_id: str) -> FulfillmentProgress | Failure | None:
    try:
        return await FulfillmentApi(runtime().amazon).progress(request_id)
    except NotFound:
        return None
    except AmazonTranslationError as exc:
        return Failure("MCF_REFUSED", f"fulfillment order {request_id} cannot be read: {exc.message}")
    except AmazonApiError as exc:
        return _amazon_failure(exc, f"getFulfillmentOrder {request_id}")


@flow_step()
async def plan_request(order: M3McfOrder) -> FulfillmentRequest | Failure:
    """The items' seller SKUs (MMS025MI aliases), then the fulfillment request for the order's open
    lines (pure), checkpointed with the settings it used."""
    rt = runtime()
    settings = rt.settings.mcf
    try:
        order = await with_skus(
            rt.m3,
            order,
            alias_category=rt.mappings.items.alias_category,
            alias_qualifier=rt.mappings.items.alias_qualifier,
        )
    except MIError as exc:
        return Failure(
            "M3_UNAVAILABLE",
            f"reading the aliases of M3 order {order.head.order_number}: {exc}",
            exc.transient,
        )
    planned = to_fulfillment_request(
        order, prefix=settings.request_id_prefix, speed=ShippingSpeed(settings.shipping_speed)
    )
    if isinstance(planned, Problem):
        return Failure(planned.reason_code, planned.message)
    return planned.model_copy(update={"policy": settings.fulfillment_policy})


def _marketplace() -> str | None:
    return runtime().settings.mcf.marketplace_id


@flow_step()
async def preview_at_amazon(request: FulfillmentRequest) -> str | Failure:
    """Amazon's preview at the configured speed: its fee estimate, or why it cannot ship."""
    try:
        previews = await FulfillmentApi(runtime().amazon).preview(request, marketplace_id=_marketplace())
    except AmazonTranslationError as exc:
        return Failure("MCF_ADDRESS_INCOMPLETE", f"M3 order {request.m3_order_number}: {exc.message}")
    except AmazonApiError as exc:
        return _amazon_failure(exc, f"getFulfillmentPreview for M3 order {request.m3_order_number}")
    chosen = next((p for p in previews if p.shipping_speed_category == request.speed.value), None)
    if chosen is None or not chosen.is_fulfillable:
        reasons = (
            sorted(
                {
                    f"{item.seller_sku}: {', '.join(item.item_unfulfillable_reasons or [])}"
                    for item in (chosen.unfulfillable_preview_items or [])
                    if chosen is not None
                }
            )
            if chosen is not None
            else []
        )
        return Failure(
            "MCF_NOT_FULFILLABLE",
            f"Amazon's preview says it cannot ship M3 order {request.m3_order_number} at"
            f" {request.speed.value} ({'; '.join(reasons) or 'no reason given'}); nothing was sent to"
            " Amazon and the M3 lines stay open: the M3 poll asks again until FBA has the stock, or"
            " change the order type in M3 to ship it from another warehouse",
            True,  # retried by the poll: it ships once FBA has the stock
        )
    fees = preview_fees(chosen)
    return str(fees) if fees is not None else ""


@flow_step()
async def create_at_amazon(request: FulfillmentRequest, cuor: str | None) -> FulfillmentProgress | Failure:
    """createFulfillmentOrder unless Amazon already has this sellerFulfillmentOrderId (looked up
    first: this step may run again after a crash that followed the create)."""
    now = datetime.now(UTC)
    existing = await _progress_of(request.request_id)
    if isinstance(existing, Failure):
        return existing
    created = existing is None
    if existing is None:
        try:
            await FulfillmentApi(runtime().amazon).create(
                request, ordered_at=now, marketplace_id=_marketplace()
            )
        except AmazonTranslationError as exc:
            return Failure("MCF_ADDRESS_INCOMPLETE", f"M3 order {request.m3_order_number}: {exc.message}")
        except AmazonApiError as exc:
            return _amazon_failure(exc, f"createFulfillmentOrder for M3 order {request.m3_order_number}")
    progress = existing or _received(request, now)
    entry = mcf_trail.McfEntry(
        request.m3_order_number,
        request.request_id,
        "submitted",
        cuor=cuor,
        amazon_status=progress.status.value,
        created_at_amazon=now if created else None,
        workflow_id=DBOS.workflow_id,
    )
    await asyncio.to_thread(
        _note,
        entry,
        "submitted",
        f"sent to Amazon as {request.request_id}" if created else f"Amazon already had {request.request_id}",
    )
    if created:
        metrics.ORDERS.labels(outcome="mcf_created").inc()
    return progress


def _received(request: FulfillmentRequest, now: datetime) -> FulfillmentProgress:
    """A fulfillment order Amazon has just accepted: Received, nothing shipped."""
    return FulfillmentProgress(
        request_id=request.request_id,
        status=FulfillmentStatus.RECEIVED,
        status_updated_at=now,
        lines=tuple(
            FulfillmentLineProgress(line_id=line.line_id, sku=line.sku, quantity=line.quantity)
            for line in request.lines
        ),
    )


def _note(entry: mcf_trail.McfEntry, kind: str, summary: str) -> None:
    engine = runtime().engine
    if entry.created_at_amazon is None and mcf_trail.get(engine, entry.m3_order_number) is None:
        # Amazon had it before the trail did (a run killed between create and record)
        entry = mcf_trail.McfEntry(**{**entry.__dict__, "created_at_amazon": datetime.now(UTC)})
    mcf_trail.record(engine, entry)
    trail.add_event(
        engine,
        entry.request_id,
        kind,
        summary,
        key=f"{kind}:{entry.request_id}",
        workflow_id=entry.workflow_id,
    )


@flow_step()
async def report_delivery(order: M3McfOrder, progress: FulfillmentProgress) -> str | Failure:
    """M3's delivered quantities brought up to what Amazon shipped; M3's statuses afterwards."""
    shipped: dict[str, Decimal] = {}
    for shipment in progress.shipments:
        for line in shipment.lines:
            if line.line_id:
                shipped[line.line_id] = shipped.get(line.line_id, Decimal(0)) + line.quantity
    latest = max(progress.shipments, key=lambda s: s.shipped_at)
    package = next((p for s in progress.shipments for p in s.packages if p.tracking_number), None)
    orno = order.head.order_number
    try:
        result = await lifecycle.ensure_delivery_reported(
            runtime().m3,
            orno,
            shipped,
            shipped_at=latest.shipped_at,
            carrier=package.carrier if package else None,
            tracking=package.tracking_number if package else None,
            by_line_number=True,
        )
    except MIError as exc:
        return _m3_failure(exc, f"reporting Amazon's shipment of M3 order {orno}")
    status = f"{result.lowest_status or ''}{result.highest_status or ''}"
    await asyncio.to_thread(mcf_trail.note_m3_status, runtime().engine, orno, status)
    if result.reported:
        summary = f"{sum(p.quantity for p in result.reported)} item(s) delivered in M3" + (
            f", {package.carrier} {package.tracking_number}" if package else ""
        )
        await asyncio.to_thread(
            trail.add_event,
            runtime().engine,
            progress.request_id,
            "delivered",
            summary,
            key=f"delivered:{latest.shipment_id}",
            workflow_id=DBOS.workflow_id,
        )
    return status


@flow_step()
async def close_unshipped_lines(orno: str, reason: str) -> str | Failure:
    """Close what Amazon will not ship (every undelivered line); M3's statuses afterwards."""
    rt = runtime()
    try:
        await lifecycle.ensure_lines_closed(rt.m3, orno)
        head = await lifecycle.get_order_head(rt.m3, orno)
    except MIError as exc:
        return _m3_failure(exc, f"closing the lines of M3 order {orno} ({reason})")
    status = f"{head.lowest_status}{head.highest_status}"
    await asyncio.to_thread(mcf_trail.note_m3_status, rt.engine, orno, status)
    return status


@flow_step()
async def cancel_at_amazon(request_id: str) -> FulfillmentProgress | Failure:
    api = FulfillmentApi(runtime().amazon)
    try:
        await api.cancel(request_id)
        return await api.progress(request_id)
    except AmazonTranslationError as exc:
        return Failure("MCF_REFUSED", f"fulfillment order {request_id}: {exc.message}")
    except AmazonApiError as exc:
        return _amazon_failure(exc, f"cancelFulfillmentOrder {request_id}")


@flow_step()
async def record_mcf_outcome(
    orno: str,
    order: M3McfOrder,
    progress: FulfillmentProgress | None,
    outcome: str,
    m3_status: str | None = None,
    detail: str | None = None,
) -> McfOutcome:
    """The outcome on the MCF trail and the timeline; settles the order's open MCF incidents."""
    request_id = order_request_id(orno)
    package = next((p for s in (progress.shipments if progress else ()) for p in s.packages), None)
    entry = mcf_trail.McfEntry(
        orno,
        request_id,
        outcome,
        cuor=order.head.cuor,
        amazon_status=progress.status.value if progress else None,
        m3_status=m3_status or _m3_status(order),
        carrier=package.carrier if package else None,
        tracking_number=package.tracking_number if package else None,
        workflow_id=DBOS.workflow_id,
        detail=detail,
    )

    def write() -> None:
        engine = runtime().engine
        mcf_trail.record(engine, entry)
        trail.add_event(
            engine,
            request_id,
            outcome,
            f"{outcome} (M3 order {orno})" + (f": {detail}" if detail else ""),
            key=f"outcome:{outcome}",
            workflow_id=DBOS.workflow_id,
        )
        incidents.resolve_categories(
            engine, orno, set(CATEGORIES.values()), f"{outcome} by {DBOS.workflow_id}"
        )

    await asyncio.to_thread(write)
    metrics.ORDERS.labels(outcome=f"mcf_{outcome}").inc()
    log.info("MCF order %s: %s", orno, outcome)
    return McfOutcome(orno, outcome, request_id, detail=detail)


@flow_step()
async def report_mcf_incident(
    orno: str,
    order: M3McfOrder | None,
    failures: tuple[Failure, ...],
    progress: FulfillmentProgress | None = None,
    m3_status: str | None = None,
) -> McfOutcome:
    """One incident per category, with the M3 order and Amazon's view as payload (address masked)."""
    request_id = order_request_id(orno)
    failure = failures[0]
    category = CATEGORIES.get(failure.reason_code, "mcf_other")
    payload = {
        "m3_order": order.model_dump(mode="json", exclude={"ship_to"}) if order else None,
        "fulfillment_order": progress.model_dump(mode="json") if progress else None,
        "problems": [
            {"reason_code": f.reason_code, "message": f.message, "retryable": f.retryable} for f in failures
        ],
    }
    incident = Incident(
        key=f"mcf:{orno}:{category}",
        category=category,
        reason_code=failure.reason_code,
        message="; ".join(f.message for f in failures),
        subject=orno,
        payload=payload,
        actions=("fix the cause, then discard with a reason",)
        if not failure.retryable
        else ("wait: the poll retries",),
    )
    entry = mcf_trail.McfEntry(
        orno,
        request_id,
        "incident",
        cuor=order.head.cuor if order else None,
        amazon_status=progress.status.value if progress else None,
        m3_status=m3_status or (_m3_status(order) if order else None),
        retryable=failure.retryable,
        workflow_id=DBOS.workflow_id,
        detail=f"{failure.reason_code}: {failure.message}",
    )

    def write() -> None:
        engine = runtime().engine
        incidents.open_incident(engine, incident)
        mcf_trail.record(engine, entry)
        trail.add_event(
            engine,
            request_id,
            "incident",
            f"{failure.reason_code}: {failure.message}",
            key=f"incident:{failure.reason_code}",
            workflow_id=DBOS.workflow_id,
        )

    await asyncio.to_thread(write)
    metrics.INCIDENTS.labels(category=category, reason=failure.reason_code).inc()
    return McfOutcome(orno, "incident", request_id, reason=failure.reason_code, detail=failure.message)


# -- invoices of MCF orders ------------------------------------------------------------------------


def note_mcf_invoice(engine: Engine, invoice: Invoice, orno: str) -> None:
    """M3 invoiced an MCF order: the invoice on its timeline and trail; a delivered order is then
    `invoiced` (M3's prices are its own: there is nothing at Amazon to compare them with). No
    workflow: two idempotent writes, done where the SyncInvoice BOD is taken."""
    request_id = order_request_id(orno)
    trail.add_event(
        engine,
        request_id,
        "invoiced",
        f"M3 invoice {invoice.invoice_number}: net {invoice.net_total}, total {invoice.total}",
        key=f"invoice:{invoice.invoice_number}",
    )
    mcf_trail.set_invoiced(engine, orno, str(invoice.total.amount))


# -- handing triggers to the engine ---------------------------------------------------------------


async def submit_mcf_change(trigger: McfTrigger, key: str) -> str:
    """Durably enqueue a reconcile of the order; `key` identifies the trigger (the same trigger
    delivered twice maps to the same workflow, which DBOS does not start again)."""
    workflow_id = f"mcf:{trigger.orno}:{key}"
    with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=trigger.orno):
        await DBOS.enqueue_workflow_async(MCF_QUEUE, mcf_order_changed, trigger)
    return workflow_id
