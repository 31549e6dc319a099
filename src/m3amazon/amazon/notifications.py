"""SP-API notifications (as delivered to SQS) -> `Notification` -> canonical events.

Why tolerant parsing: the envelope's casing differs by notification type (ORDER_CHANGE uses
`NotificationType`/`Payload`, REPORT_/FEED_PROCESSING_FINISHED use `notificationType`/`payload`),
and FBA_INVENTORY_AVAILABILITY_CHANGES has no `NotificationMetadata` at all (research §5.1). Keys
are therefore matched case-insensitively everywhere.

Why one exception type: a queue consumer must never crash on a message. Whatever the body is
(not JSON, not an object, wrong types, missing fields), parsing raises `NotificationError` with a
stable `reason_code` and a human sentence, and the consumer turns it into an incident with the
original body.

The idempotency key is `NotificationMetadata.NotificationId` (Amazon re-delivers a notification with
the same id). For types without metadata the key is a hash of the body, which is equally stable for
a re-delivered duplicate.

`to_event` turns each notification type the product handles into its canonical event (one parser
per type below); Amazon's free-text values (statuses, event types) stay strings where the schemas
give no value set (research §5.3).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from m3amazon.canonical import (
    AmazonEvent,
    FeedProcessed,
    FulfillmentChannel,
    FulfillmentOrderStatusChanged,
    InventoryChanged,
    InventoryPosition,
    ListingQuantityChanged,
    OrderChanged,
    OutboundShipmentStatusChanged,
    Package,
    ReportProcessed,
)

ORDER_CHANGE = "ORDER_CHANGE"
FBA_INVENTORY_AVAILABILITY_CHANGES = "FBA_INVENTORY_AVAILABILITY_CHANGES"
FULFILLMENT_ORDER_STATUS = "FULFILLMENT_ORDER_STATUS"
FBA_OUTBOUND_SHIPMENT_STATUS = "FBA_OUTBOUND_SHIPMENT_STATUS"
REPORT_PROCESSING_FINISHED = "REPORT_PROCESSING_FINISHED"
FEED_PROCESSING_FINISHED = "FEED_PROCESSING_FINISHED"
LISTINGS_ITEM_MFN_QUANTITY_CHANGE = "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"
_CHANNELS = {"AFN": FulfillmentChannel.AMAZON, "MFN": FulfillmentChannel.MERCHANT}


class NotificationError(ValueError):
    """A message that is not a usable SP-API notification. `reason_code` is stable for incidents."""

    def __init__(self, reason_code: str, message: str) -> None:
        self.reason_code = reason_code
        self.message = message
        super().__init__(f"{reason_code}: {message}")


@dataclass(frozen=True)
class Notification:
    notification_id: str
    notification_type: str
    event_time: datetime | None
    payload: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)
    #: Metadata when present: ApplicationId, SubscriptionId, PublishTime (as sent).
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)


def get_ci(obj: dict[str, Any], name: str) -> Any:
    """`obj[name]` with the key matched exactly first, then case-insensitively."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def _require(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = get_ci(obj, name)
    if value is None:
        raise NotificationError("MISSING_FIELD", f"the notification has no {where}{name}")
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise NotificationError(
            "WRONG_TYPE", f"{where}{name} should be a {expected}, not a {type(value).__name__}"
        )
    return value


def _optional(obj: dict[str, Any], name: str, where: str) -> str | None:
    value = get_ci(obj, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise NotificationError(
            "WRONG_TYPE", f"{where}{name} should be a string, not a {type(value).__name__}"
        )
    return value


def parse_time(value: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise NotificationError("BAD_TIMESTAMP", f"{what} {value[:40]!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _decode(body: str | bytes) -> dict[str, Any]:
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise NotificationError("INVALID_JSON", "the message body is not UTF-8 text") from None
    if not isinstance(body, str):
        raise NotificationError("WRONG_TYPE", f"the message body is a {type(body).__name__}, not text")
    try:
        data = json.loads(body)
    except RecursionError:
        raise NotificationError("INVALID_JSON", "the message body is nested too deeply") from None
    except ValueError as exc:
        raise NotificationError("INVALID_JSON", f"the message body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise NotificationError(
            "NOT_AN_OBJECT", f"the message body is a JSON {type(data).__name__}, not an object"
        )
    return data


def _body_key(raw: dict[str, Any]) -> str:
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def parse_notification(body: str | bytes) -> Notification:
    """The notification in an SQS message body. Raises only NotificationError."""
    raw = _decode(body)
    notification_type = _require(raw, "NotificationType", str, "")
    payload = _require(raw, "Payload", dict, "")
    event_time_text = _optional(raw, "EventTime", "")
    event_time = parse_time(event_time_text, "EventTime") if event_time_text else None
    metadata = get_ci(raw, "NotificationMetadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise NotificationError("WRONG_TYPE", "NotificationMetadata should be an object")
    if metadata:
        notification_id = _require(metadata, "NotificationId", str, "NotificationMetadata.")
        if not notification_id.strip():
            raise NotificationError("MISSING_FIELD", "NotificationMetadata.NotificationId is empty")
    else:
        notification_id = _body_key(raw)
    return Notification(
        notification_id=notification_id,
        notification_type=notification_type,
        event_time=event_time,
        payload=payload,
        raw=raw,
        metadata=dict(metadata or {}),
    )


def _items_shipped(summary: dict[str, Any]) -> int | None:
    value = get_ci(summary, "NumberOfItemsShipped")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _time_of_change(change: dict[str, Any]) -> datetime | None:
    """`OrderChangeTrigger.TimeOfOrderChange` (nullable in the schema), or None when it is absent or
    unreadable: it only lets a searched order serve the change (amazon/order_source.py), and without
    it the flow reads the order with getOrder, so a bad value is no reason to refuse the message."""
    trigger = get_ci(change, "OrderChangeTrigger")
    value = get_ci(trigger, "TimeOfOrderChange") if isinstance(trigger, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value, "TimeOfOrderChange")
    except NotificationError:
        return None


def to_order_changed(n: Notification) -> OrderChanged:
    """The canonical event for an ORDER_CHANGE notification (raises NotificationError otherwise)."""
    if n.notification_type.upper() != ORDER_CHANGE:
        raise NotificationError("UNEXPECTED_TYPE", f"expected ORDER_CHANGE, got {n.notification_type[:60]!r}")
    where = "Payload.OrderChangeNotification."
    change = _require(n.payload, "OrderChangeNotification", dict, "Payload.")
    order_id = _require(change, "AmazonOrderId", str, where)
    if not order_id.strip():
        raise NotificationError("MISSING_FIELD", f"{where}AmazonOrderId is empty")
    summary = get_ci(change, "Summary")
    if summary is not None and not isinstance(summary, dict):
        raise NotificationError("WRONG_TYPE", f"{where}Summary should be an object")
    summary = summary or {}
    fulfillment_type = _optional(summary, "FulfillmentType", where + "Summary.")
    channel = _CHANNELS.get((fulfillment_type or "").upper())
    if fulfillment_type and channel is None:
        raise NotificationError(
            "WRONG_TYPE", f"{where}Summary.FulfillmentType {fulfillment_type[:20]!r} is not AFN or MFN"
        )
    try:
        return OrderChanged(
            order_id=order_id,
            marketplace_id=_optional(summary, "MarketplaceId", where + "Summary."),
            seller_id=_optional(change, "SellerId", where),
            notification_id=n.notification_id,
            reported_status=_optional(summary, "OrderStatus", where + "Summary."),
            channel=channel,
            change_type=_optional(change, "OrderChangeType", where),
            event_time=n.event_time,
            changed_at=_time_of_change(change),
            items_shipped=_items_shipped(summary),
        )
    except ValidationError as exc:  # defensive: every field is already checked above
        raise NotificationError("INVALID_EVENT", str(exc.errors()[0].get("msg"))) from None


def _text(obj: dict[str, Any], name: str, where: str) -> str:
    """A required, non-empty string field."""
    value = _require(obj, name, str, where)
    if not value.strip():
        raise NotificationError("MISSING_FIELD", f"{where}{name} is empty")
    return str(value)


def _int(obj: dict[str, Any], name: str, where: str, *, required: bool = True) -> int:
    value = get_ci(obj, name)
    if value is None and not required:
        return 0
    if value is None:
        raise NotificationError("MISSING_FIELD", f"the notification has no {where}{name}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotificationError(
            "WRONG_TYPE", f"{where}{name} should be a whole number, not {type(value).__name__}"
        )
    return value


def _object(obj: dict[str, Any], name: str, where: str, *, required: bool = True) -> dict[str, Any]:
    value = get_ci(obj, name)
    if value is None and not required:
        return {}
    return dict(_require(obj, name, dict, where))


def _common(n: Notification, seller_id: str | None) -> dict[str, Any]:
    return {"notification_id": n.notification_id, "seller_id": seller_id, "event_time": n.event_time}


def _inventory_changed(n: Notification) -> InventoryChanged:
    """FBA_INVENTORY_AVAILABILITY_CHANGES: the fields sit directly under Payload."""
    where, payload = "Payload.", n.payload
    sku = _text(payload, "SKU", where)
    markets = _require(payload, "FulfillmentInventoryByMarketplace", list, where)
    as_of = n.event_time or datetime.now(UTC)
    positions = []
    for index, market in enumerate(markets):
        at = f"{where}FulfillmentInventoryByMarketplace[{index}]."
        if not isinstance(market, dict):
            raise NotificationError("WRONG_TYPE", f"{at[:-1]} should be an object")
        inventory = _object(market, "FulfillmentInventory", at)
        inv_at = at + "FulfillmentInventory."
        inbound = _object(inventory, "InboundQuantityBreakdown", inv_at, required=False)
        reserved = _object(inventory, "ReservedQuantityBreakdown", inv_at, required=False)
        fulfillable = _int(inventory, "Fulfillable", inv_at)
        held = sum(_int(reserved, k, inv_at + "ReservedQuantityBreakdown.", required=False) for k in reserved)
        arriving = sum(
            _int(inbound, k, inv_at + "InboundQuantityBreakdown.", required=False) for k in inbound
        )
        positions.append(
            InventoryPosition(
                sku=sku,
                location=_text(market, "MarketplaceId", at),
                on_hand=Decimal(fulfillable + held),
                reserved=Decimal(held),
                inbound=Decimal(arriving),
                as_of=as_of,
                source="fba",
            )
        )
    return InventoryChanged(
        sku=sku,
        asin=_optional(payload, "ASIN", where),
        fnsku=_optional(payload, "FNSKU", where),
        positions=tuple(positions),
        **_common(n, _optional(payload, "SellerId", where)),
    )


def _fulfillment_order_status(n: Notification) -> FulfillmentOrderStatusChanged:
    where = "Payload.FulfillmentOrderStatusNotification."
    body = _object(n.payload, "FulfillmentOrderStatusNotification", "Payload.")
    shipment = _object(body, "FulfillmentShipment", where, required=False)
    packages = []
    for index, package in enumerate(get_ci(shipment, "FulfillmentShipmentPackages") or []):
        if not isinstance(package, dict):
            raise NotificationError(
                "WRONG_TYPE", f"{where}FulfillmentShipment.FulfillmentShipmentPackages[{index}]"
            )
        packages.append(
            Package(
                carrier=_optional(package, "CarrierCode", where),
                tracking_number=_optional(package, "TrackingNumber", where),
            )
        )
    return FulfillmentOrderStatusChanged(
        request_id=_text(body, "SellerFulfillmentOrderId", where),
        status=_text(body, "FulfillmentOrderStatus", where),
        event_type=_optional(body, "EventType", where),
        shipment_id=_optional(shipment, "AmazonShipmentId", where + "FulfillmentShipment."),
        shipment_status=_optional(shipment, "FulfillmentShipmentStatus", where + "FulfillmentShipment."),
        packages=tuple(packages),
        **_common(n, _optional(body, "SellerId", where)),
    )


def _fields(n: Notification, root: str, wrapper: str, fields: dict[str, str]) -> dict[str, Any]:
    """The event fields of a notification whose payload is one flat object: `fields` maps each
    event field to its key, a key ending in "?" being optional; the seller id comes along."""
    where = f"{root}.{wrapper}."
    body = _object(n.payload, wrapper, root + ".")
    values = {
        name: _optional(body, key[:-1], where) if key.endswith("?") else _text(body, key, where)
        for name, key in fields.items()
    }
    return {**values, **_common(n, _optional(body, "SellerId", where))}


def _outbound_shipment_status(n: Notification) -> OutboundShipmentStatusChanged:
    keys = {"order_id": "AmazonOrderId", "shipment_id": "AmazonShipmentId", "status": "ShipmentStatus"}
    return OutboundShipmentStatusChanged(
        **_fields(n, "Payload", "FBAOutboundShipmentStatusNotification", keys)
    )


def _report_processed(n: Notification) -> ReportProcessed:
    keys = {
        "report_id": "reportId",
        "report_type": "reportType",
        "processing_status": "processingStatus",
        "report_document_id": "reportDocumentId?",
    }
    return ReportProcessed(**_fields(n, "payload", "reportProcessingFinishedNotification", keys))


def _feed_processed(n: Notification) -> FeedProcessed:
    keys = {
        "feed_id": "feedId",
        "feed_type": "feedType",
        "processing_status": "processingStatus",
        "result_document_id": "resultFeedDocumentId?",
    }
    return FeedProcessed(**_fields(n, "payload", "feedProcessingFinishedNotification", keys))


def _listing_quantity_changed(n: Notification) -> ListingQuantityChanged:
    where = "Payload."
    quantity = _int(n.payload, "Quantity", where)
    if quantity < 0:
        raise NotificationError("WRONG_TYPE", f"{where}Quantity is negative ({quantity})")
    return ListingQuantityChanged(
        sku=_text(n.payload, "Sku", where),
        quantity=quantity,
        fulfillment_channel_code=_optional(n.payload, "FulfillmentChannelCode", where) or "DEFAULT",
        **_common(n, _optional(n.payload, "SellerId", where)),
    )


#: One parser per notification type the product handles.
PARSERS: dict[str, Callable[[Notification], AmazonEvent | OrderChanged]] = {
    ORDER_CHANGE: lambda n: to_order_changed(n),
    FBA_INVENTORY_AVAILABILITY_CHANGES: _inventory_changed,
    FULFILLMENT_ORDER_STATUS: _fulfillment_order_status,
    FBA_OUTBOUND_SHIPMENT_STATUS: _outbound_shipment_status,
    REPORT_PROCESSING_FINISHED: _report_processed,
    FEED_PROCESSING_FINISHED: _feed_processed,
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE: _listing_quantity_changed,
}


def to_event(n: Notification) -> AmazonEvent | OrderChanged:
    """The canonical event of a notification of a type the product handles.

    Raises NotificationError: UNSUPPORTED_NOTIFICATION for other types, and the field-level reason
    codes (MISSING_FIELD, WRONG_TYPE, BAD_TIMESTAMP, INVALID_EVENT) for unusable bodies.
    """
    parser = PARSERS.get(n.notification_type.strip().upper())
    if parser is None:
        raise NotificationError(
            "UNSUPPORTED_NOTIFICATION", f"notification type {n.notification_type[:60]!r} is not handled"
        )
    try:
        return parser(n)
    except ValidationError as exc:  # a value the canonical model refuses (e.g. an empty SKU)
        raise NotificationError("INVALID_EVENT", str(exc.errors()[0].get("msg"))) from None


def parse_event(body: str | bytes) -> tuple[Notification, AmazonEvent | OrderChanged]:
    """An SQS message body -> (notification, canonical event). Raises only NotificationError."""
    notification = parse_notification(body)
    return notification, to_event(notification)
