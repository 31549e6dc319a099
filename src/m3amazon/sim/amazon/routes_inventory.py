"""FBA Inventory v1 getInventorySummaries (granularity Marketplace), from the simulated FBA stock.

Model rules enforced: granularityType Marketplace, granularityId and marketplaceIds (one) required
and equal, at most 50 sellerSkus, startDateTime returns only SKUs changed since then, 50 summaries
per page with a nextToken (Amazon's expire after 30 seconds; the simulator's after 30 s / time
scale).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from m3amazon.sim.amazon import lifecycle
from m3amazon.sim.amazon.inventory import render_summary
from m3amazon.sim.amazon.params import Params, bad, fingerprint, make_token, page, read_token
from m3amazon.sim.amazon.simulator import AmazonSimulator

PAGE_SIZE = 50
TOKEN_LIFETIME_S = 30.0
_PARAMS = (
    "details",
    "granularityType",
    "granularityId",
    "startDateTime",
    "sellerSkus",
    "sellerSku",
    "nextToken",
    "marketplaceIds",
)


def summaries(sim: AmazonSimulator, params: Params) -> dict[str, Any]:
    account = sim.account
    if params.required("granularityType") != "Marketplace":
        raise bad("granularityType must be Marketplace.")
    granularity_id = params.required("granularityId")
    marketplaces = params.list("marketplaceIds", max_items=1)
    if marketplaces != [granularity_id]:
        raise bad("marketplaceIds must name the one marketplace given as granularityId.")
    if granularity_id not in account.marketplaces:
        raise bad(f"The seller does not sell in marketplace {granularity_id}.")
    details = params.bool("details")
    single = params.get("sellerSku")
    skus = params.list("sellerSkus", max_items=50) or ([single] if single else [])
    since = params.time("startDateTime")
    filters = fingerprint({"m": granularity_id, "s": sorted(skus), "t": str(since), "d": details})
    offset = 0
    if params.get("nextToken") is not None:
        data = read_token(str(params.get("nextToken")), filters)
        if time.time() > float(data["x"]):
            raise bad("The nextToken has expired.")
        offset = int(data["o"])
    chosen = [s for s in account.inventory.skus(granularity_id) if not skus or s in skus]
    held = lifecycle.reservations(account, granularity_id)
    rows = []
    for sku in chosen:
        level = account.inventory.level(sku, granularity_id)
        assert level is not None
        if since is None or level.updated >= since:
            rows.append(render_summary(account.inventory.items[sku], level, held[sku], details=details))
    chunk, next_offset = page(rows, offset, PAGE_SIZE)
    body: dict[str, Any] = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": granularity_id},
            "inventorySummaries": chunk,
        }
    }
    if next_offset is not None:
        body["pagination"] = {
            "nextToken": make_token(filters, next_offset, x=time.time() + TOKEN_LIFETIME_S / sim.time_scale)
        }
    return body


def router(sim: AmazonSimulator) -> APIRouter:
    routes = APIRouter()

    @routes.get("/fba/inventory/v1/summaries")
    async def get_summaries(request: Request) -> Response:
        pairs = list(request.query_params.multi_items())
        return await sim.serve(
            request, "getInventorySummaries", lambda: summaries(sim, Params(pairs, _PARAMS))
        )

    return routes
