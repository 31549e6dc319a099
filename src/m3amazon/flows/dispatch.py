"""Hand canonical events to the durable engine, with their idempotency keys.

Intake (SQS today; the catch-up poll and ION later) calls these functions and nothing else of the
engine. A second event for the same key returns the first workflow: that is how re-delivered
notifications and the poll never create an order twice.
"""

from __future__ import annotations

from dbos import DBOS, SetWorkflowID

from m3amazon.bootstrap import ORDER_QUEUE
from m3amazon.canonical import OrderChanged
from m3amazon.flows.order_to_cash import amazon_order_changed, workflow_id_for

#: Amazon (v0 notification spelling) order statuses after which an order can be created in M3.
RELEASED_STATUSES = frozenset({"Unshipped", "PartiallyShipped", "Shipped"})


def wants_workflow(event: OrderChanged) -> bool:
    """Pending orders are not started: Amazon sends another notification when it releases them."""
    return event.reported_status is None or event.reported_status in RELEASED_STATUSES


async def submit_order_change(event: OrderChanged) -> str | None:
    """Durably enqueue the order's workflow; returns its id, or None when there is nothing to do yet."""
    if not wants_workflow(event):
        return None
    workflow_id = workflow_id_for(event.order_id)
    with SetWorkflowID(workflow_id):
        await DBOS.enqueue_workflow_async(ORDER_QUEUE, amazon_order_changed, event)
    return workflow_id
