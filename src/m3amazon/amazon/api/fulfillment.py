"""Fulfillment Outbound v2020-07-01 (Multi-Channel Fulfillment): preview, create, get, list, cancel.

The library's per-operation methods add undeclared marketplace parameters to every one of these
requests, so they go through `ApiBase.send` (see api/_base.py). `ensure_created` is the idempotent
create: Amazon's create answers no id of its own, the seller's `sellerFulfillmentOrderId` is the
key, so it is looked up first (404 -> create).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from sp_api.asyncio.api import FulfillmentOutbound

from m3amazon.amazon.api._base import ApiBase
from m3amazon.amazon.errors import NotFound
from m3amazon.amazon.models import fulfillment_2020 as mcf
from m3amazon.amazon.translate import fulfillment as translate
from m3amazon.canonical import FulfillmentProgress, FulfillmentRequest

BASE = "/fba/outbound/2020-07-01/fulfillmentOrders"
PREVIEW, CREATE, GET, LIST, CANCEL = (
    "getFulfillmentPreview",
    "createFulfillmentOrder",
    "getFulfillmentOrder",
    "listAllFulfillmentOrders",
    "cancelFulfillmentOrder",
)


class FulfillmentApi(ApiBase):
    library = FulfillmentOutbound

    def _marketplace(self, marketplace_id: str | None) -> str:
        return marketplace_id or self.marketplaces()[0]

    async def preview(
        self, request: FulfillmentRequest, *, marketplace_id: str | None = None
    ) -> list[mcf.FulfillmentPreview]:
        body = translate.preview_request(request, marketplace_id=self._marketplace(marketplace_id))
        result = await self.fetch(
            PREVIEW, "POST", BASE + "/preview", mcf.GetFulfillmentPreviewResult, body=body.to_json()
        )
        return result.fulfillment_previews

    async def create(
        self, request: FulfillmentRequest, *, ordered_at: datetime, marketplace_id: str | None = None
    ) -> None:
        body = translate.create_request(
            request, marketplace_id=self._marketplace(marketplace_id), ordered_at=ordered_at
        )
        await self.send(CREATE, "POST", BASE, body=body.to_json())

    async def get(self, request_id: str) -> mcf.GetFulfillmentOrderResult:
        return await self.fetch(
            GET, "GET", BASE + "/{id}", mcf.GetFulfillmentOrderResult, path_params={"id": request_id}
        )

    async def progress(self, request_id: str) -> FulfillmentProgress:
        """The fulfillment order `request_id` in canonical form (NotFound if Amazon does not know it)."""
        return translate.progress(await self.get(request_id))

    async def ensure_created(
        self, request: FulfillmentRequest, *, ordered_at: datetime, marketplace_id: str | None = None
    ) -> tuple[FulfillmentProgress, bool]:
        """(progress, created_now): the order as Amazon has it, created first if it was unknown."""
        try:
            return await self.progress(request.request_id), False
        except NotFound:
            await self.create(request, ordered_at=ordered_at, marketplace_id=marketplace_id)
            return await self.progress(request.request_id), True

    async def list_page(
        self, *, query_start_date: datetime | None = None, next_token: str | None = None
    ) -> mcf.ListAllFulfillmentOrdersResult:
        params = {"nextToken": next_token} if next_token else {"queryStartDate": query_start_date}
        return await self.fetch(LIST, "GET", BASE, mcf.ListAllFulfillmentOrdersResult, params=params)

    async def list_all(
        self, *, query_start_date: datetime | None = None
    ) -> AsyncIterator[mcf.FulfillmentOrder]:
        """Every fulfillment order updated at or after `query_start_date`, page by page."""
        token: str | None = None
        while True:
            page = await self.list_page(query_start_date=query_start_date, next_token=token)
            for order in page.fulfillment_orders:
                yield order
            if not page.next_token:
                return
            token = page.next_token

    async def cancel(self, request_id: str) -> None:
        """Ask Amazon to stop; refused (400) once the order is Processing."""
        await self.send(CANCEL, "PUT", BASE + "/{id}/cancel", path_params={"id": request_id})
