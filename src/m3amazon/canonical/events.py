"""Canonical events: what intake hands to the flows, whatever the transport (SQS, poll, BOD)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from m3amazon.canonical.inventory import InventoryPosition
from m3amazon.canonical.order import FulfillmentChannel
from m3amazon.canonical.shipment import Package


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
    #: When the order changed (ORDER_CHANGE's OrderChangeTrigger.TimeOfOrderChange; for the catch-up
    #: poll, the order's lastUpdatedTime). An order read for this event must be at least this new.
    changed_at: datetime | None = None
    #: Items Amazon reports as shipped (Summary.NumberOfItemsShipped): partial shipments of one
    #: status are different changes.
    items_shipped: int | None = None

    @property
    def change_time(self) -> datetime | None:
        """The time a fetched order must reflect: the change's own time, else the event's."""
        return self.changed_at or self.event_time


class AmazonEvent(BaseModel):
    """What every Amazon notification event below carries besides its own facts."""

    model_config = ConfigDict(frozen=True)

    notification_id: str | None = None
    seller_id: str | None = None
    event_time: datetime | None = None
    origin: str = "notification"


class InventoryChanged(AmazonEvent):
    """FBA stock of one SKU changed (FBA_INVENTORY_AVAILABILITY_CHANGES): one position per
    marketplace (`location` is the marketplace id, `source` "fba")."""

    sku: str
    asin: str | None = None
    fnsku: str | None = None
    positions: tuple[InventoryPosition, ...] = ()


class FulfillmentOrderStatusChanged(AmazonEvent):
    """An MCF order moved (FULFILLMENT_ORDER_STATUS). Amazon's value sets for `event_type` and the
    statuses are undocumented (research §5.3), so they stay the strings Amazon sent."""

    request_id: str
    status: str
    event_type: str | None = None
    shipment_id: str | None = None
    shipment_status: str | None = None
    packages: tuple[Package, ...] = ()


class OutboundShipmentStatusChanged(AmazonEvent):
    """An FBA shipment of an Amazon order changed (FBA_OUTBOUND_SHIPMENT_STATUS)."""

    order_id: str
    shipment_id: str
    status: str


class ReportProcessed(AmazonEvent):
    """A report finished (REPORT_PROCESSING_FINISHED): DONE, CANCELLED or FATAL."""

    report_id: str
    report_type: str
    processing_status: str
    report_document_id: str | None = None


class FeedProcessed(AmazonEvent):
    """A feed finished (FEED_PROCESSING_FINISHED): DONE, CANCELLED or FATAL."""

    feed_id: str
    feed_type: str
    processing_status: str
    result_document_id: str | None = None


class ListingQuantityChanged(AmazonEvent):
    """The seller-fulfilled quantity of a listing changed (LISTINGS_ITEM_MFN_QUANTITY_CHANGE)."""

    sku: str
    quantity: int
    fulfillment_channel_code: str = "DEFAULT"
