"""FBA Inventory v1 `getInventorySummaries`: FBA stock per SKU for one marketplace.

The library's method sends the model's parameters when `marketplaceIds` is given (it then adds no
defaults), but it would also let `granularityId` default to the client's marketplace, so the
request is built here explicitly and sent through `ApiBase.send` like the others.
Pagination tokens expire after 30 seconds (model text), so pages are fetched one after another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from sp_api.asyncio.api import Inventories

from m3amazon.amazon.api._base import ApiBase
from m3amazon.amazon.models.inventory import GetInventorySummariesResult, InventorySummary
from m3amazon.amazon.translate.inventory import position
from m3amazon.canonical import InventoryPosition

GET_INVENTORY_SUMMARIES = "getInventorySummaries"
PATH = "/fba/inventory/v1/summaries"
MAX_SKUS = 50


class InventoryApi(ApiBase):
    library = Inventories

    async def summaries(
        self,
        marketplace_id: str | None = None,
        *,
        skus: Sequence[str] | None = None,
        start: datetime | None = None,
        details: bool = True,
    ) -> AsyncIterator[InventorySummary]:
        """Every summary for `marketplace_id` (all SKUs, or up to 50 `skus`), changed since `start`."""
        if skus is not None and len(skus) > MAX_SKUS:
            raise ValueError(f"getInventorySummaries takes at most {MAX_SKUS} SKUs per call")
        marketplace = marketplace_id or self.marketplaces()[0]
        token: str | None = None
        while True:
            params = {
                "details": details,
                "granularityType": "Marketplace",
                "granularityId": marketplace,
                "marketplaceIds": [marketplace],
                "startDateTime": start,
                "sellerSkus": list(skus) if skus else None,
                "nextToken": token,
            }
            response, page = await self.send(
                GET_INVENTORY_SUMMARIES, "GET", PATH, params=params, model=GetInventorySummariesResult
            )
            assert page is not None
            for summary in page.inventory_summaries:
                yield summary
            token = response.next_token
            if not token:
                return

    async def positions(
        self, marketplace_id: str | None = None, *, skus: Sequence[str] | None = None
    ) -> list[InventoryPosition]:
        """Canonical FBA positions for `marketplace_id` (location = the marketplace id)."""
        marketplace = marketplace_id or self.marketplaces()[0]
        now = datetime.now(UTC)
        return [
            position(summary, marketplace_id=marketplace, as_of=now)
            async for summary in self.summaries(marketplace, skus=skus)
        ]
