"""Stock positions per item and location, and the quantity offered for sale."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class InventoryPosition(BaseModel):
    """One item at one location at one moment. Quantities are Decimal: M3 balances may be fractional."""

    model_config = ConfigDict(frozen=True)

    sku: str | None = None
    item_number: str | None = None
    location: str = Field(description="M3 warehouse (WHLO) or Amazon fulfillment network/marketplace")
    on_hand: Decimal = Decimal(0)
    allocated: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)
    inbound: Decimal = Decimal(0)
    as_of: datetime
    source: str = Field(description="'m3' or 'fba'")

    @property
    def available(self) -> Decimal:
        """On hand minus allocated minus reserved, never below zero."""
        return max(Decimal(0), self.on_hand - self.allocated - self.reserved)


class InventoryAdjustment(BaseModel):
    """A change of an on-hand balance by a signed quantity (MMS850MI AddAdjust, Sync InventoryAdjustment).

    `adjustment_id` is the natural key (a BOD's document id, an Amazon adjustment id), so applying
    the same adjustment twice can be recognised.
    """

    model_config = ConfigDict(frozen=True)

    adjustment_id: str
    item_number: str | None = None
    sku: str | None = None
    location: str = Field(description="M3 warehouse (WHLO) or Amazon fulfillment network")
    quantity: Decimal = Field(description="Signed: positive adds stock, negative removes it")
    reason: str | None = None
    adjusted_at: datetime

    @model_validator(mode="after")
    def _identified(self) -> InventoryAdjustment:
        if not (self.item_number or self.sku):
            raise ValueError("an inventory adjustment needs an item number or a SKU")
        if self.quantity == 0:
            raise ValueError("an inventory adjustment of zero changes nothing")
        return self
