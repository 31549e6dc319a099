"""FBA Inventory API v1: `getInventorySummaries` (granularity Marketplace)."""

from __future__ import annotations

from datetime import datetime

from m3amazon.amazon.models._base import AmazonModel


class ReservedQuantity(AmazonModel):
    total_reserved_quantity: int | None = None
    pending_customer_order_quantity: int | None = None
    pending_transshipment_quantity: int | None = None
    fc_processing_quantity: int | None = None


class UnfulfillableQuantity(AmazonModel):
    total_unfulfillable_quantity: int | None = None


class ResearchingQuantity(AmazonModel):
    total_researching_quantity: int | None = None


class InventoryDetails(AmazonModel):
    fulfillable_quantity: int | None = None
    inbound_working_quantity: int | None = None
    inbound_shipped_quantity: int | None = None
    inbound_receiving_quantity: int | None = None
    reserved_quantity: ReservedQuantity | None = None
    researching_quantity: ResearchingQuantity | None = None
    unfulfillable_quantity: UnfulfillableQuantity | None = None


class InventorySummary(AmazonModel):
    asin: str | None = None
    fn_sku: str | None = None
    seller_sku: str | None = None
    condition: str | None = None
    inventory_details: InventoryDetails | None = None
    last_updated_time: datetime | None = None
    product_name: str | None = None
    total_quantity: int | None = None


class Granularity(AmazonModel):
    granularity_type: str | None = None
    granularity_id: str | None = None


class GetInventorySummariesResult(AmazonModel):
    granularity: Granularity
    inventory_summaries: list[InventorySummary]
