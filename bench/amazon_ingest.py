"""Amazon ingest: a backlog of changed orders read through the SP-API usage plans.

The Amazon simulator (HTTPS, default usage plans, time scale 60: one simulated hour takes one real
minute) holds N orders whose ORDER_CHANGE notifications all arrived at once: a backlog. Each
notification is parsed by the product's own parser into an `OrderChanged` event.

Subject: the product's `OrderSource` over the `AmazonGateway` and its rate governor, with every
event waiting on `get(order_id, change_time)`: getOrder serves the newest changes while
searchOrders pages (100 orders per call) serve the oldest.
Subject as the worker runs it: 16 flows at a time take the events from a queue in the order
Amazon sends them (the order of the changes), and the queued changes are announced to the source
(`expect`, as `submit_order_change` does), which reads them ahead.
Baseline: a plain client that calls getOrder once per notification (16 at a time, as many as the
worker runs flows) and retries a 429 after a fixed one-second sleep (one simulated second).

Figures per run: orders ingested (fetched and translated to canonical orders) per simulated hour,
that rate as a fraction of the usage plans' ceiling over the same span
(getOrder rate x 3600 + searchOrders rate x 3600 x 100 per hour, plus the bursts 30 + 20 x 100),
the share of calls answered 429 (the simulator's own count), SP-API calls per order, orders lost
or duplicated. Goals: fraction >= 0.9, 429 share <= 1 %, nothing lost or duplicated.

    .venv/bin/python bench/amazon_ingest.py [--orders 3000] [--time-scale 60] [--repeats 1]
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from harness import Measurement, measure, report
from pydantic import SecretStr

from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.amazon.governor import load_usage_plans
from m3amazon.amazon.lwa import LwaTokenProvider
from m3amazon.amazon.notifications import parse_notification, to_order_changed
from m3amazon.amazon.order_source import OrderSource
from m3amazon.amazon.translate.orders import order_from_v2026
from m3amazon.canonical import Order, OrderChanged
from m3amazon.config import AmazonSettings
from m3amazon.sim.amazon.app import create_app
from m3amazon.sim.amazon.notify import ListPublisher, publish_order_changes
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.server import RunningServer, serve_in_thread
from m3amazon.sim.tls import LocalTLS

MARKETPLACES = ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2")
LABELS = {
    "baseline": "getOrder + 1 s retry (baseline)",
    "subject": "OrderSource + governor, all waiting",
    "worker": "OrderSource + governor, 16 flows + announced queue",
}
GET_ORDER_PATH = "/orders/2026-01-01/orders/{}"
INCLUDED = "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PROMOTION"
#: Flows a worker runs at once (engine.worker_concurrency's default): the baseline's concurrency too.
WORKER_CONCURRENCY = BASELINE_CONCURRENCY = 16


@dataclass
class World:
    """One simulator with the backlog: its account, server and the notifications' events."""

    account: SellerAccount
    server: RunningServer
    tls: LocalTLS
    events: list[OrderChanged]

    def settings(self) -> AmazonSettings:
        return AmazonSettings(
            endpoint=self.server.url,
            lwa_token_url=self.server.url + "/auth/o2/token",
            ca_bundle=self.tls.ca_cert,
            lwa_client_id=self.account.client_id,
            lwa_client_secret=SecretStr(self.account.client_secret),
            refresh_token=SecretStr(self.account.refresh_token),
            seller_id=self.account.seller_id,
            marketplaces=list(self.account.marketplaces),
        )


def start_world(orders: int, time_scale: float, tls: LocalTLS, seed: int) -> World:
    """A fresh simulator (fresh usage-plan buckets) with `orders` changed orders and their events."""
    account = SellerAccount(marketplaces=MARKETPLACES)
    ids = generate_orders(account, orders, seed=seed)
    outbox = ListPublisher()
    publish_order_changes(account, outbox, ids, seed=seed)
    events = [to_order_changed(parse_notification(body)) for body in outbox.bodies]
    app = create_app(account, time_scale=time_scale)
    server = serve_in_thread(app, tls=(tls.server_cert, tls.server_key), name="amazon-sim")
    return World(account, server, tls, events)


def ceiling(elapsed_sim_s: float) -> float:
    """Orders the default usage plans allow in `elapsed_sim_s` simulated seconds (bursts included)."""
    plans = load_usage_plans()
    get, search = plans["getOrder@2026-01-01"], plans["searchOrders@2026-01-01"]
    return get.burst + search.burst * 100 + (get.rate + search.rate * 100) * elapsed_sim_s


def figures(world: World, fetched: list[Order], elapsed_s: float, time_scale: float) -> dict[str, Any]:
    stats = world.account.stats()
    calls = sum(stats["calls"].values())
    throttled = stats["throttled_total"]
    wanted = {e.order_id for e in world.events}
    got = [o.order_id for o in fetched]
    correct = {
        o.order_id
        for o in fetched
        if (truth := world.account.get_order(o.order_id)) is not None and o == truth
    }
    elapsed_sim = elapsed_s * time_scale
    ingested = len(correct & wanted)
    return {
        "orders_ingested": ingested,
        "orders_lost": len(wanted - set(got)),
        "orders_duplicated": len(got) - len(set(got)),
        "orders_wrong": len(set(got) - correct),
        "elapsed_real_s": round(elapsed_s, 2),
        "elapsed_sim_s": round(elapsed_sim, 1),
        "orders_per_sim_hour": round(ingested / elapsed_sim * 3600, 1),
        "ceiling_orders": round(ceiling(elapsed_sim), 1),
        "fraction_of_ceiling": round(ingested / ceiling(elapsed_sim), 4),
        "calls": calls,
        "calls_by_operation": stats["calls"],
        "throttled": throttled,
        "throttled_by_operation": stats["throttled"],
        "share_429": round(throttled / calls, 4) if calls else 0.0,
        "calls_per_order": round(calls / max(ingested, 1), 4),
    }


async def subject(world: World) -> tuple[list[Order], float, dict[str, Any]]:
    """The product: every event waits on OrderSource.get; the source schedules the calls."""
    async with AmazonGateway(world.settings()) as gateway:
        source = OrderSource(gateway)
        started = time.perf_counter()
        fetched = await asyncio.gather(
            *(source.get(e.order_id, e.change_time, e.marketplace_id) for e in world.events)
        )
        elapsed = time.perf_counter() - started
        await source.aclose()
        return list(fetched), elapsed, dict(source.stats.__dict__)


async def as_worker(world: World) -> tuple[list[Order], float, dict[str, Any]]:
    """The product as a worker runs it: 16 flows at a time, the rest of the queue announced."""
    queue: asyncio.Queue[OrderChanged] = asyncio.Queue()
    async with AmazonGateway(world.settings()) as gateway:
        source = OrderSource(gateway)
        for event in sorted(world.events, key=lambda e: (e.change_time, e.order_id)):
            queue.put_nowait(event)
            source.expect(event.order_id, event.change_time, event.marketplace_id)
        fetched: list[Order] = []

        async def flow() -> None:
            while not queue.empty():
                event = queue.get_nowait()
                fetched.append(await source.get(event.order_id, event.change_time, event.marketplace_id))

        started = time.perf_counter()
        await asyncio.gather(*(flow() for _ in range(WORKER_CONCURRENCY)))
        elapsed = time.perf_counter() - started
        await source.aclose()
        return fetched, elapsed, dict(source.stats.__dict__)


async def baseline(world: World, time_scale: float) -> tuple[list[Order], float, dict[str, Any]]:
    """getOrder once per notification, 16 at a time; a 429 is retried after one simulated second."""
    settings = world.settings()
    verify = ssl.create_default_context(cafile=str(world.tls.ca_cert))
    tokens = LwaTokenProvider(
        settings.lwa_token_url or "",
        settings.lwa_client_id or "",
        settings.client_secret() or "",
        settings.refresh_token_value(),
        verify=verify,
    )
    queue: asyncio.Queue[OrderChanged] = asyncio.Queue()
    for event in world.events:
        queue.put_nowait(event)
    fetched: list[Order] = []
    retries = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal retries
        while not queue.empty():
            event = queue.get_nowait()
            while True:
                response = await client.get(
                    GET_ORDER_PATH.format(event.order_id),
                    params={"includedData": INCLUDED},
                    headers={"x-amz-access-token": await tokens.access_token()},
                )
                if response.status_code != 429:
                    break
                retries += 1
                await asyncio.sleep(1.0 / time_scale)
            response.raise_for_status()
            fetched.append(order_from_v2026(response.json()["order"], seller_id=world.account.seller_id))

    async with httpx.AsyncClient(base_url=world.server.url, verify=verify, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(BASELINE_CONCURRENCY)))
        elapsed = time.perf_counter() - started
    await tokens.aclose()
    return fetched, elapsed, {"retries": retries}


def one_run(
    kind: str, orders: int, time_scale: float, tls: LocalTLS, seed: int
) -> tuple[float, dict[str, Any]]:
    world = start_world(orders, time_scale, tls, seed)
    try:
        if kind == "subject":
            fetched, elapsed, extra = asyncio.run(subject(world))
        elif kind == "worker":
            fetched, elapsed, extra = asyncio.run(as_worker(world))
        else:
            fetched, elapsed, extra = asyncio.run(baseline(world, time_scale))
        result = figures(world, fetched, elapsed, time_scale) | {"client": extra}
    finally:
        world.server.stop()
    return float(result["orders_per_sim_hour"]), result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="m3a-ingest-") as tmp:
        tls = LocalTLS.ensure(Path(tmp) / "tls")
        runs: dict[str, Measurement] = {}
        for kind in LABELS:
            runs[kind] = measure(
                f"{kind}, {args.orders} orders",
                "orders/sim-hour",
                lambda kind=kind: one_run(kind, args.orders, args.time_scale, tls, args.seed),
                repeats=args.repeats,
                warmup=0,
            )
    rows = []
    for kind, m in runs.items():
        last = {k: v[-1] for k, v in m.extra.items()}
        rows.append(
            {
                "client": LABELS[kind],
                "orders": args.orders,
                "orders/sim-hour": f"{m.median:.0f}",
                "fraction of ceiling": f"{last['fraction_of_ceiling']:.3f}",
                "429 share": f"{last['share_429'] * 100:.2f} %",
                "calls/order": f"{last['calls_per_order']:.3f}",
                "lost": last["orders_lost"],
                "duplicated": last["orders_duplicated"],
                "sim minutes": f"{last['elapsed_sim_s'] / 60:.1f}",
                "ratio to baseline": "1.00 (baseline)"
                if kind == "baseline"
                else f"{m.median / runs['baseline'].median:.2f}",
            }
        )
    report("amazon_ingest", rows, list(runs.values()))


if __name__ == "__main__":
    main()
