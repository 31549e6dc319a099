"""Customer orders in canonical form: what every flow reasons about, whatever system it came from."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from m3amazon.canonical.money import Money
from m3amazon.canonical.party import Address, Party


class OrderStatus(StrEnum):
    """Where an order stands at its marketplace (Amazon's fulfillment status, canonical spelling)."""

    PENDING_AVAILABILITY = "PENDING_AVAILABILITY"
    PENDING = "PENDING"
    UNSHIPPED = "UNSHIPPED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    UNFULFILLABLE = "UNFULFILLABLE"

    @property
    def is_released(self) -> bool:
        """Amazon has released the order for fulfillment (payment authorised, address known)."""
        return self in {OrderStatus.UNSHIPPED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED}


class FulfillmentChannel(StrEnum):
    """Who ships the order: Amazon (FBA, 'AFN') or the seller (FBM/MFN, 'MFN')."""

    AMAZON = "AMAZON"
    MERCHANT = "MERCHANT"


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_id: str = Field(description="Marketplace line identifier (Amazon orderItemId)")
    sku: str = Field(description="Seller SKU")
    asin: str | None = None
    fnsku: str | None = None
    title: str | None = None
    quantity: int = Field(ge=0)
    #: How many of `quantity` Amazon reports as shipped (Orders v2026 quantityFulfilled)
    quantity_shipped: int = Field(default=0, ge=0)
    unit_price: Money
    tax: Money | None = None
    shipping: Money | None = None
    shipping_tax: Money | None = None
    promotion_discount: Money | None = None
    gift_wrap: Money | None = None

    @property
    def line_amount(self) -> Money:
        return self.unit_price * self.quantity


class Order(BaseModel):
    """A marketplace order. `order_id` is the marketplace's own identifier (the natural key)."""

    model_config = ConfigDict(frozen=True)

    source: str = "amazon"
    order_id: str
    marketplace_id: str
    seller_id: str | None = None
    status: OrderStatus
    channel: FulfillmentChannel
    created_at: datetime
    updated_at: datetime
    currency: str
    lines: tuple[OrderLine, ...]
    buyer: Party | None = None
    ship_to: Address | None = None
    order_total: Money | None = None
    service_level: str | None = None
    is_business: bool = False
    is_prime: bool = False

    @model_validator(mode="after")
    def _one_currency(self) -> Order:
        for line in self.lines:
            if line.unit_price.currency != self.currency:
                raise ValueError(
                    f"line {line.line_id} is priced in {line.unit_price.currency}, order in {self.currency}"
                )
        return self

    @property
    def goods_total(self) -> Money:
        return Money.sum((line.line_amount for line in self.lines), self.currency)
