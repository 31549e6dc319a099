"""Orders API v2026-01-01 (getOrder, searchOrders) and Orders v0 confirmShipment.

searchOrders enforces the model's rules: exactly one of createdAfter / lastUpdatedAfter; the
Before bounds only with their After and at least two minutes (/ time_scale) in the past; enums;
maxResultsPerPage 1-100; pagination tokens tied to the filters (Amazon wants the same filters with
each token). confirmShipment's rules are in lifecycle.confirm_shipment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from m3amazon.canonical import FulfillmentChannel, Order, OrderStatus
from m3amazon.sim.amazon import lifecycle
from m3amazon.sim.amazon.faults import GET_ORDER, SEARCH_ORDERS
from m3amazon.sim.amazon.params import Params, SpApiError, bad, fingerprint, iso, make_token, read_token
from m3amazon.sim.amazon.render import INCLUDED_DATA, render_order
from m3amazon.sim.amazon.simulator import AmazonSimulator

_SEARCH_PARAMS = (
    "createdAfter",
    "createdBefore",
    "lastUpdatedAfter",
    "lastUpdatedBefore",
    "fulfillmentStatuses",
    "marketplaceIds",
    "fulfilledBy",
    "maxResultsPerPage",
    "paginationToken",
    "includedData",
)


@dataclass(frozen=True)
class _Window:
    by_created: bool
    after: datetime
    before_name: str
    before: datetime | None
    #: The latest moment a search may cover: now minus Amazon's two-minute lag.
    latest: datetime


def get_order(sim: AmazonSimulator, order_id: str, params: Params) -> dict[str, Any]:
    included = params.list("includedData", allowed=INCLUDED_DATA)
    order = sim.account.get_order(order_id)
    if order is None:
        raise SpApiError(404, "NotFound", "The requested order was not found.", f"orderId {order_id}")
    return {"order": render_order(order, included, sim.account.order_extras(order_id))}


def _window(sim: AmazonSimulator, params: Params, now: datetime) -> _Window:
    created_after, updated_after = params.time("createdAfter"), params.time("lastUpdatedAfter")
    if (created_after is None) == (updated_after is None):
        raise bad("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
    by_created = created_after is not None
    after_name, before_name, other_before = (
        ("createdAfter", "createdBefore", "lastUpdatedBefore")
        if by_created
        else ("lastUpdatedAfter", "lastUpdatedBefore", "createdBefore")
    )
    after = created_after or updated_after
    assert after is not None
    if other_before in params:
        raise bad(f"{other_before} cannot be combined with {after_name}.")
    latest = now - sim.lag
    before = params.time(before_name)
    if before is not None and (before < after or before > latest):
        raise bad(f"{before_name} must be on or after {after_name} and at least two minutes before now.")
    if after > latest:
        raise bad(f"{after_name} must be at least two minutes before now.")
    return _Window(by_created, after, before_name, before, latest)


def search_orders(sim: AmazonSimulator, params: Params, now: datetime) -> dict[str, Any]:
    window = _window(sim, params, now)
    size = params.int("maxResultsPerPage", 100, 1, 100)
    statuses = set(params.list("fulfillmentStatuses", allowed=[s.value for s in OrderStatus]))
    fulfilled_by = set(params.list("fulfilledBy", allowed=[c.value for c in FulfillmentChannel]))
    marketplaces = set(params.list("marketplaceIds", max_items=50))
    included = params.list("includedData", allowed=INCLUDED_DATA)
    filters: dict[str, Any] = {
        k: sorted(params.list(k)) for k in ("fulfillmentStatuses", "fulfilledBy", "marketplaceIds")
    }
    filters |= {
        "after": iso(window.after),
        "by": window.before_name,
        "before": params.get(window.before_name),
    }
    print_ = fingerprint(filters)
    offset, bound = 0, window.before or window.latest
    token = params.get("paginationToken")
    if token is not None:
        data = read_token(token, print_, "paginationToken")
        offset, bound = int(data["o"]), datetime.fromisoformat(str(data["b"]).replace("Z", "+00:00"))

    def stamp(order: Order) -> datetime:
        return order.created_at if window.by_created else order.updated_at

    matches = sorted(
        (
            o
            for o in sim.account.orders()
            if window.after <= stamp(o) <= bound
            and (not statuses or o.status.value in statuses)
            and (not fulfilled_by or o.channel.value in fulfilled_by)
            and (not marketplaces or o.marketplace_id in marketplaces)
        ),
        key=lambda o: (stamp(o), o.order_id),
    )
    page = matches[offset : offset + size]
    body: dict[str, Any] = {
        "orders": [render_order(o, included, sim.account.order_extras(o.order_id)) for o in page]
    }
    if offset + size < len(matches):
        body["pagination"] = {"nextToken": make_token(print_, offset + size, b=iso(bound))}
    body[window.before_name] = iso(bound)
    return body


def router(sim: AmazonSimulator) -> APIRouter:
    routes = APIRouter()

    @routes.get("/orders/2026-01-01/orders/{orderId}")
    async def get_order_route(orderId: str, request: Request) -> Response:
        pairs = list(request.query_params.multi_items())
        return await sim.serve(
            request, GET_ORDER, lambda: get_order(sim, orderId, Params(pairs, ["includedData"]))
        )

    @routes.get("/orders/2026-01-01/orders")
    async def search_orders_route(request: Request) -> Response:
        pairs = list(request.query_params.multi_items())
        return await sim.serve(
            request, SEARCH_ORDERS, lambda: search_orders(sim, Params(pairs, _SEARCH_PARAMS), sim.now())
        )

    @routes.post("/orders/v0/orders/{orderId}/shipmentConfirmation")
    async def confirm_shipment_route(orderId: str, request: Request) -> Response:
        def confirm(body: Any) -> None:
            Params(request.query_params.multi_items(), ())
            lifecycle.confirm_shipment(sim.account, orderId, body, sim.now())

        return await sim.serve(request, "confirmShipment", confirm, status=204, with_body=True)

    return routes
