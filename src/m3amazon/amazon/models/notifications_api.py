"""Notifications API v1: destinations and subscriptions (the v0-style `{payload, errors}` wrapper)."""

from __future__ import annotations

from m3amazon.amazon.models._base import AmazonModel


class SqsResource(AmazonModel):
    arn: str


class DestinationResource(AmazonModel):
    sqs: SqsResource | None = None


class Destination(AmazonModel):
    destination_id: str
    name: str
    resource: DestinationResource

    @property
    def sqs_arn(self) -> str | None:
        return self.resource.sqs.arn if self.resource.sqs else None


class Subscription(AmazonModel):
    subscription_id: str
    payload_version: str
    destination_id: str
