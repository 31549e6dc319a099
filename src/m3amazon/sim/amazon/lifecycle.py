"""What happens in the simulated seller account over time, across its parts.

One tick of the simulated clock (`advance`, driven by POST /_sim/tick or the background ticker)
moves everything one step, as Amazon's own processes would:
- AFN orders: Pending -> Unshipped (Amazon creates the FBA shipment) -> Shipped by Amazon (stock
  leaves the fulfillment centre, the sale is posted to the finance ledger);
- MFN orders: Pending -> Unshipped; they ship when the seller calls confirmShipment. A buyer's
  cancellation request on an MFN order that is still unshipped is granted on the next tick (the
  seller accepts it in Seller Central, which has no SP-API operation);
- MCF orders: Received -> Planning -> Processing -> Complete (see mcf.py);
- feeds and requested reports: IN_QUEUE -> IN_PROGRESS -> DONE.
Each change queues the notifications Amazon would send (ORDER_CHANGE, FBA_OUTBOUND_SHIPMENT_STATUS,
FBA_INVENTORY_AVAILABILITY_CHANGES, FULFILLMENT_ORDER_STATUS, FEED_/REPORT_PROCESSING_FINISHED,
LISTINGS_ITEM_MFN_QUANTITY_CHANGE) in the account's outbox.

Reserved FBA stock is derived here from the orders that hold it, never stored (inventory.py).
Every function expects the caller to hold `account.lock`.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.canonical import FulfillmentChannel, Order, OrderStatus
from m3amazon.sim.amazon import envelopes
from m3amazon.sim.amazon.feeds import (
    DONE,
    FATAL,
    IN_PROGRESS,
    IN_QUEUE,
    JSON_LISTINGS_FEED,
    process_listings_feed,
)
from m3amazon.sim.amazon.finances import refund_event, shipment_event
from m3amazon.sim.amazon.mcf import COMPLETE, COMPLETE_PARTIALLED, FINAL, McfOrder
from m3amazon.sim.amazon.notify import order_change_notification
from m3amazon.sim.amazon.params import SpApiError, bad, not_found, parse_time
from m3amazon.sim.amazon.reports import MERCHANT_LISTINGS, SETTLEMENT_V2
from m3amazon.sim.amazon.settlement import settlement_bytes
from m3amazon.sim.amazon.state import SellerAccount

HOLDING = (OrderStatus.PENDING, OrderStatus.UNSHIPPED, OrderStatus.PARTIALLY_SHIPPED)
_KNOWN_CARRIER_NAME = "Other"


# -- notifications ----------------------------------------------------------------------------
def subscription_for(account: SellerAccount, kind: str) -> str | None:
    """The subscription id to stamp on a `kind` notification, or None when it is not delivered."""
    subscription = account.notification_setup.subscriptions.get(kind)
    if subscription is not None:
        return subscription.subscription_id
    if account.auto_subscribe:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim:{account.seller_id}:{kind}"))
    return None


def notify(account: SellerAccount, kind: str, build: Callable[[str], dict[str, Any]]) -> bool:
    subscription_id = subscription_for(account, kind)
    if subscription_id is None:
        return False
    account.outbox.put(json.dumps(build(subscription_id), ensure_ascii=False))
    return True


def _constant(body: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    return lambda _: body


def notify_order(account: SellerAccount, order: Order, change_type: str = "OrderStatusChange") -> None:
    extras = account.order_extras(order.order_id)
    notify(
        account,
        "ORDER_CHANGE",
        lambda sub: order_change_notification(
            order,
            seller_id=account.seller_id,
            application_id=account.application_id,
            notification_id=str(uuid.uuid4()),
            subscription_id=sub,
            change_type=change_type,
            shipped_quantities=extras.shipped,
            buyer_requested_cancel=extras.buyer_cancel_requested,
        ),
    )


def notify_inventory(account: SellerAccount, touched: Iterable[tuple[str, str]], now: datetime) -> None:
    by_sku: dict[str, set[str]] = {}
    held: dict[str, Counter[str]] = {}
    for sku, marketplace in touched:
        by_sku.setdefault(sku, set()).add(marketplace)
    for sku, marketplaces in sorted(by_sku.items()):
        item = account.inventory.items.get(sku)
        if item is None:
            continue
        levels = {}
        for marketplace in marketplaces:
            level = account.inventory.level(sku, marketplace)
            if level is not None:
                if marketplace not in held:
                    held[marketplace] = reservations(account, marketplace)
                levels[marketplace] = (level, held[marketplace][sku])
        if levels:
            # This type has no NotificationMetadata, so no subscription id goes into the body.
            body = envelopes.inventory_changed(account.seller_id, item, levels, now)
            notify(account, "FBA_INVENTORY_AVAILABILITY_CHANGES", _constant(body))


# -- stock ------------------------------------------------------------------------------------
def reservations(account: SellerAccount, marketplace: str) -> Counter[str]:
    """Units per SKU held in `marketplace`'s stock by unshipped AFN orders and planned MCF orders."""
    held: Counter[str] = Counter()
    for order in account.orders():
        if order.marketplace_id != marketplace or order.channel is not FulfillmentChannel.AMAZON:
            continue
        if order.status in HOLDING:
            shipped = account.order_extras(order.order_id).shipped
            for line in order.lines:
                held[line.sku] += max(0, line.quantity - shipped.get(line.line_id, 0))
    for mcf in account.mcf.orders.values():
        if mcf.marketplace_id == marketplace and mcf.holds_stock:
            for item in mcf.items:
                held[item.sku] += item.to_ship
    return held


def available(account: SellerAccount, sku: str, marketplace: str) -> int:
    level = account.inventory.level(sku, marketplace)
    return 0 if level is None else max(0, level.on_hand - reservations(account, marketplace)[sku])


# -- orders -----------------------------------------------------------------------------------
def _move(account: SellerAccount, order: Order, status: OrderStatus, now: datetime) -> Order:
    updated = account.set_status(order.order_id, status, at=now)
    notify_order(account, updated)
    return updated


def _ship_afn(account: SellerAccount, order: Order, now: datetime) -> None:
    """Amazon ships an AFN order (the caller reports the stock change once per tick)."""
    extras = account.order_extras(order.order_id)
    extras.fba_shipment_id = extras.fba_shipment_id or "D" + uuid.uuid4().hex[:8].upper()
    for line in order.lines:
        account.inventory.remove(line.sku, order.marketplace_id, line.quantity, now)
        extras.shipped[line.line_id] = line.quantity
    shipped = _move(account, order, OrderStatus.SHIPPED, now)
    account.finances.record(shipment_event(shipped, posted=now, shipment_id=extras.fba_shipment_id))
    _notify_fba_shipment(account, shipped, extras.fba_shipment_id, "Shipped", now)


def _notify_fba_shipment(
    account: SellerAccount, order: Order, shipment_id: str, status: str, now: datetime
) -> None:
    notify(
        account,
        "FBA_OUTBOUND_SHIPMENT_STATUS",
        lambda sub: envelopes.outbound_shipment_status(
            account.seller_id, order.order_id, shipment_id, status, account.application_id, sub, now
        ),
    )


def _advance_order(account: SellerAccount, order: Order, now: datetime) -> bool:
    extras = account.order_extras(order.order_id)
    afn = order.channel is FulfillmentChannel.AMAZON
    if order.status is OrderStatus.PENDING:
        released = _move(account, order, OrderStatus.UNSHIPPED, now)
        if afn:
            extras.fba_shipment_id = "D" + uuid.uuid4().hex[:8].upper()
            _notify_fba_shipment(account, released, extras.fba_shipment_id, "Created", now)
        return True
    if order.status is OrderStatus.UNSHIPPED and afn:
        _ship_afn(account, order, now)
        return True
    if order.status is OrderStatus.UNSHIPPED and extras.buyer_cancel_requested:
        _move(account, order, OrderStatus.CANCELLED, now)
        return True
    return False


def buyer_cancel(account: SellerAccount, order_id: str, now: datetime) -> Order:
    """The buyer asks to cancel: AFN orders not yet shipped are cancelled by Amazon at once, MFN
    orders carry the request (ORDER_CHANGE BuyerRequestedChange) until the next tick."""
    order = account.get_order(order_id)
    if order is None:
        raise KeyError(order_id)
    if order.status not in HOLDING:
        raise ValueError(f"order {order_id} is {order.status.value} and can no longer be cancelled")
    extras = account.order_extras(order_id)
    extras.buyer_cancel_requested = True
    if order.channel is FulfillmentChannel.AMAZON:
        return _move(account, order, OrderStatus.CANCELLED, now)
    updated = account.set_status(order_id, order.status, at=now)
    notify_order(account, updated, "BuyerRequestedChange")
    return updated


def refund(account: SellerAccount, order_id: str, now: datetime) -> None:
    """A full refund of a shipped order (posted to the finance ledger)."""
    events = [e for e in account.finances.by_order.get(order_id, []) if e.kind == "Order"]
    extras = account.order_extras(order_id)
    if not events or extras.refunded:
        raise ValueError(f"order {order_id} has no shipment to refund, or was refunded already")
    extras.refunded = True
    account.finances.record(refund_event(events[0], posted=now))


def confirm_shipment(account: SellerAccount, order_id: str, body: Any, now: datetime) -> None:
    """Orders v0 confirmShipment: record the package, ship the items, post the sale when complete."""
    if not isinstance(body, dict):
        raise bad("The request body must be a ConfirmShipmentRequest object.")
    package = body.get("packageDetail")
    if not isinstance(body.get("marketplaceId"), str) or not isinstance(package, dict):
        raise bad("marketplaceId and packageDetail are required.")
    for name in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate"):
        if not isinstance(package.get(name), str) or not package[name].strip():
            raise bad(f"packageDetail.{name} is required.")
    if not package["packageReferenceId"].isdigit() or int(package["packageReferenceId"]) <= 0:
        raise bad("packageReferenceId must be a positive number.")
    if "T" not in package["shipDate"]:
        raise bad("Invalid Input", "shipDate must be an ISO 8601 date-time.")
    ship_date = parse_time(package["shipDate"], "shipDate")
    if package["carrierCode"] == _KNOWN_CARRIER_NAME and not package.get("carrierName"):
        raise bad("carrierName is required when carrierCode is Other.")
    items = package.get("orderItems")
    if not isinstance(items, list) or not items:
        raise bad("packageDetail.orderItems must be a non-empty array.")
    order = account.get_order(order_id)
    if order is None:
        raise not_found("The requested order was not found.", f"orderId {order_id}")
    if body["marketplaceId"] != order.marketplace_id:
        raise bad("marketplaceId does not match the order's marketplace.")
    if order.channel is not FulfillmentChannel.MERCHANT:
        raise bad("Shipment confirmation is only for seller-fulfilled orders.")
    if order.status not in (OrderStatus.UNSHIPPED, OrderStatus.PARTIALLY_SHIPPED):
        raise bad(f"The order is {order.status.value} and cannot be confirmed as shipped.")
    extras = account.order_extras(order_id)
    if any(p["packageReferenceId"] == package["packageReferenceId"] for p in extras.packages):
        raise bad("A package with this packageReferenceId was already confirmed for the order.")
    lines = {line.line_id: line for line in order.lines}
    requested: Counter[str] = Counter()
    for entry in items:
        if not isinstance(entry, dict) or entry.get("orderItemId") not in lines:
            raise bad("orderItems refer to an unknown orderItemId.")
        quantity = entry.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise bad("orderItems quantity must be a positive whole number.")
        requested[entry["orderItemId"]] += quantity
    for item_id, quantity in requested.items():
        if extras.shipped.get(item_id, 0) + quantity > lines[item_id].quantity:
            raise bad(f"Quantity for orderItemId {item_id} exceeds the unshipped quantity.")
    for item_id, quantity in requested.items():
        extras.shipped[item_id] = extras.shipped.get(item_id, 0) + quantity
    assert ship_date is not None
    extras.packages.append(
        {
            "packageReferenceId": package["packageReferenceId"],
            "createdTime": now,
            "packageStatus": {"status": "IN_TRANSIT"},
            "carrier": package.get("carrierName") or package["carrierCode"],
            "shipTime": ship_date,
            "shippingService": package.get("shippingMethod"),
            "trackingNumber": package["trackingNumber"],
            "packageItems": [{"orderItemId": i, "quantity": q} for i, q in requested.items()],
        }
    )
    complete = all(extras.shipped.get(line.line_id, 0) >= line.quantity for line in order.lines)
    updated = _move(account, order, OrderStatus.SHIPPED if complete else OrderStatus.PARTIALLY_SHIPPED, now)
    if complete:
        account.finances.record(shipment_event(updated, posted=now, shipment_id=f"MFN-{order_id}"))


# -- MCF --------------------------------------------------------------------------------------
def notify_mcf(account: SellerAccount, order: McfOrder, now: datetime, *, shipment: bool = False) -> None:
    notify(
        account,
        "FULFILLMENT_ORDER_STATUS",
        lambda sub: envelopes.fulfillment_order_status(
            account.seller_id, order, account.application_id, sub, now, shipment=shipment
        ),
    )


def _advance_mcf(account: SellerAccount, order: McfOrder, now: datetime) -> bool:
    status = account.mcf.advance(order, now, lambda sku: available(account, sku, order.marketplace_id))
    if status is None:
        return False
    shipped = status in (COMPLETE, COMPLETE_PARTIALLED)
    if shipped:
        for shipment in order.shipments:
            for sku, _, quantity in shipment.items:
                account.inventory.remove(sku, order.marketplace_id, quantity, now)
    notify_mcf(account, order, now, shipment=shipped)
    if status != "Processing":
        notify_inventory(account, ((i.sku, order.marketplace_id) for i in order.items), now)
    return True


# -- feeds and reports ------------------------------------------------------------------------
def _advance_feed(account: SellerAccount, feed_id: str, now: datetime) -> bool:
    feed = account.feeds.feeds[feed_id]
    if feed.status == IN_QUEUE:
        feed.status, feed.started = IN_PROGRESS, now
        return True
    if feed.status != IN_PROGRESS:
        return False
    document = account.documents.get(feed.input_document_id)
    processed = process_listings_feed(
        document.content if document else None,
        seller_id=account.seller_id,
        feed_id=feed.feed_id,
        marketplace_ids=feed.marketplace_ids,
        listings=account.listings,
        now=now,
    )
    result = account.documents.new_download(
        json.dumps(processed.report).encode(), "application/json; charset=UTF-8", compress=False
    )
    feed.status, feed.ended, feed.result_document_id = (
        (FATAL if processed.fatal else DONE),
        now,
        result.document_id,
    )
    rendered = feed.render()
    notify(
        account,
        "FEED_PROCESSING_FINISHED",
        lambda sub: envelopes.feed_finished(account.seller_id, rendered, account.application_id, sub, now),
    )
    for change in processed.quantity_changes:
        notify_listing_quantity(account, change.sku, change.new, now)
    return True


def notify_listing_quantity(account: SellerAccount, sku: str, quantity: int, now: datetime) -> None:
    notify(
        account,
        "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
        lambda sub: envelopes.listing_quantity_changed(
            account.seller_id, sku, quantity, account.application_id, sub, now
        ),
    )


def create_feed(account: SellerAccount, body: Any, now: datetime) -> str:
    if not isinstance(body, dict):
        raise bad("The request body must be a CreateFeedSpecification object.")
    feed_type, document_id, marketplaces = (
        body.get("feedType"),
        body.get("inputFeedDocumentId"),
        body.get("marketplaceIds"),
    )
    if (
        not isinstance(feed_type, str)
        or not isinstance(document_id, str)
        or not isinstance(marketplaces, list)
    ):
        raise SpApiError(
            400,
            "InvalidInput",
            "Invalid input",
            "feedType, marketplaceIds and inputFeedDocumentId are required.",
        )
    if not 1 <= len(marketplaces) <= 25 or any(m not in account.marketplaces for m in marketplaces):
        raise bad("marketplaceIds must name 1 to 25 of the seller's marketplaces.")
    if feed_type != JSON_LISTINGS_FEED:
        raise bad(
            f"Feed type {feed_type[:60]} is not supported.",
            "Listing feeds other than JSON_LISTINGS_FEED were retired.",
        )
    document = account.documents.get(document_id)
    if document is None or not document.writable or document.content is None:
        raise SpApiError(
            400, "InvalidInput", "Invalid input", "inputFeedDocumentId does not name an uploaded document."
        )
    return account.feeds.create(feed_type, marketplaces, document_id, now).feed_id


def create_report(account: SellerAccount, body: Any, now: datetime) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("reportType"), str):
        raise SpApiError(400, "InvalidInput", "Invalid input", "reportType and marketplaceIds are required.")
    report_type, marketplaces = body["reportType"], body.get("marketplaceIds")
    if not isinstance(marketplaces, list) or not 1 <= len(marketplaces) <= 25:
        raise bad("marketplaceIds must name 1 to 25 marketplaces.")
    if report_type.startswith("GET_V2_SETTLEMENT_REPORT"):
        raise bad(
            f"Report type {report_type} cannot be requested.",
            "Settlement reports are generated by Amazon; find them with getReports.",
        )
    if report_type not in (MERCHANT_LISTINGS,):
        raise SpApiError(
            400, "InvalidInput", "Invalid input", f"Report type {report_type[:60]} is not available."
        )
    start = parse_time(body.get("dataStartTime"), "dataStartTime") if body.get("dataStartTime") else None
    end = parse_time(body.get("dataEndTime"), "dataEndTime") if body.get("dataEndTime") else None
    return account.reports.add(report_type, list(marketplaces), now, data_start=start, data_end=end).report_id


def _listings_tsv(account: SellerAccount, marketplaces: list[str]) -> bytes:
    columns = [
        "item-name",
        "listing-id",
        "seller-sku",
        "price",
        "quantity",
        "open-date",
        "asin1",
        "fulfillment-channel",
        "status",
    ]
    rows = ["\t".join(columns)]
    for number, ((sku, marketplace), listing) in enumerate(
        sorted(account.listings.listings.items()), start=1
    ):
        if marketplace not in marketplaces:
            continue
        currency = MARKETPLACES[marketplace].currency
        rows.append(
            "\t".join(
                [
                    listing.item.title,
                    f"{number:010d}",
                    sku,
                    str(listing.item.price(currency)),
                    str(listing.mfn_quantity if listing.mfn_quantity is not None else ""),
                    listing.created.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    listing.item.asin,
                    "DEFAULT",
                    "Active",
                ]
            )
        )
    return ("\n".join(rows) + "\n").encode("utf-8")


def _advance_report(account: SellerAccount, report_id: str, now: datetime) -> bool:
    report = account.reports.reports[report_id]
    if report.status == "IN_QUEUE":
        report.status, report.started = "IN_PROGRESS", now
        return True
    if report.status != "IN_PROGRESS":
        return False
    document = account.documents.new_download(
        _listings_tsv(account, report.marketplace_ids),
        "text/tab-separated-values; charset=UTF-8",
        compress=True,
    )
    report.status, report.ended, report.document_id = "DONE", now, document.document_id
    notify_report(account, report.render(), now)
    return True


def notify_report(account: SellerAccount, rendered: dict[str, Any], now: datetime) -> None:
    notify(
        account,
        "REPORT_PROCESSING_FINISHED",
        lambda sub: envelopes.report_finished(account.seller_id, rendered, account.application_id, sub, now),
    )


def close_settlement(account: SellerAccount, marketplace: str, now: datetime) -> str | None:
    """Close the open financial event group of `marketplace` and publish its settlement report.
    Returns the report id (None when the group had no events)."""
    settlement_id = str(10_000_000_000 + len(account.finances.groups) * 7919 + len(account.reports.reports))
    group = account.finances.close(marketplace, now, settlement_id)
    if group is None:
        return None
    assert group.end is not None
    document = account.documents.new_download(
        settlement_bytes(group), "text/tab-separated-values", compress=True
    )
    report = account.reports.add(
        SETTLEMENT_V2,
        [marketplace],
        now,
        status="DONE",
        data_start=group.start,
        data_end=group.end,
        started=now,
        ended=now,
        document_id=document.document_id,
    )
    notify_report(account, report.render(), now)
    return report.report_id


# -- the tick ---------------------------------------------------------------------------------
def advance(account: SellerAccount, now: datetime) -> dict[str, int]:
    """One step of everything that moves on its own (see the module docstring)."""
    moved = Counter[str]()
    touched: set[tuple[str, str]] = set()
    for order in sorted(account.orders(), key=lambda o: (o.created_at, o.order_id)):
        if _advance_order(account, order, now):
            moved["orders"] += 1
            if order.channel is FulfillmentChannel.AMAZON and order.status is OrderStatus.UNSHIPPED:
                touched.update((line.sku, order.marketplace_id) for line in order.lines)
    notify_inventory(account, touched, now)
    for mcf in list(account.mcf.orders.values()):
        if mcf.status not in FINAL:
            moved["fulfillment_orders"] += _advance_mcf(account, mcf, now)
    for feed in account.feeds.unfinished():
        moved["feeds"] += _advance_feed(account, feed.feed_id, now)
    for report in account.reports.unfinished():
        moved["reports"] += _advance_report(account, report.report_id, now)
    return dict(moved)
