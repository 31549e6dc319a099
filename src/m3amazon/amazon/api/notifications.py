"""Notifications v1: destinations (grantless) and subscriptions.

Grantless operations (createDestination, getDestinations, deleteSubscriptionById) get a
client-credentials token with scope `sellingpartnerapi::notifications` from the gateway (see
`GRANTLESS_OPERATIONS`); the others the seller's token. The library would fetch grantless tokens
with its own LWA client and adds marketplace parameters to the subscription calls, so all of them
go through `ApiBase.send`.
"""

from __future__ import annotations

from pydantic import RootModel
from sp_api.asyncio.api import Notifications

from m3amazon.amazon.api._base import ApiBase
from m3amazon.amazon.errors import NotFound
from m3amazon.amazon.models.notifications_api import Destination, Subscription

GET_DESTINATIONS, CREATE_DESTINATION = "getDestinations", "createDestination"
GET_SUBSCRIPTION, CREATE_SUBSCRIPTION, DELETE_SUBSCRIPTION = (
    "getSubscription",
    "createSubscription",
    "deleteSubscriptionById",
)
BASE = "/notifications/v1"


class _Destinations(RootModel[list[Destination]]):
    pass


class NotificationsApi(ApiBase):
    library = Notifications

    async def destinations(self) -> list[Destination]:
        return (await self.fetch(GET_DESTINATIONS, "GET", BASE + "/destinations", _Destinations)).root

    async def create_destination(self, name: str, sqs_arn: str) -> Destination:
        body = {"name": name, "resourceSpecification": {"sqs": {"arn": sqs_arn}}}
        return await self.fetch(CREATE_DESTINATION, "POST", BASE + "/destinations", Destination, body=body)

    async def subscription(
        self, notification_type: str, payload_version: str | None = None
    ) -> Subscription | None:
        """The seller's subscription to `notification_type`, or None when there is none."""
        try:
            return await self.fetch(
                GET_SUBSCRIPTION,
                "GET",
                BASE + "/subscriptions/{type}",
                Subscription,
                path_params={"type": notification_type},
                params={"payloadVersion": payload_version},
            )
        except NotFound:
            return None

    async def create_subscription(
        self, notification_type: str, destination_id: str, payload_version: str
    ) -> Subscription:
        return await self.fetch(
            CREATE_SUBSCRIPTION,
            "POST",
            BASE + "/subscriptions/{type}",
            Subscription,
            path_params={"type": notification_type},
            body={"payloadVersion": payload_version, "destinationId": destination_id},
        )

    async def delete_subscription(self, notification_type: str, subscription_id: str) -> None:
        await self.send(
            DELETE_SUBSCRIPTION,
            "DELETE",
            BASE + "/subscriptions/{type}/{id}",
            path_params={"type": notification_type, "id": subscription_id},
        )
