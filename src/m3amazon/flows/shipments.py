"""Seller-fulfilled shipments: M3 shipped an Amazon order, so Amazon must hear about it.

The seller's warehouse ships from M3; M3 reports the delivery (a SyncShipment BOD through ION).
This flow confirms it on Amazon (Orders v0 confirmShipment) with the carrier, the tracking number
and the items, matched to Amazon's order items through the line CUOR the order flow wrote (the
Amazon orderItemId). Partial shipments are confirmed as they come. The confirmation is idempotent:
Amazon's packages are read first, and a tracking number Amazon already has is not sent again.

Shipments of orders Amazon fulfilled itself (FBA) are M3's echo of the deliveries the order flow
reported; they are recorded and not sent back.
"""

from __future__ import annotations

from functools import partial

from dbos import DBOS

from m3amazon.amazon.api.orders_v0 import OrdersV0Api
from m3amazon.amazon.errors import AmazonApiError, AmazonTranslationError
from m3amazon.bootstrap import runtime
from m3amazon.canonical import FulfillmentChannel, Order, OrderStatus, Shipment, ShipmentLine
from m3amazon.flows.order_to_cash import fetch_order
from m3amazon.flows.outcomes import SHIPMENT_CATEGORIES, Failure, OrderOutcome
from m3amazon.flows.records import record_outcome, report_incident
from m3amazon.flows.transient import flow_step, until_settled
from m3amazon.m3 import lifecycle
from m3amazon.m3.errors import MIError


@DBOS.workflow()
async def m3_shipment_reported(shipment: Shipment) -> OrderOutcome:
    """M3 shipped -> match the lines to Amazon's items -> confirm the package on Amazon -> record."""
    order = await fetch_order(shipment.order_id)  # as Amazon has it now
    if isinstance(order, Failure):
        return await report_incident(None, None, (order,), shipment.order_id)
    if order.channel is FulfillmentChannel.AMAZON:  # Amazon shipped it; this is M3's echo of that
        fba = OrderOutcome(order.order_id, "delivered", detail="FBA shipment recorded")
        return await record_outcome(order, fba, None, frozenset())
    if order.status is OrderStatus.CANCELLED:
        failure = Failure(
            "CANCEL_AFTER_SHIP",
            f"M3 shipped {shipment.shipment_id} for order {order.order_id}, "
            "which Amazon reports as cancelled: stop or return the shipment",
        )
        return await report_incident(None, order, (failure,), order.order_id)

    matched = await until_settled(partial(match_to_amazon_items, order, shipment))  # M3 lines -> item ids
    if isinstance(matched, Failure):
        return await report_incident(None, order, (matched,), order.order_id)
    confirmed = await until_settled(partial(confirm_on_amazon, order, matched))  # unless Amazon has it
    if isinstance(confirmed, Failure):
        return await report_incident(None, order, (confirmed,), order.order_id)
    return await record_outcome(order, confirmed, None, SHIPMENT_CATEGORIES)


@flow_step()
async def match_to_amazon_items(order: Order, shipment: Shipment) -> Shipment | Failure:
    """The shipment with every line's `line_id` set to Amazon's orderItemId (from M3's line CUOR)."""
    amazon_items = {line.line_id for line in order.lines}
    by_sku = {line.sku: line.line_id for line in order.lines}
    m3_lines: dict[str, str] = {}
    if any(line.line_id not in amazon_items for line in shipment.lines):
        try:
            orno = await lifecycle.find_order_number(runtime().m3, order.order_id, None)
            if orno:
                m3_lines = {
                    str(int(m3_line.line_number)): m3_line.amazon_item_id
                    for m3_line in await lifecycle.get_order_lines(runtime().m3, orno)
                    if m3_line.amazon_item_id
                }
        except MIError as exc:
            return Failure(
                "M3_UNAVAILABLE" if exc.transient else "M3_REJECTED_ORDER",
                f"reading the lines of the M3 order of {order.order_id} failed: {exc}",
                exc.transient,
            )
    lines = []
    for line in shipment.lines:
        item_id = line.line_id if line.line_id in amazon_items else None
        if item_id is None and line.line_id and line.line_id.lstrip("0") in m3_lines:
            item_id = m3_lines[line.line_id.lstrip("0")]
        if item_id is None:
            item_id = by_sku.get(line.sku)
        if item_id is None:
            return Failure(
                "SHIPMENT_UNMATCHED",
                f"M3 shipment {shipment.shipment_id} has a line ({line.sku}) that order "
                f"{order.order_id} does not have on Amazon",
            )
        lines.append(
            ShipmentLine(line_id=item_id, sku=line.sku, quantity=line.quantity, item_number=line.item_number)
        )
    return shipment.model_copy(update={"lines": tuple(lines), "packages": shipment.packages[:1]})


@flow_step()
async def confirm_on_amazon(order: Order, shipment: Shipment) -> OrderOutcome | Failure:
    api = OrdersV0Api(runtime().amazon)
    try:
        outcome = await api.ensure_confirmed(shipment, order.marketplace_id)
    except AmazonTranslationError as exc:
        return Failure(
            exc.reason, f"shipment {shipment.shipment_id} cannot be confirmed on Amazon: {exc.message}"
        )
    except AmazonApiError as exc:
        return Failure(
            "SHIPMENT_NOT_CONFIRMED", f"confirmShipment for {order.order_id} failed: {exc}", exc.retryable
        )
    items = sum(line.quantity for line in shipment.lines)
    detail = (
        f"{items} item(s) confirmed on Amazon, tracking {outcome.tracking_number}"
        if outcome.confirmed_now
        else f"Amazon already had tracking {outcome.tracking_number}"
    )
    return OrderOutcome(order.order_id, "shipped", detail=detail)
