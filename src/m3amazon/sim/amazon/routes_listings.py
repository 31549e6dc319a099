"""Listings Items v2021-08-01 getListingsItem and patchListingsItem, on the simulated listings.

The SKU must be the caller's (`sellerId` is the account's seller id, else 403 as for another
seller's resource); an unknown SKU is 404. patchListingsItem answers 200 with status ACCEPTED or
INVALID and the issues (listings.apply_patches), VALID/INVALID in mode VALIDATION_PREVIEW, and a
changed MFN quantity sends LISTINGS_ITEM_MFN_QUANTITY_CHANGE.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from m3amazon.sim.amazon import lifecycle
from m3amazon.sim.amazon.listings import Listing, render_item
from m3amazon.sim.amazon.params import Params, SpApiError, bad
from m3amazon.sim.amazon.simulator import AmazonSimulator

PATH = "/listings/2021-08-01/items/{sellerId}/{sku}"
GET_INCLUDED = (
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
)


def _listings(sim: AmazonSimulator, seller_id: str, sku: str, params: Params) -> list[Listing]:
    if seller_id != sim.account.seller_id:
        raise SpApiError(
            403, "Unauthorized", "Access to requested resource is denied.", "sellerId is not yours."
        )
    marketplaces = params.list("marketplaceIds")
    if not marketplaces:
        raise bad("Missing required parameter marketplaceIds.")
    found = [sim.account.listings.get(sku, m) for m in marketplaces]
    if any(f is None for f in found):
        raise SpApiError(
            404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace(s) {','.join(marketplaces)}"
        )
    return [f for f in found if f is not None]


def router(sim: AmazonSimulator) -> APIRouter:
    routes = APIRouter()

    @routes.get(PATH)
    async def get_item(sellerId: str, sku: str, request: Request) -> Response:
        def run() -> dict[str, Any]:
            params = Params(
                request.query_params.multi_items(), ("marketplaceIds", "issueLocale", "includedData")
            )
            included = params.list("includedData", allowed=GET_INCLUDED) or ["summaries"]
            return render_item(_listings(sim, sellerId, sku, params), included)

        return await sim.serve(request, "getListingsItem", run)

    @routes.patch(PATH)
    async def patch_item(sellerId: str, sku: str, request: Request) -> Response:
        def run(body: Any) -> dict[str, Any]:
            params = Params(
                request.query_params.multi_items(), ("marketplaceIds", "includedData", "mode", "issueLocale")
            )
            included = params.list("includedData", allowed=("identifiers", "issues"))
            mode = params.get("mode")
            if mode not in (None, "VALIDATION_PREVIEW"):
                raise bad("mode must be VALIDATION_PREVIEW.")
            listings = _listings(sim, sellerId, sku, params)
            if (
                not isinstance(body, dict)
                or not isinstance(body.get("productType"), str)
                or "patches" not in body
            ):
                raise bad("The body must be a ListingsItemPatchRequest with productType and patches.")
            now = sim.now()
            outcome = None
            for listing in listings:  # validate everywhere first: all marketplaces or none
                outcome = sim.account.listings.apply_patches(
                    listing, body["productType"], body["patches"], now, validate_only=True
                )
                if outcome.issues:
                    break
            assert outcome is not None
            if not outcome.issues and mode is None:
                for listing in listings:
                    outcome = sim.account.listings.apply_patches(
                        listing, body["productType"], body["patches"], now
                    )
                    if outcome.quantity_change is not None:
                        lifecycle.notify_listing_quantity(sim.account, sku, outcome.quantity_change[1], now)
            answer: dict[str, Any] = {
                "sku": sku,
                "status": outcome.status,
                "submissionId": outcome.submission_id,
            }
            if "issues" in included or not included:
                answer["issues"] = outcome.issues
            if "identifiers" in included:
                answer["identifiers"] = [
                    {"marketplaceId": x.marketplace_id, "asin": x.item.asin} for x in listings
                ]
            return answer

        return await sim.serve(request, "patchListingsItem", run, with_body=True)

    return routes
