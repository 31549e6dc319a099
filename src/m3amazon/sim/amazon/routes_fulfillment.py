"""Fulfillment Outbound v2020-07-01 (Multi-Channel Fulfillment): preview, create, get, list, cancel.

v0-style answers: `{"payload": ...}` on success (create and cancel answer an empty object), errors
as `{"errors": [...]}`. The behaviour is in mcf.py; the stock checks use lifecycle.available.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from m3amazon.sim.amazon import lifecycle, mcf
from m3amazon.sim.amazon.params import Params, fingerprint, make_token, page, parse_time, read_token
from m3amazon.sim.amazon.simulator import AmazonSimulator

BASE = "/fba/outbound/2020-07-01/fulfillmentOrders"
PAGE_SIZE = 50


def router(sim: AmazonSimulator) -> APIRouter:
    routes = APIRouter()
    account = sim.account

    def known(marketplace: str) -> Any:
        return lambda sku: account.inventory.level(sku, marketplace) is not None

    def default_marketplace() -> str:
        return account.marketplaces[0]

    @routes.post(BASE + "/preview")
    async def preview(request: Request) -> Response:
        def run(body: Any) -> dict[str, Any]:
            marketplace = (
                body.get("marketplaceId") if isinstance(body, dict) else None
            ) or default_marketplace()
            result = mcf.preview(
                body,
                default_marketplace=default_marketplace(),
                available=lambda sku: lifecycle.available(account, sku, marketplace),
                known=known(marketplace),
                now=sim.now(),
            )
            return {"payload": result}

        return await sim.serve(request, "getFulfillmentPreview", run, with_body=True)

    @routes.post(BASE)
    async def create(request: Request) -> Response:
        def run(body: Any) -> dict[str, Any]:
            marketplace = (
                body.get("marketplaceId") if isinstance(body, dict) else None
            ) or default_marketplace()
            order = account.mcf.create(
                body, default_marketplace=default_marketplace(), known=known(marketplace), now=sim.now()
            )
            lifecycle.notify_mcf(account, order, sim.now())
            return {}

        return await sim.serve(request, "createFulfillmentOrder", run, with_body=True)

    @routes.get(BASE + "/{sellerFulfillmentOrderId}")
    async def get(sellerFulfillmentOrderId: str, request: Request) -> Response:
        def run() -> dict[str, Any]:
            Params(request.query_params.multi_items(), ())
            return {"payload": mcf.render_order(account.mcf.get(sellerFulfillmentOrderId))}

        return await sim.serve(request, "getFulfillmentOrder", run)

    @routes.get(BASE)
    async def list_all(request: Request) -> Response:
        def run() -> dict[str, Any]:
            params = Params(request.query_params.multi_items(), ("queryStartDate", "nextToken"))
            token = params.get("nextToken")
            since, offset = params.time("queryStartDate"), 0
            if token is not None:
                data = read_token(token, None)
                since, offset = parse_time(data.get("s") or None, "nextToken"), int(data["o"])
            orders = account.mcf.updated_since(since)
            chunk, next_offset = page(orders, offset, PAGE_SIZE)
            payload: dict[str, Any] = {"fulfillmentOrders": [mcf.render_summary(o) for o in chunk]}
            if next_offset is not None:
                payload["nextToken"] = make_token(
                    fingerprint({"since": str(since)}), next_offset, s=str(since) if since else ""
                )
            return {"payload": payload}

        return await sim.serve(request, "listAllFulfillmentOrders", run)

    @routes.put(BASE + "/{sellerFulfillmentOrderId}/cancel")
    async def cancel(sellerFulfillmentOrderId: str, request: Request) -> Response:
        def run() -> dict[str, Any]:
            order = account.mcf.cancel(sellerFulfillmentOrderId, sim.now())
            lifecycle.notify_mcf(account, order, sim.now())
            lifecycle.notify_inventory(
                account, ((i.sku, order.marketplace_id) for i in order.items), sim.now()
            )
            return {}

        return await sim.serve(request, "cancelFulfillmentOrder", run)

    return routes
