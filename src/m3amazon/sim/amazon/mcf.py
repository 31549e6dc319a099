"""Simulated Multi-Channel Fulfillment orders (Fulfillment Outbound v2020-07-01).

An order goes Received -> Planning -> Processing -> Complete, one step per tick of the simulated
clock (see lifecycle.advance). At Planning Amazon checks stock: with the default policy
(FillOrKill) an order whose lines cannot all be filled becomes Unfulfillable; FillAllAvailable
ships what there is and ends CompletePartialled. At Processing a shipment exists (PENDING); at
Complete it is SHIPPED with a package, carrier and tracking number. A cancellation is accepted
only before Processing (Received or Planning), as the model's status table says. Orders with
fulfillmentAction Hold wait in Received.

Validation follows the model's CreateFulfillmentOrderRequest: required fields, lengths, enums,
at most 100 lines and 250 units. Messages for refusals Amazon does not document (duplicate id,
unknown SKU) are ours.

Guarded by the account's lock (see state.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.sim.amazon.params import SpApiError, bad, iso, not_found, parse_time

RECEIVED, PLANNING, PROCESSING, COMPLETE = "Received", "Planning", "Processing", "Complete"
COMPLETE_PARTIALLED, CANCELLED, UNFULFILLABLE = "CompletePartialled", "Cancelled", "Unfulfillable"
CANCELLABLE = frozenset({"New", RECEIVED, PLANNING})
FINAL = frozenset({COMPLETE, COMPLETE_PARTIALLED, CANCELLED, UNFULFILLABLE, "Invalid"})
SPEEDS = ("Standard", "Expedited", "Priority", "ScheduledDelivery")
POLICIES = ("FillOrKill", "FillAll", "FillAllAvailable")
_ADDRESS_REQUIRED = ("name", "addressLine1", "countryCode", "postalCode")
_CARRIERS = {
    "US": "UPS",
    "CA": "Canada Post",
    "GB": "Royal Mail",
    "DE": "DHL",
    "FR": "Colissimo",
    "IT": "BRT",
    "ES": "SEUR",
}
#: Per-unit and per-order fees of a preview, in the marketplace currency (illustrative values).
UNIT_FEE, ORDER_FEE = Decimal("3.22"), Decimal("1.00")


@dataclass
class McfItem:
    sku: str
    item_id: str
    quantity: int
    cancelled: int = 0
    unfulfillable: int = 0
    declared: dict[str, Any] | None = None

    @property
    def to_ship(self) -> int:
        return self.quantity - self.cancelled - self.unfulfillable


@dataclass
class McfShipment:
    shipment_id: str
    fulfillment_center: str
    status: str
    items: list[tuple[str, str, int]]
    estimated_arrival: datetime
    shipping_date: datetime | None = None
    packages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class McfOrder:
    request: dict[str, Any]
    marketplace_id: str
    status: str
    received: datetime
    status_updated: datetime
    items: list[McfItem]
    shipments: list[McfShipment] = field(default_factory=list)

    @property
    def request_id(self) -> str:
        return str(self.request["sellerFulfillmentOrderId"])

    @property
    def holds_stock(self) -> bool:
        """Planned or processing: its units are reserved in the fulfillment centre."""
        return self.status in (PLANNING, PROCESSING)


def _text(
    body: dict[str, Any], name: str, max_length: int | None = None, *, required: bool = True
) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise bad(f"{name} is required and must be a string.")
    if max_length is not None and len(value) > max_length:
        raise bad(f"{name} must be at most {max_length} characters.")
    return value


def _address(body: Any, name: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad(f"{name} is required.")
    missing = [f for f in _ADDRESS_REQUIRED if not isinstance(body.get(f), str) or not body[f].strip()]
    if missing:
        raise bad(f"{name} is missing {', '.join(missing)}.")
    return body


def _items(body: Any, known: Callable[[str], bool], *, preview: bool = False) -> list[McfItem]:
    if not isinstance(body, list) or not body:
        raise bad("items must be a non-empty array.")
    if len(body) > 100:
        raise bad("A fulfillment order has at most 100 line items.")
    items, seen = [], set()
    for entry in body:
        if not isinstance(entry, dict):
            raise bad("Each item must be an object.")
        sku = _text(entry, "sellerSku", 50)
        item_id = _text(entry, "sellerFulfillmentOrderItemId", 50)
        quantity = entry.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise bad("quantity must be a positive whole number.")
        assert sku is not None and item_id is not None
        if item_id in seen:
            raise bad(f"sellerFulfillmentOrderItemId {item_id} is used twice.")
        seen.add(item_id)
        if not preview and not known(sku):
            raise bad("Invalid input.", f"The SKU {sku} is not known in this marketplace.")
        items.append(McfItem(sku, item_id, quantity, declared=entry.get("perUnitDeclaredValue")))
    if sum(i.quantity for i in items) > 250:
        raise bad("A fulfillment order has at most 250 units.")
    return items


class FulfillmentOrders:
    """The seller's MCF orders by sellerFulfillmentOrderId."""

    def __init__(self) -> None:
        self.orders: dict[str, McfOrder] = {}

    def create(
        self, body: Any, *, default_marketplace: str, known: Callable[[str], bool], now: datetime
    ) -> McfOrder:
        if not isinstance(body, dict):
            raise bad("The request body must be a CreateFulfillmentOrderRequest object.")
        request_id = _text(body, "sellerFulfillmentOrderId", 40)
        _text(body, "displayableOrderId", 40)
        _text(body, "displayableOrderComment", 750)
        if parse_time(_text(body, "displayableOrderDate"), "displayableOrderDate") is None:
            raise bad("displayableOrderDate is required.")
        if body.get("shippingSpeedCategory") not in SPEEDS:
            raise bad(f"shippingSpeedCategory must be one of {', '.join(SPEEDS)}.")
        if body.get("fulfillmentPolicy", "FillOrKill") not in POLICIES:
            raise bad(f"fulfillmentPolicy must be one of {', '.join(POLICIES)}.")
        if body.get("fulfillmentAction", "Ship") not in ("Ship", "Hold"):
            raise bad("fulfillmentAction must be Ship or Hold.")
        _address(body.get("destinationAddress"), "destinationAddress")
        marketplace = body.get("marketplaceId") or default_marketplace
        if marketplace not in MARKETPLACES:
            raise bad(f"Unknown marketplaceId {str(marketplace)[:20]}.")
        items = _items(body.get("items"), known)
        assert request_id is not None
        if request_id in self.orders:
            raise bad(
                "Invalid input.",
                f"A fulfillment order with sellerFulfillmentOrderId {request_id} already exists.",
            )
        order = McfOrder(dict(body), marketplace, RECEIVED, now, now, items)
        self.orders[request_id] = order
        return order

    def get(self, request_id: str) -> McfOrder:
        order = self.orders.get(request_id)
        if order is None:
            raise not_found(
                "The requested fulfillment order was not found.", f"sellerFulfillmentOrderId {request_id}"
            )
        return order

    def updated_since(self, since: datetime | None) -> list[McfOrder]:
        found = [o for o in self.orders.values() if since is None or o.status_updated >= since]
        return sorted(found, key=lambda o: (o.status_updated, o.request_id))

    def cancel(self, request_id: str, now: datetime) -> McfOrder:
        order = self.get(request_id)
        if order.status == CANCELLED:
            return order
        if order.status not in CANCELLABLE:
            raise SpApiError(
                400,
                "InvalidInput",
                f"The fulfillment order cannot be cancelled in status {order.status}.",
                "Only orders in status Received or Planning can be cancelled.",
            )
        order.status, order.status_updated = CANCELLED, now
        for item in order.items:
            item.cancelled = item.quantity - item.unfulfillable
        return order

    def advance(self, order: McfOrder, now: datetime, available: Callable[[str], int]) -> str | None:
        """One step of `order`; returns the new status, or None when it does not move."""
        action = order.request.get("fulfillmentAction", "Ship")
        if order.status == RECEIVED and action == "Ship":
            policy = order.request.get("fulfillmentPolicy", "FillOrKill")
            short = {i.item_id: max(0, i.quantity - available(i.sku)) for i in order.items}
            if any(short.values()) and (
                policy != "FillAllAvailable" or all(short[i.item_id] == i.quantity for i in order.items)
            ):
                for item in order.items:
                    item.unfulfillable = item.quantity
                return self._move(order, UNFULFILLABLE, now)
            for item in order.items:
                item.unfulfillable = short[item.item_id]
            return self._move(order, PLANNING, now)
        if order.status == PLANNING:
            order.shipments.append(
                McfShipment(
                    shipment_id=_code("D", order.request_id, 9),
                    fulfillment_center=_fulfillment_center(order.marketplace_id),
                    status="PENDING",
                    items=[(i.sku, i.item_id, i.to_ship) for i in order.items if i.to_ship > 0],
                    estimated_arrival=now + timedelta(days=3),
                )
            )
            return self._move(order, PROCESSING, now)
        if order.status == PROCESSING:
            country = MARKETPLACES[order.marketplace_id].country
            carrier = _CARRIERS.get(country, "UPS")
            for shipment in order.shipments:
                shipment.status, shipment.shipping_date = "SHIPPED", now
                shipment.packages = [
                    {
                        "packageNumber": 1,
                        "carrierCode": carrier,
                        "trackingNumber": ("1Z" if carrier == "UPS" else "")
                        + _code("", shipment.shipment_id, 16, digits=True),
                        "estimatedArrivalDate": iso(shipment.estimated_arrival),
                    }
                ]
            partial = any(i.unfulfillable for i in order.items)
            return self._move(order, COMPLETE_PARTIALLED if partial else COMPLETE, now)
        return None

    @staticmethod
    def _move(order: McfOrder, status: str, now: datetime) -> str:
        order.status, order.status_updated = status, now
        return status


def _code(prefix: str, seed: str, length: int, *, digits: bool = False) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest().upper()
    body = str(int(digest, 16)) if digits else digest
    return prefix + body[:length]


def _fulfillment_center(marketplace_id: str) -> str:
    return {
        "US": "SEA8",
        "CA": "YYZ4",
        "GB": "LTN1",
        "DE": "FRA3",
        "FR": "ORY1",
        "IT": "MXP5",
        "ES": "MAD4",
    }.get(MARKETPLACES[marketplace_id].country, "SEA8")


def render_summary(order: McfOrder) -> dict[str, Any]:
    """The `FulfillmentOrder` object."""
    request = order.request
    summary: dict[str, Any] = {
        "sellerFulfillmentOrderId": order.request_id,
        "marketplaceId": order.marketplace_id,
        "displayableOrderId": request["displayableOrderId"],
        "displayableOrderDate": iso(parse_time(request["displayableOrderDate"], "displayableOrderDate")),  # type: ignore[arg-type]
        "displayableOrderComment": request["displayableOrderComment"],
        "shippingSpeedCategory": request["shippingSpeedCategory"],
        "destinationAddress": {k: v for k, v in request["destinationAddress"].items() if v is not None},
        "fulfillmentAction": request.get("fulfillmentAction", "Ship"),
        "fulfillmentPolicy": request.get("fulfillmentPolicy", "FillOrKill"),
        "receivedDate": iso(order.received),
        "fulfillmentOrderStatus": order.status,
        "statusUpdatedDate": iso(order.status_updated),
    }
    if request.get("notificationEmails"):
        summary["notificationEmails"] = list(request["notificationEmails"])
    return summary


def render_order(order: McfOrder) -> dict[str, Any]:
    """The `GetFulfillmentOrderResult` payload."""
    items = []
    for item in order.items:
        entry: dict[str, Any] = {
            "sellerSku": item.sku,
            "sellerFulfillmentOrderItemId": item.item_id,
            "quantity": item.quantity,
            "cancelledQuantity": item.cancelled,
            "unfulfillableQuantity": item.unfulfillable,
        }
        if item.declared:
            entry["perUnitDeclaredValue"] = item.declared
        items.append(entry)
    shipments = []
    for shipment in order.shipments:
        rendered: dict[str, Any] = {
            "amazonShipmentId": shipment.shipment_id,
            "fulfillmentCenterId": shipment.fulfillment_center,
            "fulfillmentShipmentStatus": shipment.status,
            "estimatedArrivalDate": iso(shipment.estimated_arrival),
            "fulfillmentShipmentItem": [
                {
                    "sellerSku": sku,
                    "sellerFulfillmentOrderItemId": item_id,
                    "quantity": quantity,
                    **({"packageNumber": 1} if shipment.packages else {}),
                }
                for sku, item_id, quantity in shipment.items
            ],
        }
        if shipment.shipping_date is not None:
            rendered["shippingDate"] = iso(shipment.shipping_date)
        if shipment.packages:
            rendered["fulfillmentShipmentPackage"] = [dict(p) for p in shipment.packages]
        shipments.append(rendered)
    result: dict[str, Any] = {
        "fulfillmentOrder": render_summary(order),
        "fulfillmentOrderItems": items,
        "returnItems": [],
        "returnAuthorizations": [],
    }
    if shipments:
        result["fulfillmentShipments"] = shipments
    return result


def preview(
    body: Any,
    *,
    default_marketplace: str,
    available: Callable[[str], int],
    known: Callable[[str], bool],
    now: datetime,
) -> dict[str, Any]:
    """The `GetFulfillmentPreviewResult` payload: per requested speed, can it ship and at what fee."""
    if not isinstance(body, dict):
        raise bad("The request body must be a GetFulfillmentPreviewRequest object.")
    _address(body.get("address"), "address")
    marketplace = body.get("marketplaceId") or default_marketplace
    if marketplace not in MARKETPLACES:
        raise bad(f"Unknown marketplaceId {str(marketplace)[:20]}.")
    items = _items(body.get("items"), known, preview=True)
    speeds: Iterable[str] = body.get("shippingSpeedCategories") or ("Standard", "Expedited", "Priority")
    currency = MARKETPLACES[marketplace].currency
    unfulfillable = []
    for item in items:
        reasons = (
            ["InvalidSKU"]
            if not known(item.sku)
            else (["InventoryUnavailable"] if available(item.sku) < item.quantity else [])
        )
        if reasons:
            unfulfillable.append(
                {
                    "sellerSku": item.sku,
                    "quantity": item.quantity,
                    "sellerFulfillmentOrderItemId": item.item_id,
                    "itemUnfulfillableReasons": reasons,
                }
            )
    units = sum(i.quantity for i in items)
    previews = []
    for days, speed in enumerate(speeds, start=1):
        if speed not in SPEEDS:
            raise bad(f"shippingSpeedCategories must be among {', '.join(SPEEDS)}.")
        entry: dict[str, Any] = {
            "shippingSpeedCategory": speed,
            "isFulfillable": not unfulfillable,
            "isCODCapable": False,
            "marketplaceId": marketplace,
        }
        if unfulfillable:
            entry["unfulfillablePreviewItems"] = unfulfillable
            entry["orderUnfulfillableReasons"] = ["InventoryUnavailable"]
        else:
            entry["estimatedFees"] = [
                {
                    "name": "FBAPerUnitFulfillmentFee",
                    "amount": {"currencyCode": currency, "value": str(UNIT_FEE * units)},
                },
                {
                    "name": "FBAPerOrderFulfillmentFee",
                    "amount": {"currencyCode": currency, "value": str(ORDER_FEE)},
                },
            ]
            entry["fulfillmentPreviewShipments"] = [
                {
                    "earliestShipDate": iso(now + timedelta(hours=4)),
                    "latestShipDate": iso(now + timedelta(days=1)),
                    "earliestArrivalDate": iso(now + timedelta(days=max(1, 5 - days))),
                    "latestArrivalDate": iso(now + timedelta(days=max(2, 7 - days))),
                    "fulfillmentPreviewItems": [
                        {
                            "sellerSku": i.sku,
                            "quantity": i.quantity,
                            "sellerFulfillmentOrderItemId": i.item_id,
                        }
                        for i in items
                    ],
                }
            ]
        previews.append(entry)
    return {"fulfillmentPreviews": previews}
