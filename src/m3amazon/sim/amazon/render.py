"""Canonical order -> Orders API v2026-01-01 JSON, as the simulator serves it.

The simulator keeps its orders in canonical form and renders them per request, so the same
function is the inverse of `amazon.translate.orders.order_from_v2026` (property-tested both ways).
The output follows the model exactly: required fields always, each optional block only when its
dataset is requested with `includedData` (BUYER, RECIPIENT, PROCEEDS, PROMOTION, FULFILLMENT, and
with the order's extras PACKAGES for confirmed MFN packages and CANCELLATION for a buyer's
cancellation request; the other datasets have nothing to show for simulated orders and are left
out).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.amazon.money import MoneyShape, render_money
from m3amazon.canonical import Address, Money, Order, OrderLine, OrderStatus, Party

INCLUDED_DATA = (
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
)


class Extras(Protocol):
    """What render_order reads from the simulator's OrderExtras."""

    packages: list[dict[str, Any]]
    shipped: dict[str, int]
    buyer_cancel_requested: bool


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a 'Z', as Amazon writes timestamps."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _money(value: Money) -> dict[str, Any]:
    return render_money(MoneyShape.ORDERS_V2026, value)


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def render_order(order: Order, included: Iterable[str] = (), extras: Extras | None = None) -> dict[str, Any]:
    """The `Order` object of getOrder/searchOrders for `order` with the requested datasets."""
    datasets = set(included)
    programs = [p for p, on in (("PRIME", order.is_prime), ("AMAZON_BUSINESS", order.is_business)) if on]
    market = MARKETPLACES.get(order.marketplace_id)
    doc: dict[str, Any] = {
        "orderId": order.order_id,
        "createdTime": iso(order.created_at),
        "lastUpdatedTime": iso(order.updated_at),
    }
    if programs:
        doc["programs"] = programs
    doc["salesChannel"] = _compact(
        {
            "channelName": "AMAZON",
            "marketplaceId": order.marketplace_id,
            "marketplaceName": market.domain if market else None,
        }
    )
    if "BUYER" in datasets and order.buyer is not None:
        doc["buyer"] = _buyer(order.buyer)
    if "RECIPIENT" in datasets and order.ship_to is not None:
        doc["recipient"] = {"deliveryAddress": _address(order.ship_to)}
    if "PROCEEDS" in datasets:
        doc["proceeds"] = _order_proceeds(order)
    if "FULFILLMENT" in datasets:
        doc["fulfillment"] = _order_fulfillment(order)
    doc["orderItems"] = [_item(order, line, datasets, extras) for line in order.lines]
    if "PACKAGES" in datasets and extras is not None and extras.packages:
        doc["packages"] = [_package(p) for p in extras.packages]
    return doc


def _package(package: dict[str, Any]) -> dict[str, Any]:
    return _compact({k: iso(v) if isinstance(v, datetime) else v for k, v in package.items()})


def _buyer(buyer: Party) -> dict[str, Any]:
    return _compact(
        {
            "buyerName": buyer.name,
            "buyerEmail": buyer.email,
            "buyerCompanyName": buyer.company,
            "buyerPurchaseOrderNumber": buyer.purchase_order_number,
        }
    )


def _address(address: Address) -> dict[str, Any]:
    return _compact(
        {
            "name": address.name,
            "companyName": address.company,
            "addressLine1": address.line1,
            "addressLine2": address.line2,
            "addressLine3": address.line3,
            "city": address.city,
            "districtOrCounty": address.district,
            "stateOrRegion": address.state,
            "postalCode": address.postal_code,
            "countryCode": address.country_code,
            "phone": address.phone,
            "addressType": address.address_type.value if address.address_type else None,
        }
    )


def _line_parts(line: OrderLine) -> list[tuple[str, Money, list[tuple[str, Money]]]]:
    """The item's proceeds breakdowns: (type, subtotal, detailed breakdowns)."""
    parts: list[tuple[str, Money, list[tuple[str, Money]]]] = [("ITEM", line.line_amount, [])]
    if line.shipping is not None:
        parts.append(("SHIPPING", line.shipping, []))
    if line.gift_wrap is not None:
        parts.append(("GIFT_WRAP", line.gift_wrap, []))
    taxes = [(sub, m) for sub, m in (("ITEM", line.tax), ("SHIPPING", line.shipping_tax)) if m is not None]
    if taxes:
        parts.append(("TAX", Money.sum((m for _, m in taxes), line.unit_price.currency), taxes))
    if line.promotion_discount is not None:
        parts.append(("DISCOUNT", -abs(line.promotion_discount), []))
    return parts


def _order_proceeds(order: Order) -> dict[str, Any]:
    totals: dict[str, Money] = {}
    for line in order.lines:
        for kind, subtotal, _ in _line_parts(line):
            totals[kind] = totals[kind] + subtotal if kind in totals else subtotal
    proceeds: dict[str, Any] = {}
    if order.order_total is not None:
        proceeds["grandTotal"] = _money(order.order_total)
    if totals:
        proceeds["breakdowns"] = [{"type": k, "subtotal": _money(v)} for k, v in totals.items()]
    return proceeds


def _item_proceeds(line: OrderLine) -> dict[str, Any]:
    parts = _line_parts(line)
    breakdowns = []
    for kind, subtotal, details in parts:
        entry: dict[str, Any] = {"type": kind, "subtotal": _money(subtotal)}
        if details:
            entry["detailedBreakdowns"] = [{"subtype": s, "value": _money(m)} for s, m in details]
        breakdowns.append(entry)
    total = Money.sum((subtotal for _, subtotal, _ in parts), line.unit_price.currency)
    return {"proceedsTotal": _money(total), "breakdowns": breakdowns}


def _order_fulfillment(order: Order) -> dict[str, Any]:
    created = order.created_at
    return _compact(
        {
            "fulfillmentStatus": order.status.value,
            "fulfilledBy": order.channel.value,
            "fulfillmentServiceLevel": order.service_level,
            "shipByWindow": {
                "earliestDateTime": iso(created),
                "latestDateTime": iso(created + timedelta(days=2)),
            },
            "deliverByWindow": {
                "earliestDateTime": iso(created + timedelta(days=3)),
                "latestDateTime": iso(created + timedelta(days=7)),
            },
        }
    )


def _item(order: Order, line: OrderLine, datasets: set[str], extras: Extras | None = None) -> dict[str, Any]:
    product = _compact(
        {
            "asin": line.asin,
            "title": line.title,
            "sellerSku": line.sku,
            "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            "price": {"unitPrice": _money(line.unit_price)},
        }
    )
    item: dict[str, Any] = {"orderItemId": line.line_id, "quantityOrdered": line.quantity, "product": product}
    if "PROCEEDS" in datasets:
        item["proceeds"] = _item_proceeds(line)
    if "PROMOTION" in datasets and line.promotion_discount is not None:
        item["promotion"] = {"breakdowns": [{"promotionId": f"PROMO-{line.line_id[-6:]}"}]}
    if "CANCELLATION" in datasets and extras is not None and extras.buyer_cancel_requested:
        item["cancellation"] = {
            "cancellationRequest": {"requester": "BUYER", "cancelReason": "Buyer Requested Cancel"}
        }
    if "FULFILLMENT" in datasets:
        shipped = line.quantity if order.status is OrderStatus.SHIPPED else line.quantity_shipped
        if extras is not None and order.status is not OrderStatus.SHIPPED:
            shipped = min(line.quantity, max(shipped, extras.shipped.get(line.line_id, 0)))
        item["fulfillment"] = {"quantityFulfilled": shipped, "quantityUnfulfilled": line.quantity - shipped}
    return item
