"""Stock positions per item and location, and the quantity offered for sale."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


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
