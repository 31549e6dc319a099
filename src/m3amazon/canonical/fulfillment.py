"""Requests for Amazon to ship an order from FBA stock (Multi-Channel Fulfillment)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from m3amazon.canonical.money import Money
from m3amazon.canonical.party import Address


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
