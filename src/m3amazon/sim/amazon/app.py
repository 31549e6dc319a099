"""The Amazon simulator as an ASGI app: LWA, the SP-API operations the product uses, documents,
and the control plane, each in its own module.

| module                   | serves |
| ------------------------ | ------ |
| `lwa.py`                 | POST /auth/o2/token (refresh_token and client_credentials grants) |
| `routes_orders.py`       | Orders v2026-01-01 getOrder, searchOrders; Orders v0 confirmShipment |
| `routes_fulfillment.py`  | Fulfillment Outbound 2020-07-01 preview, create, get, list, cancel |
| `routes_inventory.py`    | FBA Inventory v1 getInventorySummaries |
| `routes_listings.py`     | Listings Items 2021-08-01 getListingsItem, patchListingsItem |
| `routes_feeds.py`        | Feeds 2021-06-30, and the pre-signed document URLs (/_docs) |
| `routes_reports.py`      | Reports 2021-06-30 createReport, getReports, getReport, getReportDocument |
| `routes_finances.py`     | Finances v0 event groups and events; 2024-06-19 listTransactions |
| `routes_notifications.py`| Notifications v1 destinations and subscriptions |
| `routes_control.py`      | /_sim: scenarios, ticks, faults, inventory, settlements, stats |

What every operation shares (tokens, usage plans, faults, error bodies, headers, notification
delivery) is in simulator.py; the account's behaviour in state.py, lifecycle.py and the modules
they name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from m3amazon.sim.amazon import (
    routes_control,
    routes_feeds,
    routes_finances,
    routes_fulfillment,
    routes_inventory,
    routes_listings,
    routes_notifications,
    routes_orders,
    routes_reports,
)
from m3amazon.sim.amazon.lwa import lwa_exchange
from m3amazon.sim.amazon.notify import Publisher
from m3amazon.sim.amazon.simulator import AmazonSimulator
from m3amazon.sim.amazon.state import SellerAccount

__all__ = ["AmazonSimulator", "create_app"]


def create_app(
    account: SellerAccount,
    *,
    publisher: Publisher | None = None,
    rate_limits: bool | Mapping[str, tuple[float, int]] = True,
    time_scale: float = 1.0,
    tick_interval_s: float | None = None,
) -> FastAPI:
    """The simulator as an ASGI app.

    `rate_limits`: True (the usage plans), False (no throttling) or {operation: (rate, burst)}
    overrides. `time_scale` speeds up simulated time: bucket refill, Amazon's two-minute lag and
    the lifetimes of URLs and tokens. `tick_interval_s` advances the simulated world on its own
    every so many seconds (otherwise only POST /_sim/tick does).
    """
    sim = AmazonSimulator(account, publisher=publisher, rate_limits=rate_limits, time_scale=time_scale)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if tick_interval_s:
            sim.start_ticker(tick_interval_s)
        yield
        sim.stop_ticker()

    app = FastAPI(
        title="m3-amazon Amazon simulator",
        docs_url="/_sim/docs",
        openapi_url="/_sim/openapi.json",
        lifespan=lifespan,
    )
    app.state.sim = sim

    @app.post("/auth/o2/token")
    async def lwa_token(request: Request) -> JSONResponse:
        form = await request.form()
        return lwa_exchange(account, {k: str(v) for k, v in form.items()})

    for module in (
        routes_orders,
        routes_fulfillment,
        routes_inventory,
        routes_listings,
        routes_feeds,
        routes_reports,
        routes_finances,
        routes_notifications,
        routes_control,
    ):
        app.include_router(module.router(sim))
    return app
