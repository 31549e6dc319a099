"""Orders API v0: the request body of `confirmShipment` (the only v0 operation the product uses).

The v0 read operations are deprecated (research §1); orders are read with v2026-01-01.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from m3amazon.amazon.models._base import AmazonModel


class ConfirmShipmentOrderItem(AmazonModel):
    order_item_id: str
    quantity: int = Field(gt=0)
    transparency_codes: list[str] | None = None


class PackageDetail(AmazonModel):
    package_reference_id: str
    carrier_code: str
    carrier_name: str | None = None
    shipping_method: str | None = None
    tracking_number: str
    ship_date: datetime
    ship_from_supply_source_id: str | None = None
    order_items: list[ConfirmShipmentOrderItem] = Field(min_length=1)


class ConfirmShipmentRequest(AmazonModel):
    marketplace_id: str
    package_detail: PackageDetail
    cod_collection_method: str | None = None
