"""Listings Items v2021-08-01: read a listing, and set its seller-fulfilled (MFN) quantity.

`getListingsItem` and `patchListingsItem` through the library would be conformant when
`marketplaceIds` is passed; they go through `ApiBase.send` anyway so that every module builds its
requests the same way (arrays comma-separated, typed answers parsed inside the retried call).
`ensure_quantity` is the idempotent write: it reads the listing first (which also gives the product
type the patch needs) and patches only when the quantity differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sp_api.asyncio.api import ListingsItems

from m3amazon.amazon.api._base import ApiBase
from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.models.listings import Item, ListingsItemPatchRequest, ListingsItemSubmissionResponse
from m3amazon.amazon.translate.listings import quantity_patch

GET_LISTINGS_ITEM, PATCH_LISTINGS_ITEM = "getListingsItem", "patchListingsItem"
PATH = "/listings/2021-08-01/items/{sellerId}/{sku}"
DEFAULT_INCLUDED = ("summaries", "fulfillmentAvailability", "productTypes")


@dataclass(frozen=True)
class QuantityOutcome:
    sku: str
    quantity: int
    #: None when the listing already had this quantity (nothing was sent).
    submission: ListingsItemSubmissionResponse | None


class ListingsApi(ApiBase):
    library = ListingsItems
    library_version = "2021-08-01"

    async def get(
        self,
        sku: str,
        *,
        marketplace_ids: Sequence[str] | None = None,
        included: Sequence[str] = DEFAULT_INCLUDED,
    ) -> Item:
        return await self.fetch(
            GET_LISTINGS_ITEM,
            "GET",
            PATH,
            Item,
            path_params={"sellerId": self.seller_id, "sku": sku},
            params={
                "marketplaceIds": self.marketplaces(list(marketplace_ids or ())),
                "includedData": list(included),
            },
        )

    async def patch(
        self,
        sku: str,
        patch: ListingsItemPatchRequest,
        *,
        marketplace_ids: Sequence[str] | None = None,
        validate_only: bool = False,
    ) -> ListingsItemSubmissionResponse:
        return await self.fetch(
            PATCH_LISTINGS_ITEM,
            "PATCH",
            PATH,
            ListingsItemSubmissionResponse,
            path_params={"sellerId": self.seller_id, "sku": sku},
            params={
                "marketplaceIds": self.marketplaces(list(marketplace_ids or ())),
                "includedData": ["issues"],
                "mode": "VALIDATION_PREVIEW" if validate_only else None,
            },
            body=patch.to_json(),
        )

    async def ensure_quantity(
        self, sku: str, quantity: int, *, marketplace_id: str | None = None
    ) -> QuantityOutcome:
        """Set the MFN quantity of `sku` in one marketplace, unless it already is `quantity`."""
        marketplace = marketplace_id or self.marketplaces()[0]
        item = await self.get(sku, marketplace_ids=[marketplace])
        if item.mfn_quantity() == quantity:
            return QuantityOutcome(sku, quantity, None)
        product_type = item.product_type(marketplace)
        if not product_type:
            raise AmazonTranslationError(
                "LISTING_WITHOUT_PRODUCT_TYPE", f"listing {sku} shows no product type"
            )
        submission = await self.patch(
            sku, quantity_patch(quantity, product_type), marketplace_ids=[marketplace]
        )
        return QuantityOutcome(sku, quantity, submission)
