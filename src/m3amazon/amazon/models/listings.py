"""Listings Items API v2021-08-01: `getListingsItem` and `patchListingsItem`.

MFN (seller-fulfilled) quantity lives in the `fulfillment_availability` attribute; the read view
shows it as `fulfillmentAvailability[{fulfillmentChannelCode, quantity}]`, channel `DEFAULT` being
the seller's own (research §9).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from m3amazon.amazon.models._base import AmazonModel

MFN_CHANNEL = "DEFAULT"


class ItemSummary(AmazonModel):
    marketplace_id: str
    asin: str | None = None
    product_type: str
    condition_type: str | None = None
    status: list[str]
    fn_sku: str | None = None
    item_name: str | None = None
    created_date: datetime
    last_updated_date: datetime


class FulfillmentAvailability(AmazonModel):
    fulfillment_channel_code: str
    quantity: int | None = Field(default=None, ge=0)


class ItemProductType(AmazonModel):
    marketplace_id: str
    product_type: str


class Issue(AmazonModel):
    code: str
    message: str
    severity: str
    attribute_names: list[str] | None = None
    categories: list[str] = Field(default_factory=list)


class Item(AmazonModel):
    sku: str
    summaries: list[ItemSummary] | None = None
    attributes: dict[str, Any] | None = None
    issues: list[Issue] | None = None
    fulfillment_availability: list[FulfillmentAvailability] | None = None
    product_types: list[ItemProductType] | None = None

    def mfn_quantity(self) -> int | None:
        """The seller-fulfilled quantity (channel DEFAULT), or None when the listing shows none."""
        for entry in self.fulfillment_availability or []:
            if entry.fulfillment_channel_code == MFN_CHANNEL:
                return entry.quantity
        return None

    def product_type(self, marketplace_id: str | None = None) -> str | None:
        """The listing's product type (from productTypes, else summaries), for `marketplace_id`."""
        pairs = [(p.marketplace_id, p.product_type) for p in self.product_types or []]
        pairs += [(s.marketplace_id, s.product_type) for s in self.summaries or []]
        for marketplace, product_type in pairs:
            if marketplace_id is None or marketplace == marketplace_id:
                return product_type
        return None


class PatchOperation(AmazonModel):
    op: str
    path: str
    value: list[dict[str, Any]] | None = None


class ListingsItemPatchRequest(AmazonModel):
    product_type: str
    patches: list[PatchOperation] = Field(min_length=1)


class ListingsItemSubmissionResponse(AmazonModel):
    sku: str
    status: str
    submission_id: str
    issues: list[Issue] | None = None

    @property
    def accepted(self) -> bool:
        return self.status in ("ACCEPTED", "VALID")
