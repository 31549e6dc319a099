"""FBA Inventory summaries -> canonical `InventoryPosition`. Pure.

One position per SKU and marketplace, `source="fba"`, `location` the marketplace id:
- on_hand = fulfillable + reserved (units in Amazon's fulfillment centres that can still be sold or
  are held for orders; unfulfillable and researching units are not on hand for selling),
- reserved = totalReservedQuantity, inbound = working + shipped + receiving,
so `available` (on hand - reserved) is Amazon's fulfillable quantity. Without `details=true` Amazon
gives only totalQuantity, which is then taken as on hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.models.inventory import InventorySummary
from m3amazon.canonical import InventoryPosition


def position(summary: InventorySummary, *, marketplace_id: str, as_of: datetime) -> InventoryPosition:
    if not summary.seller_sku:
        raise AmazonTranslationError(
            "MISSING_SKU", f"an inventory summary without sellerSku ({summary.asin})"
        )
    details = summary.inventory_details
    moment = summary.last_updated_time or as_of
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if details is None:
        return InventoryPosition(
            sku=summary.seller_sku,
            location=marketplace_id,
            on_hand=Decimal(summary.total_quantity or 0),
            as_of=moment,
            source="fba",
        )
    reserved = details.reserved_quantity.total_reserved_quantity if details.reserved_quantity else None
    fulfillable = details.fulfillable_quantity or 0
    inbound = sum(
        q or 0
        for q in (
            details.inbound_working_quantity,
            details.inbound_shipped_quantity,
            details.inbound_receiving_quantity,
        )
    )
    return InventoryPosition(
        sku=summary.seller_sku,
        location=marketplace_id,
        on_hand=Decimal(fulfillable + (reserved or 0)),
        reserved=Decimal(reserved or 0),
        inbound=Decimal(inbound),
        as_of=moment,
        source="fba",
    )
