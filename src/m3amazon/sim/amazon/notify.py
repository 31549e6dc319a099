"""ORDER_CHANGE notifications as Amazon sends them to an SQS destination, and a publisher for them.

The envelope follows schemas/notifications/OrderChangeNotification.json (checked by a reference
test): PascalCase keys, `Payload.OrderChangeNotification` with the v0-style `Summary.OrderStatus`
spelling ("Unshipped", "Canceled", ...), and `NotificationMetadata.NotificationId` unique per
notification. A re-delivered duplicate is the very same message body, NotificationId included,
which is what the intake's idempotency must absorb.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from m3amazon.canonical import FulfillmentChannel, Order, OrderStatus
from m3amazon.sim.amazon.envelopes import ms as _ms
from m3amazon.sim.amazon.state import SellerAccount

#: Canonical (v2026) status -> the v0 spelling that ORDER_CHANGE summaries use.
V0_STATUS = {
    OrderStatus.PENDING_AVAILABILITY: "PendingAvailability",
    OrderStatus.PENDING: "Pending",
    OrderStatus.UNSHIPPED: "Unshipped",
    OrderStatus.PARTIALLY_SHIPPED: "PartiallyShipped",
    OrderStatus.SHIPPED: "Shipped",
    OrderStatus.CANCELLED: "Canceled",
    OrderStatus.UNFULFILLABLE: "Unfulfillable",
}
_CHANGE_REASONS = {
    "OrderStatusChange": "Order status changed",
    "BuyerRequestedChange": "Buyer Requested Cancel",
    "DeliveryTipChange": "Delivery tip changed",
}


def order_change_notification(
    order: Order,
    *,
    seller_id: str,
    application_id: str,
    notification_id: str,
    subscription_id: str,
    change_type: str = "OrderStatusChange",
    published: datetime | None = None,
    shipped_quantities: dict[str, int] | None = None,
    buyer_requested_cancel: bool = False,
) -> dict[str, Any]:
    """The ORDER_CHANGE envelope for `order` in its current state (`shipped_quantities` per
    orderItemId for partly shipped orders; `buyer_requested_cancel` flags every item)."""
    published = published or datetime.now(UTC)
    shipped = order.status is OrderStatus.SHIPPED
    quantities = shipped_quantities or {}
    items = []
    for line in order.lines:
        done = line.quantity if shipped else min(line.quantity, quantities.get(line.line_id, 0))
        item: dict[str, Any] = {
            "OrderItemId": line.line_id,
            "SellerSKU": line.sku,
            "SupplySourceId": None,
            "OrderItemStatus": "Shipped" if done == line.quantity and line.quantity else "Unshipped",
            "Quantity": line.quantity,
            "QuantityShipped": done,
        }
        if buyer_requested_cancel:
            item["IsBuyerRequestedCancel"] = True
        items.append(item)
    quantity = sum(line.quantity for line in order.lines)
    programs = [p for p, on in (("Prime", order.is_prime), ("Business", order.is_business)) if on]
    summary: dict[str, Any] = {
        "MarketplaceId": order.marketplace_id,
        "OrderStatus": V0_STATUS[order.status],
        "PurchaseDate": _ms(order.created_at),
        "DestinationPostalCode": order.ship_to.postal_code if order.ship_to else None,
        "FulfillmentType": "AFN" if order.channel is FulfillmentChannel.AMAZON else "MFN",
        "OrderType": "StandardOrder",
        "NumberOfItemsShipped": sum(i["QuantityShipped"] for i in items),
        "NumberOfItemsUnshipped": quantity - sum(i["QuantityShipped"] for i in items),
        "OrderItems": items,
    }
    if programs:
        summary["OrderPrograms"] = programs
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": _ms(published),
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": seller_id,
                "AmazonOrderId": order.order_id,
                "OrderChangeType": change_type,
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": _ms(order.updated_at),
                    "ChangeReason": _CHANGE_REASONS.get(change_type, "Order changed"),
                },
                "Summary": summary,
            }
        },
        "NotificationMetadata": {
            "ApplicationId": application_id,
            "SubscriptionId": subscription_id,
            "PublishTime": _ms(published),
            "NotificationId": notification_id,
        },
    }


class Publisher(Protocol):
    """Where notification bodies go (SQS in the demo and tests, a list in unit tests)."""

    def send(self, bodies: Sequence[str]) -> int: ...


class ListPublisher:
    """Keeps the bodies in memory (for unit tests and runs without SQS)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, bodies: Sequence[str]) -> int:
        self.bodies.extend(bodies)
        return len(bodies)


class SqsPublisher:
    """Sends bodies to one SQS queue with send_message_batch (10 per call, SQS's maximum)."""

    def __init__(
        self,
        endpoint_url: str | None,
        queue_url: str,
        region: str = "us-east-1",
        *,
        access_key_id: str = "testing",
        secret_access_key: str = "testing",
    ) -> None:
        import boto3  # the simulator's dependency, not the worker's

        self.queue_url = queue_url
        self._sqs = boto3.client(
            "sqs",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    def __repr__(self) -> str:
        return f"SqsPublisher(queue_url={self.queue_url!r})"

    def send(self, bodies: Sequence[str]) -> int:
        sent = 0
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
            result = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed = result.get("Failed") or []
            if failed:
                raise RuntimeError(f"SQS refused {len(failed)} of {len(chunk)} messages: {failed[0]}")
            sent += len(chunk)
        return sent

    def close(self) -> None:
        self._sqs.close()


class PacedSqsPublisher(SqsPublisher):
    """An SqsPublisher that waits while the queue holds more than `max_depth` visible messages.

    moto's SQS costs O(queue depth) per call, so a long run published in one go would measure moto,
    not the product. Pacing keeps the queue shallow while the consumer still never runs dry.
    """

    def __init__(self, *args: Any, max_depth: int = 50, poll_s: float = 0.02, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_depth = max_depth
        self.poll_s = poll_s

    def _depth(self) -> int:
        attrs = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    def send(self, bodies: Sequence[str]) -> int:
        sent = 0
        for start in range(0, len(bodies), 10):
            while self._depth() > self.max_depth:
                time.sleep(self.poll_s)
            sent += super().send(bodies[start : start + 10])
        return sent


@dataclass(frozen=True)
class PublishResult:
    notifications: int
    duplicates: int
    notification_ids: list[str]

    @property
    def sent(self) -> int:
        return self.notifications + self.duplicates


def publish_order_changes(
    account: SellerAccount,
    publisher: Publisher,
    ids: Iterable[str],
    *,
    duplicate_share: float = 0.0,
    seed: int = 0,
    change_type: str = "OrderStatusChange",
) -> PublishResult:
    """One ORDER_CHANGE per order id, plus re-deliveries of a `duplicate_share` of them.

    Duplicates repeat the original body byte for byte and are sent after all originals (Amazon
    re-delivers later, not next to the original).
    """
    rng = random.Random(seed)
    # NotificationIds are random, as Amazon's are: a repeated seed must never repeat an id, or the
    # intake would take a new notification for a duplicate. Only the choice of duplicates is seeded.
    subscription_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim:{account.seller_id}:ORDER_CHANGE"))
    bodies: list[str] = []
    notification_ids: list[str] = []
    for order_id in ids:
        order = account.get_order(order_id)
        if order is None:
            raise KeyError(f"unknown order {order_id}")
        notification_id = str(uuid.uuid4())
        envelope = order_change_notification(
            order,
            seller_id=account.seller_id,
            application_id=account.application_id,
            notification_id=notification_id,
            subscription_id=subscription_id,
            change_type=change_type,
        )
        bodies.append(json.dumps(envelope, ensure_ascii=False))
        notification_ids.append(notification_id)
    duplicates = [body for body in bodies if rng.random() < duplicate_share]
    sent = publisher.send(bodies + duplicates)
    account.count_notifications(sent)
    return PublishResult(len(bodies), len(duplicates), notification_ids)
