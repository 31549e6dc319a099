"""Canonical events: what intake hands to the flows, whatever the transport (SQS, poll, BOD)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from m3amazon.canonical.order import FulfillmentChannel


class OrderChanged(BaseModel):
    """Amazon says an order changed; the flow re-reads the order itself (notifications carry no prices)."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    marketplace_id: str | None = None
    seller_id: str | None = None
    notification_id: str | None = None
    #: Amazon's v0-style order status from the notification summary ("Unshipped", "Canceled", ...)
    reported_status: str | None = None
    channel: FulfillmentChannel | None = None
    change_type: str | None = None
    event_time: datetime | None = None
    origin: str = "notification"
