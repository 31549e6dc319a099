"""Simulated notification destinations and subscriptions (Notifications API v1).

Destinations belong to the application (grantless calls), subscriptions to the seller. The rules
the simulator enforces, from the model: an SQS destination needs an ARN matching
`^arn:aws:sqs:\\S+:\\S+:\\S+`; a subscription needs a known destination and a payload version that
exists for its type. A second destination for the same ARN, or a second subscription to a type,
is a 409 conflict (the model declares 409 "conflicts with the current state"; Amazon's exact wording
is not documented). getSubscription of a type without a subscription is 404.

Delivery: the simulator has one SQS publisher, which stands for every destination; a notification
type is delivered when it is subscribed (or always, when the account auto-subscribes).

Guarded by the account's lock (see state.py).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from m3amazon.sim.amazon.params import SpApiError, bad, not_found

SQS_ARN = re.compile(r"^arn:aws:sqs:\S+:\S+:\S+")
#: Payload versions per notification type (from the notification schemas and the research notes).
PAYLOAD_VERSIONS: dict[str, tuple[str, ...]] = {
    "ORDER_CHANGE": ("1.0",),
    "FBA_INVENTORY_AVAILABILITY_CHANGES": ("1.0",),
    "FULFILLMENT_ORDER_STATUS": ("1.0",),
    "FBA_OUTBOUND_SHIPMENT_STATUS": ("1.0",),
    "REPORT_PROCESSING_FINISHED": ("2020-09-04",),
    "FEED_PROCESSING_FINISHED": ("2020-09-04",),
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": ("1.0",),
    "LISTINGS_ITEM_STATUS_CHANGE": ("1.0",),
    "LISTINGS_ITEM_ISSUES_CHANGE": ("2023-12-13",),
}


@dataclass
class Destination:
    destination_id: str
    name: str
    arn: str

    def render(self) -> dict[str, Any]:
        return {
            "destinationId": self.destination_id,
            "name": self.name,
            "resource": {"sqs": {"arn": self.arn}},
        }


@dataclass
class Subscription:
    subscription_id: str
    notification_type: str
    payload_version: str
    destination_id: str

    def render(self) -> dict[str, Any]:
        return {
            "subscriptionId": self.subscription_id,
            "payloadVersion": self.payload_version,
            "destinationId": self.destination_id,
        }


def _known_type(notification_type: str) -> str:
    if notification_type not in PAYLOAD_VERSIONS:
        raise bad(f"Invalid notificationType {notification_type[:60]}.")
    return notification_type


class NotificationSetup:
    def __init__(self) -> None:
        self.destinations: dict[str, Destination] = {}
        self.subscriptions: dict[str, Subscription] = {}

    def create_destination(self, body: Any) -> Destination:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
            raise bad("name and resourceSpecification are required.")
        if len(body["name"]) > 256:
            raise bad("name must be at most 256 characters.")
        spec = body.get("resourceSpecification")
        spec = spec if isinstance(spec, dict) else {}
        sqs = spec.get("sqs")
        if not isinstance(sqs, dict) or spec.get("eventBridge") is not None:
            raise bad("resourceSpecification needs exactly one resource; the simulator serves sqs.")
        arn = sqs.get("arn")
        if not isinstance(arn, str) or not SQS_ARN.match(arn) or len(arn) > 1000:
            raise bad("resourceSpecification.sqs.arn is not an SQS queue ARN.")
        if any(d.arn == arn for d in self.destinations.values()):
            raise SpApiError(409, "Conflict", "A destination for this resource already exists.", arn)
        destination = Destination(str(uuid.uuid4()), body["name"], arn)
        self.destinations[destination.destination_id] = destination
        return destination

    def subscription(self, notification_type: str, payload_version: str | None = None) -> Subscription:
        found = self.subscriptions.get(_known_type(notification_type))
        if found is None or (payload_version and found.payload_version != payload_version):
            raise not_found(f"No subscription found for notificationType {notification_type}.")
        return found

    def create_subscription(self, notification_type: str, body: Any) -> Subscription:
        _known_type(notification_type)
        if not isinstance(body, dict):
            raise bad("The request body must be a CreateSubscriptionRequest object.")
        version, destination_id = body.get("payloadVersion"), body.get("destinationId")
        if version not in PAYLOAD_VERSIONS[notification_type]:
            raise bad(f"payloadVersion {str(version)[:20]} is not available for {notification_type}.")
        if destination_id not in self.destinations:
            raise bad(f"destinationId {str(destination_id)[:60]} does not exist.")
        if notification_type in self.subscriptions:
            raise SpApiError(409, "Conflict", f"A subscription for {notification_type} already exists.")
        subscription = Subscription(str(uuid.uuid4()), notification_type, version, destination_id)
        self.subscriptions[notification_type] = subscription
        return subscription

    def delete_subscription(self, notification_type: str, subscription_id: str) -> None:
        found = self.subscriptions.get(_known_type(notification_type))
        if found is None or found.subscription_id != subscription_id:
            raise not_found(f"Subscription {subscription_id[:60]} was not found.")
        del self.subscriptions[notification_type]
