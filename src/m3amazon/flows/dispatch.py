"""Hand canonical events to the durable engine, with their idempotency keys.

Intake (SQS today; the catch-up poll and ION later) calls these functions and nothing else of the
engine. A second event for the same key returns the first workflow: that is how re-delivered
notifications and the poll never create an order twice.
"""

from __future__ import annotations

import logging

from dbos import DBOS, SetWorkflowID, WorkflowHandleAsync

from m3amazon import bootstrap
from m3amazon.bootstrap import ORDER_QUEUE
from m3amazon.canonical import Order, OrderChanged
from m3amazon.flows.order_to_cash import amazon_order_changed, workflow_id_for

log = logging.getLogger(__name__)

#: Amazon (v0 notification spelling) order statuses after which an order can be created in M3.
RELEASED_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped"})


def wants_workflow(event: OrderChanged) -> bool:
    """Pending orders are not started: Amazon sends another notification when it releases them."""
    return event.reported_status is None or event.reported_status in RELEASED_STATUSES


async def submit_order_change(event: OrderChanged, *, order: Order | None = None) -> str | None:
    """Durably enqueue the order's workflow; returns its id, or None when there is nothing to do yet.

    `order`: the order as the caller just read it (the catch-up poll), so the workflow need not
    read it again.
    """
    if not wants_workflow(event):
        return None
    workflow_id = workflow_id_for(event.order_id)
    with SetWorkflowID(workflow_id):
        handle = await DBOS.enqueue_workflow_async(ORDER_QUEUE, amazon_order_changed, event)
    await _announce(handle, event, order)
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
