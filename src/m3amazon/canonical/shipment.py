"""Shipments: what left a warehouse, for which order lines, with which carrier and tracking."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ShipmentLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_id: str | None = None
    sku: str
    quantity: int = Field(gt=0)
    #: M3's item number, when the shipment comes from M3 (its `sku` is then the item's Amazon alias
    #: if M3 knows one, else the item number).
    item_number: str | None = None


class Package(BaseModel):
    model_config = ConfigDict(frozen=True)

    carrier: str | None = None
    tracking_number: str | None = None
    ship_method: str | None = None


class Shipment(BaseModel):
    model_config = ConfigDict(frozen=True)

    shipment_id: str
    order_id: str
    source: str = Field(description="Who shipped: 'fba', 'mcf' or 'm3'")
    shipped_at: datetime
    lines: tuple[ShipmentLine, ...]
    packages: tuple[Package, ...] = ()
