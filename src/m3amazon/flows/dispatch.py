"""Hand canonical events to the durable engine, with their idempotency keys.

Intake (SQS, the catch-up poll, ION's BODs) and the operators' retries call these functions and
nothing else of the engine.

Keys: an Amazon order change is identified by the order, the status Amazon reported and how many
items it reported shipped (`amazon-order:{id}:{status}:{shipped}`): the same change delivered twice,
or seen by both a notification and the poll, maps to one workflow, which DBOS returns instead of
running again; a partial shipment and the final one are different changes. All runs of one order
go through one partition of the order queue, so they never overlap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID, WorkflowHandleAsync

from m3amazon import bootstrap
from m3amazon.bootstrap import ORDER_QUEUE
from m3amazon.canonical import (
    FulfillmentChannel,
    InventoryPosition,
    Invoice,
    Order,
    OrderChanged,
    OrderStatus,
    Shipment,
)
from m3amazon.flows.inventory import record_balance_bod
from m3amazon.flows.invoicing import m3_invoice_reported
from m3amazon.flows.mcf import McfTrigger, note_mcf_invoice, submit_mcf_change
from m3amazon.flows.mcf_intake import NEW_ORDER_KEY
from m3amazon.flows.order_to_cash import amazon_order_changed
from m3amazon.flows.shipments import m3_shipment_reported
from m3amazon.m3.ion import bod
from m3amazon.m3.ion.inbox import StoredBod
from m3amazon.mapping.status import Action, StatusMapping, from_v0
from m3amazon.ops import mcf_trail

log = logging.getLogger(__name__)


def workflow_id_for(event: OrderChanged) -> str:
    status = from_v0(event.reported_status)
    return f"amazon-order:{event.order_id}:{status.value if status else 'ANY'}:{event.items_shipped or 0}"


def wants_workflow(event: OrderChanged, table: StatusMapping | None = None) -> bool:
    """False when the status table says to wait for this status (Amazon notifies again on release).

    `table`: the status table to ask; by default the running engine's (or the built-in default)."""
    status = from_v0(event.reported_status)
    if status is None:
        return True  # unknown or missing status: reconcile with what Amazon says now
    if table is None:
        table = bootstrap._runtime.mappings.status if bootstrap._runtime else StatusMapping()
    channels = [event.channel] if event.channel else list(FulfillmentChannel)
    return any(table.rule_for(status, channel).action is not Action.WAIT for channel in channels)


async def _enqueue(workflow_id: str, event: OrderChanged) -> WorkflowHandleAsync[object]:
    with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=event.order_id):
        return await DBOS.enqueue_workflow_async(ORDER_QUEUE, amazon_order_changed, event)


async def submit_order_change(event: OrderChanged, *, order: Order | None = None) -> str | None:
    """Durably enqueue the order's reconciliation; its workflow id, or None when there is nothing to do yet.

    `order`: the order as the caller just read it (the catch-up poll), so the workflow need not
    read it again.
    """
    if not wants_workflow(event):
        return None
    workflow_id = workflow_id_for(event)
    handle = await _enqueue(workflow_id, event)
    await _announce(handle, event, order)
    return workflow_id


async def retry_order(order_id: str, reason: str) -> str:
    """Reconcile the order again now (an operator fixed a mapping, M3 is back, ...).

    A new workflow id each time: a retry must run even if an identical change ran before.
    """
    event = OrderChanged(order_id=order_id, change_type="OperatorRetry", origin="retry")
    workflow_id = f"amazon-order:{order_id}:retry:{int(time.time() * 1000)}"
    await _enqueue(workflow_id, event)
    log.info("order %s retried (%s) as %s", order_id, reason, workflow_id)
    return workflow_id


#: Workflow states in which the order is still to be read.
_WAITING = frozenset({"ENQUEUED", "PENDING"})


async def _announce(handle: WorkflowHandleAsync[object], event: OrderChanged, order: Order | None) -> None:
    """Tell the order source a queued workflow will read this order: it keeps `order` for it, or a
    searchOrders page may fetch it ahead (amazon/order_source.py). Not for a finished workflow."""
    rt = bootstrap._runtime
    if rt is None or (order is None and event.change_time is None):
        return
    try:
        status = await handle.get_status()
    except Exception as exc:  # only an optimisation: the workflow reads its order itself
        log.debug("no announcement for order %s: %s", event.order_id, exc)
        return
    if status is None or status.status not in _WAITING:
        return
    if order is not None:
        rt.orders.offer(order)
    elif event.change_time is not None:
        rt.orders.expect(event.order_id, event.change_time, event.marketplace_id)


async def submit_bod(stored: StoredBod) -> bool:
    """Hand a stored BOD to its flow: SyncShipment and SyncInvoice of Amazon orders; SyncSalesOrder
    and the shipments and invoices of M3 orders Amazon ships from FBA (Multi-Channel Fulfillment).

    Returns False for nouns no flow takes yet (they stay "received" in the BOD inbox). Every
    document gets a workflow id from the BOD and the document, so a BOD handed over twice (ION
    delivered it again, or the endpoint's hand-over was retried) starts nothing new.
    """
    decoded = bod.decode(stored.payload.encode("utf-8"))
    taken = False
    for index, document in enumerate(decoded.documents):
        if await _taken_by_mcf(stored, index, document):
            taken = True
        elif isinstance(document, Shipment) and document.order_id:
            workflow_id = f"m3-shipment:{stored.bod_id}:{index}"
            with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=document.order_id):
                await DBOS.enqueue_workflow_async(ORDER_QUEUE, m3_shipment_reported, document)
            taken = True
        elif isinstance(document, Invoice) and document.order_id:
            workflow_id = f"m3-invoice:{document.invoice_number}"
            with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=document.order_id):
                await DBOS.enqueue_workflow_async(ORDER_QUEUE, m3_invoice_reported, document)
            taken = True
    if await _taken_by_inventory(decoded.documents):
        taken = True
    return taken


async def _taken_by_inventory(documents: Sequence[object]) -> bool:
    """SyncInventoryCount: M3 balances for the inventory sync (recorded when newer, then pushed)."""
    positions = [d for d in documents if isinstance(d, InventoryPosition) and d.source == "m3"]
    rt = bootstrap._runtime
    if not positions or rt is None or not rt.settings.inventory.enabled:
        return False
    return await record_balance_bod(positions)


async def _taken_by_mcf(stored: StoredBod, index: int, document: object) -> bool:
    """Multi-Channel Fulfillment's part of a BOD: an M3 sales order (created or changed) starts a
    reconcile of it; an invoice of an MCF order goes to its trail; M3's shipment of an MCF order is
    the echo of the delivery the MCF flow reported, so nothing is done with it."""
    rt = bootstrap._runtime
    if rt is None or not rt.settings.mcf.enabled:
        return False
    if isinstance(document, Order):
        if document.source != "m3":
            return False
        key = f"bod:{stored.bod_id}:{index}"
        if document.status is OrderStatus.UNSHIPPED:
            known = await asyncio.to_thread(mcf_trail.get, rt.engine, document.order_id)
            if known is None:
                key = NEW_ORDER_KEY  # a new order: the poll may find it first, one run for both
            elif known["outcome"] != "incident" and all(line.quantity for line in document.lines):
                return True  # no line closed: nothing that matters to an order Amazon already has
        await submit_mcf_change(McfTrigger(document.order_id, "bod"), key)
        return True
    if isinstance(document, Invoice) and document.seller_order_number:
        orno = await asyncio.to_thread(mcf_trail.order_number_for, rt.engine, document.seller_order_number)
        if orno is not None and document.seller_order_number == orno:
            await asyncio.to_thread(note_mcf_invoice, rt.engine, document, orno)
            return True
    if isinstance(document, Shipment) and document.order_id:
        return await asyncio.to_thread(mcf_trail.order_number_for, rt.engine, document.order_id) is not None
    return False
