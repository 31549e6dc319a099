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
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from m3amazon.canonical import FulfillmentChannel, OrderChanged

ORDER_CHANGE = "ORDER_CHANGE"
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
        )
    except ValidationError as exc:  # defensive: every field is already checked above
        raise NotificationError("INVALID_EVENT", str(exc.errors()[0].get("msg"))) from None
