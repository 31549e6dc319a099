"""Set up the SQS destination and the subscriptions the product uses, idempotently.

`m3amazon amazon subscribe` runs this. Each step looks before it writes: an existing destination
for the same queue ARN is reused (destinations are per application, so another seller of the same
app may have created it), and for each notification type getSubscription comes first. A
subscription that points to another destination is left alone and reported, unless `replace` is
given: then it is deleted and created again for ours. Running it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from m3amazon.amazon.api.notifications import NotificationsApi
from m3amazon.config import AmazonSettings, SqsSettings

#: The notification types the product handles, with the payload version it reads.
PRODUCT_SUBSCRIPTIONS: dict[str, str] = {
    "ORDER_CHANGE": "1.0",
    "FBA_INVENTORY_AVAILABILITY_CHANGES": "1.0",
    "FULFILLMENT_ORDER_STATUS": "1.0",
    "FBA_OUTBOUND_SHIPMENT_STATUS": "1.0",
    "REPORT_PROCESSING_FINISHED": "2020-09-04",
    "FEED_PROCESSING_FINISHED": "2020-09-04",
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": "1.0",
}


class Action(StrEnum):
    CREATED = "created"
    KEPT = "kept"
    REPLACED = "replaced"
    ELSEWHERE = "points to another destination"


@dataclass(frozen=True)
class SubscriptionResult:
    notification_type: str
    action: Action
    subscription_id: str
    destination_id: str


@dataclass
class SubscribeResult:
    destination_id: str
    destination_created: bool
    subscriptions: list[SubscriptionResult] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.destination_created or any(
            s.action in (Action.CREATED, Action.REPLACED) for s in self.subscriptions
        )


async def ensure_subscriptions(
    api: NotificationsApi,
    queue_arn: str,
    *,
    name: str = "m3amazon",
    types: Sequence[str] | None = None,
    replace: bool = False,
) -> SubscribeResult:
    """The destination for `queue_arn` and a subscription per type, created only where missing."""
    wanted = list(types or PRODUCT_SUBSCRIPTIONS)
    unknown = [t for t in wanted if t not in PRODUCT_SUBSCRIPTIONS]
    if unknown:
        raise ValueError(f"not a notification type the product handles: {', '.join(unknown)}")
    existing = [d for d in await api.destinations() if d.sqs_arn == queue_arn]
    if existing:
        destination, created = existing[0], False
    else:
        destination, created = await api.create_destination(name, queue_arn), True
    result = SubscribeResult(destination.destination_id, created)
    for notification_type in wanted:
        version = PRODUCT_SUBSCRIPTIONS[notification_type]
        current = await api.subscription(notification_type, version)
        if current is not None and current.destination_id == destination.destination_id:
            action, subscription = Action.KEPT, current
        elif current is not None and not replace:
            action, subscription = Action.ELSEWHERE, current
        else:
            if current is not None:
                await api.delete_subscription(notification_type, current.subscription_id)
            subscription = await api.create_subscription(
                notification_type, destination.destination_id, version
            )
            action = Action.REPLACED if current is not None else Action.CREATED
        result.subscriptions.append(
            SubscriptionResult(
                notification_type, action, subscription.subscription_id, subscription.destination_id
            )
        )
    return result


def queue_arn(sqs: SqsSettings) -> str:
    """The ARN of the configured SQS queue, asked of SQS itself (GetQueueAttributes QueueArn)."""
    if not sqs.queue_url:
        raise ValueError("amazon.sqs.queue_url is not set; give --queue-arn or configure the queue")
    import boto3

    client = boto3.client(
        "sqs",
        endpoint_url=sqs.endpoint_url,
        region_name=sqs.region,
        aws_access_key_id=sqs.access_key_id,
        aws_secret_access_key=sqs.secret_access_key.get_secret_value() if sqs.secret_access_key else None,
    )
    try:
        attributes = client.get_queue_attributes(QueueUrl=sqs.queue_url, AttributeNames=["QueueArn"])
    finally:
        client.close()
    return str(attributes["Attributes"]["QueueArn"])


async def subscribe(
    settings: AmazonSettings,
    arn: str,
    *,
    name: str = "m3amazon",
    types: Sequence[str] | None = None,
    replace: bool = False,
) -> SubscribeResult:
    """`ensure_subscriptions` with a gateway built from `settings` (the CLI's entry point)."""
    from m3amazon.amazon.gateway import AmazonGateway

    async with AmazonGateway(settings) as gateway:
        return await ensure_subscriptions(
            NotificationsApi(gateway), arn, name=name, types=types, replace=replace
        )
