"""The control plane under /_sim: not Amazon's API, the levers tests, demos and benchmarks pull.

- POST /_sim/scenario {orders, seed, duplicate_share, afn_share, pending_share, max_lines,
  unfit_address_share, marketplaces, notify} -> {order_ids, orders_generated, notifications_sent,
  duplicates_sent}
- POST /_sim/orders/{id}/status {status, notify}; POST /_sim/orders/{id}/buyer-cancel;
  POST /_sim/orders/{id}/refund
- POST /_sim/tick {steps}: advance the simulated world (lifecycle.advance) -> what moved
- POST /_sim/inventory {sku, marketplace, on_hand, working, shipped, receiving, unfulfillable};
  POST /_sim/inventory/receive {sku, marketplace, quantity}
- POST /_sim/settlements/close {marketplaces}: close the open event groups, publish settlements
- POST /_sim/notifications/options {duplicate_share, reorder_share, seed};
  POST /_sim/notifications/flush (held-back notifications included)
- POST /_sim/faults (see faults.py; {} clears all); POST /_sim/tokens/expire; GET /_sim/stats
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from m3amazon.canonical import OrderStatus
from m3amazon.sim.amazon import lifecycle
from m3amazon.sim.amazon.faults import FaultPlan
from m3amazon.sim.amazon.notify import publish_order_changes
from m3amazon.sim.amazon.params import iso
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.simulator import AmazonSimulator


def run_scenario(sim: AmazonSimulator, body: dict[str, Any]) -> dict[str, Any]:
    count = int(body.get("orders", 10))
    if not 0 <= count <= 100_000:
        raise ValueError("orders must be between 0 and 100000")
    seed = int(body.get("seed", 0))
    ids = generate_orders(
        sim.account,
        count,
        seed=seed,
        marketplaces=body.get("marketplaces"),
        afn_share=float(body.get("afn_share", 0.3)),
        max_lines=int(body.get("max_lines", 3)),
        pending_share=float(body.get("pending_share", 0.0)),
        unfit_address_share=float(body.get("unfit_address_share", 0.0)),
    )
    sent = duplicates = 0
    if sim.publisher is not None and body.get("notify", True):
        result = publish_order_changes(
            sim.account,
            sim.publisher,
            ids,
            duplicate_share=float(body.get("duplicate_share", 0.0)),
            seed=seed,
        )
        sent, duplicates = result.sent, result.duplicates
    return {
        "order_ids": ids,
        "orders_generated": len(ids),
        "notifications_sent": sent,
        "duplicates_sent": duplicates,
    }


def change_status(sim: AmazonSimulator, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    status = OrderStatus(str(body.get("status", "")).upper())
    order = sim.account.set_status(order_id, status)
    sent = 0
    if sim.publisher is not None and body.get("notify", True):
        sent = publish_order_changes(
            sim.account, sim.publisher, [order_id], seed=int(body.get("seed", time.time_ns()))
        ).sent
    return {
        "order_id": order_id,
        "status": order.status.value,
        "last_updated": iso(order.updated_at),
        "notifications_sent": sent,
    }


def _error(exc: Exception, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": str(exc).strip("'")}, status)


def router(sim: AmazonSimulator) -> APIRouter:
    routes = APIRouter(prefix="/_sim")
    account = sim.account

    @routes.post("/scenario")
    def scenario(body: dict[str, Any]) -> JSONResponse:
        try:
            return JSONResponse(run_scenario(sim, body))
        except (ValueError, KeyError) as exc:
            return _error(exc)

    @routes.get("/stats")
    def stats() -> dict[str, Any]:
        return {**account.stats(), "faults": sim.faults.to_json()}

    @routes.post("/orders/{order_id}/status")
    def order_status(order_id: str, body: dict[str, Any]) -> JSONResponse:
        if not account.has_order(order_id):
            return JSONResponse({"error": f"unknown order {order_id}"}, 404)
        try:
            return JSONResponse(change_status(sim, order_id, body))
        except ValueError as exc:
            return _error(exc)

    @routes.post("/orders/{order_id}/buyer-cancel")
    async def buyer_cancel(order_id: str) -> JSONResponse:
        try:
            with account.lock:
                order = lifecycle.buyer_cancel(account, order_id, sim.now())
        except KeyError:
            return JSONResponse({"error": f"unknown order {order_id}"}, 404)
        except ValueError as exc:
            return _error(exc, 409)
        await sim.deliver()
        return JSONResponse({"order_id": order_id, "status": order.status.value})

    @routes.post("/orders/{order_id}/refund")
    def refund(order_id: str) -> JSONResponse:
        try:
            with account.lock:
                lifecycle.refund(account, order_id, sim.now())
        except ValueError as exc:
            return _error(exc, 409)
        return JSONResponse({"order_id": order_id, "refunded": True})

    @routes.post("/tick")
    async def tick(body: dict[str, Any] | None = None) -> JSONResponse:
        steps = int((body or {}).get("steps", 1))
        if not 1 <= steps <= 100:
            return JSONResponse({"error": "steps must be between 1 and 100"}, 400)
        moved = sim.tick(steps)
        await sim.deliver()
        return JSONResponse({"moved": moved})

    async def change_stock(change: Callable[[], Any], sku: str, marketplace: str) -> JSONResponse:
        try:
            with account.lock:
                level = change()
                lifecycle.notify_inventory(account, [(sku, marketplace)], sim.now())
        except (KeyError, ValueError, TypeError) as exc:
            return _error(exc)
        await sim.deliver()
        return JSONResponse(
            {"sku": sku, "marketplace": marketplace, "on_hand": level.on_hand, "inbound": level.inbound}
        )

    @routes.post("/inventory")
    async def inventory(body: dict[str, Any]) -> JSONResponse:
        sku, marketplace = str(body.get("sku")), str(body.get("marketplace"))
        quantities = {k: v for k, v in body.items() if k not in ("sku", "marketplace")}
        return await change_stock(
            lambda: account.inventory.set(sku, marketplace, sim.now(), **quantities), sku, marketplace
        )

    @routes.post("/inventory/receive")
    async def receive(body: dict[str, Any]) -> JSONResponse:
        sku, marketplace = str(body.get("sku")), str(body.get("marketplace"))
        return await change_stock(
            lambda: account.inventory.receive(sku, marketplace, int(body["quantity"]), sim.now()),
            sku,
            marketplace,
        )

    @routes.post("/settlements/close")
    async def close_settlements(body: dict[str, Any] | None = None) -> JSONResponse:
        marketplaces = list((body or {}).get("marketplaces") or account.marketplaces)
        with account.lock:
            reports = {m: lifecycle.close_settlement(account, m, sim.now()) for m in marketplaces}
        await sim.deliver()
        return JSONResponse({"reports": {m: r for m, r in reports.items() if r}})

    @routes.post("/notifications/options")
    def notification_options(body: dict[str, Any]) -> JSONResponse:
        try:
            with account.lock:
                account.outbox.configure(
                    float(body.get("duplicate_share", 0.0)),
                    float(body.get("reorder_share", 0.0)),
                    int(body["seed"]) if "seed" in body else None,
                )
        except ValueError as exc:
            return _error(exc)
        return JSONResponse(
            {"duplicate_share": account.outbox.duplicate_share, "reorder_share": account.outbox.reorder_share}
        )

    @routes.post("/notifications/flush")
    async def flush() -> JSONResponse:
        return JSONResponse({"sent": await sim.deliver(everything=True)})

    @routes.post("/faults")
    def faults(body: dict[str, Any]) -> JSONResponse:
        try:
            sim.faults = FaultPlan.from_json(body, time_scale=sim.time_scale)
        except (ValueError, TypeError) as exc:
            return _error(exc)
        return JSONResponse(sim.faults.to_json())

    @routes.post("/tokens/expire")
    def expire_tokens() -> dict[str, int]:
        return {"expired": account.expire_tokens()}

    return routes
