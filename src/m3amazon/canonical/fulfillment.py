"""Requests for Amazon to ship an order from FBA stock (Multi-Channel Fulfillment), and how far
Amazon has got with one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from m3amazon.canonical.money import Money
from m3amazon.canonical.party import Address
from m3amazon.canonical.shipment import Shipment


class ShippingSpeed(StrEnum):
    STANDARD = "Standard"
    EXPEDITED = "Expedited"
    PRIORITY = "Priority"
    SCHEDULED_DELIVERY = "ScheduledDelivery"


class FulfillmentLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_id: str = Field(max_length=50)
    sku: str
    quantity: int = Field(gt=0)
    declared_unit_value: Money | None = None


class FulfillmentRequest(BaseModel):
    """`request_id` becomes Amazon's sellerFulfillmentOrderId (at most 40 characters)."""

    model_config = ConfigDict(frozen=True)

    request_id: str = Field(max_length=40)
    displayable_order_id: str = Field(max_length=40)
    m3_order_number: str
    ship_to: Address
    speed: ShippingSpeed = ShippingSpeed.STANDARD
    lines: tuple[FulfillmentLine, ...]
    comment: str | None = Field(default=None, max_length=750)
    #: Amazon's fulfillmentPolicy when stock is short (None: Amazon's default, FillOrKill).
    policy: str | None = None


class FulfillmentStatus(StrEnum):
    """Where a fulfillment request stands at Amazon (MCF's FulfillmentOrderStatus, canonical spelling).

    Amazon accepts a cancellation only while the order is NEW, RECEIVED or PLANNING.
    """

    NEW = "NEW"
    RECEIVED = "RECEIVED"
    PLANNING = "PLANNING"
    PROCESSING = "PROCESSING"
    CANCELLED = "CANCELLED"
    COMPLETE = "COMPLETE"
    COMPLETE_PARTIALLED = "COMPLETE_PARTIALLED"
    UNFULFILLABLE = "UNFULFILLABLE"
    INVALID = "INVALID"

    @property
    def cancellable(self) -> bool:
        return self in {FulfillmentStatus.NEW, FulfillmentStatus.RECEIVED, FulfillmentStatus.PLANNING}

    @property
    def final(self) -> bool:
        return self in {
            FulfillmentStatus.CANCELLED,
            FulfillmentStatus.COMPLETE,
            FulfillmentStatus.COMPLETE_PARTIALLED,
            FulfillmentStatus.UNFULFILLABLE,
            FulfillmentStatus.INVALID,
        }


class FulfillmentLineProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_id: str
    sku: str
    quantity: int = Field(ge=0)
    cancelled: int = Field(default=0, ge=0)
    unfulfillable: int = Field(default=0, ge=0)


class FulfillmentProgress(BaseModel):
    """A fulfillment request as Amazon reports it: status, lines and what has shipped so far.

    Why its own type: the MCF flow decides from it (wait, record shipments, open an incident for
    unfulfillable lines) without knowing Amazon's document shapes.
    """

    model_config = ConfigDict(frozen=True)

    request_id: str = Field(max_length=40)
    status: FulfillmentStatus
    status_updated_at: datetime
    lines: tuple[FulfillmentLineProgress, ...] = ()
    shipments: tuple[Shipment, ...] = ()
