"""`m3amazon demo`: the whole product on one machine, against the loopback simulators.

Starts SQS (moto), the Amazon and M3 simulators and the service (engine, SQS intake, catch-up
poll, web with the IMS endpoint), lets Amazon take N orders and announce them through SQS (a share
of the notifications twice), and then lets the world move on: Amazon ships its FBA orders, the
seller's warehouse ships the others from M3 (some in two parts), buyers cancel a few, M3 invoices;
a few web shop orders entered in M3 are shipped by Amazon from FBA (Multi-Channel Fulfillment).
It waits until every order has reached its end (invoiced, cancelled, or an incident) and reports
what happened, including the faults it was told to inject, so anyone can compare the two.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from m3amazon import bootstrap
from m3amazon.amazon.intake import count_deliveries
from m3amazon.m3.translate import fit_address
from m3amazon.ops import incidents, trail, users
from m3amazon.sim.catalog import build_catalog
from m3amazon.sim.inventory_check import settle_inventory
from m3amazon.sim.mcf_demo import settle_mcf, start_mcf_orders
from m3amazon.sim.product import running_product
from m3amazon.sim.sandbox import Sandbox
from m3amazon.sim.world import World

#: Where an order's journey ends in the demo.
FINAL = ("invoiced", "cancelled", "incident")
CATALOG_SIZE = 40


@dataclass(frozen=True)
class DemoOptions:
    orders: int = 50
    seed: int = 1
    duplicate_share: float = 0.1
    #: Catalog SKUs M3 has no item for (orders with them become sku_unknown incidents).
    unknown_skus: int = 0
    #: Share of orders with a delivery address too long for M3 (address_invalid incidents).
    unfit_address_share: float = 0.0
    #: Share of orders the buyer cancels before they ship.
    cancel_share: float = 0.0
    afn_share: float = 0.3
    #: Web shop orders entered in M3 that Amazon ships from FBA (Multi-Channel Fulfillment).
    mcf_orders: int = 5
    exit_when_done: bool = False
    as_json: bool = False
    port: int = 8080
    workdir: Path = Path("var/demo")
    timeout_s: float = 600.0


def _final(rt: bootstrap.Runtime) -> int:
    counts = trail.outcome_counts(rt.engine)
    return sum(counts.get(outcome, 0) for outcome in FINAL)


async def _run_world(
    rt: bootstrap.Runtime, world: World, expected: int, opts: DemoOptions, console: Console
) -> bool:
    deadline = time.monotonic() + opts.timeout_s
    progress = Progress(
        TextColumn("orders"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=opts.as_json,
        transient=False,
    )
    with progress:
        task = progress.add_task("orders", total=expected)
        while True:
            done = await asyncio.to_thread(_final, rt)
            progress.update(task, completed=done)
            if done >= expected:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.to_thread(world.step)  # Amazon ships FBA orders, the warehouse ships the rest
            await asyncio.sleep(0.3)


def _injected(sandbox: Sandbox, order_ids: list[str], unknown: set[str]) -> dict[str, int]:
    """Per incident category, how many orders the simulators were told to make faulty."""
    found: Counter[str] = Counter()
    for order_id in order_ids:
        order = sandbox.account.get_order(order_id)
        if order is None:
            continue
        if any(line.sku in unknown for line in order.lines):
            found["sku_unknown"] += 1
        if order.ship_to is not None and fit_address(order.ship_to, allow_truncation=False)[1]:
            found["address_invalid"] += 1
    return dict(found)


def _clean(sandbox: Sandbox, order_ids: list[str], unknown: set[str]) -> list[str]:
    faulty = set()
    for order_id in order_ids:
        order = sandbox.account.get_order(order_id)
        if order and (
            any(ln.sku in unknown for ln in order.lines)
            or (order.ship_to and fit_address(order.ship_to, allow_truncation=False)[1])
        ):
            faulty.add(order_id)
    return [i for i in order_ids if i not in faulty]


def _summary(
    sandbox: Sandbox,
    rt: bootstrap.Runtime,
    scenario: dict[str, Any],
    faults: dict[str, int],
    elapsed: float,
    complete: bool,
) -> dict[str, Any]:
    m3 = sandbox.m3_stats()
    # Amazon's orders only: the web shop's MCF orders are M3 orders too, reported on their own.
    amazon_ids = set(scenario.get("order_ids", []))
    by_cuor = {cuor: n for cuor, n in sandbox.m3_store.orders_by_cuor().items() if cuor in amazon_ids}
    distinct, deliveries = count_deliveries(rt.engine)
    outcomes = trail.outcome_counts(rt.engine)
    open_incidents = incidents.list_incidents(rt.engine, limit=100_000)
    amazon_calls = sandbox.account.stats().get("calls", {})
    return {
        "orders_generated": len(scenario.get("order_ids", [])),
        "notifications_sent": scenario.get("notifications_sent", 0),
        "notifications_received": deliveries,
        "duplicate_notifications": deliveries - distinct,
        "m3_orders_created": len(by_cuor),
        "m3_orders_total": sum(by_cuor.values()),
        "m3_duplicate_orders": m3["duplicate_orders"],
        "orders_invoiced": outcomes.get("invoiced", 0),
        "orders_cancelled": outcomes.get("cancelled", 0),
        "shipments_confirmed_on_amazon": amazon_calls.get("confirmShipment", 0),
        "incidents": len(open_incidents),
        "incidents_by_category": dict(Counter(i["category"] for i in open_incidents)),
        "faults_injected_by_category": faults,
        "outcomes": outcomes,
        "m3_http_requests": m3["http_requests"],
        "complete": complete,
        "elapsed_s": round(elapsed, 2),
    }


def _print_summary(console: Console, summary: dict[str, Any], opts: DemoOptions) -> None:
    table = Table(title="m3-amazon demo", show_header=False)
    for key, value in summary.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    console.print(f"Console: [bold]http://127.0.0.1:{opts.port}[/bold]  (console, /api/..., /metrics)")


async def _demo_login(rt: bootstrap.Runtime, opts: DemoOptions, console: Console) -> None:
    """A login for this run only (the demo starts from an empty database every time)."""
    password = secrets.token_urlsafe(12)
    await asyncio.to_thread(users.add_user, rt.engine, "demo", password, "admin")  # argon2: not on the loop
    console.print(
        f"Console: [bold]http://127.0.0.1:{opts.port}[/bold]  one-time login: "
        f"[bold]demo[/bold] / [bold]{password}[/bold] (admin, valid for this run)",
        soft_wrap=True,
    )


async def run_demo(opts: DemoOptions, console: Console | None = None) -> dict[str, Any]:
    console = console or Console(stderr=opts.as_json)
    opts.workdir.mkdir(parents=True, exist_ok=True)
    for leftover in opts.workdir.glob("m3amazon.sqlite*"):
        leftover.unlink()  # every demo run starts from an empty engine and order trail
    rng = random.Random(opts.seed)
    catalog = build_catalog(size=CATALOG_SIZE)
    unknown = {item.sku for item in rng.sample(catalog, min(opts.unknown_skus, len(catalog)))}
    sandbox = await asyncio.to_thread(
        Sandbox.start,
        opts.workdir,
        tls_dir=opts.workdir.parent / "tls",
        catalog_size=CATALOG_SIZE,
        m3_unknown_skus=tuple(sorted(unknown)),
    )
    world = World(sandbox, seed=opts.seed)
    database = f"sqlite:///{opts.workdir / 'm3amazon.sqlite'}"
    try:
        stop = asyncio.Event()  # Ctrl-C sets it (the service's signal handlers)
        async with running_product(
            sandbox, database, web_port=opts.port, world=world, stop=stop, executor_id="demo-worker"
        ) as rt:
            await _demo_login(rt, opts, console)
            started = time.perf_counter()
            scenario = await asyncio.to_thread(
                sandbox.generate,
                opts.orders,
                seed=opts.seed,
                duplicate_share=opts.duplicate_share,
                afn_share=opts.afn_share,
                unfit_address_share=opts.unfit_address_share,
            )
            ids = list(scenario.get("order_ids", []))
            faults = _injected(sandbox, ids, unknown)
            clean = _clean(sandbox, ids, unknown)
            cancel = rng.sample(clean, round(len(ids) * opts.cancel_share)) if opts.cancel_share else []
            await asyncio.to_thread(world.cancel, cancel)
            mcf_numbers = await asyncio.to_thread(
                start_mcf_orders, sandbox, world, catalog, opts.mcf_orders, unknown
            )
            complete = await _run_world(rt, world, len(ids), opts, console)
            mcf = await settle_mcf(rt, world, mcf_numbers, timeout_s=opts.timeout_s)
            inventory = await settle_inventory(  # Amazon's quantities as M3's stock says
                sandbox.account,
                sandbox.m3_store,
                rt,
                catalog,
                tick=world.tick_amazon,
                skip_skus=sorted(unknown),
            )
            elapsed = time.perf_counter() - started
            summary = await asyncio.to_thread(_summary, sandbox, rt, scenario, faults, elapsed, complete)
            summary.update(mcf)
            summary.update(inventory)
            if opts.as_json:
                print(json.dumps(summary))
            else:
                _print_summary(console, summary, opts)
            if not opts.exit_when_done:
                console.print("Serving until Ctrl-C ...")
                await stop.wait()
            return summary
    finally:
        world.close()
        await asyncio.to_thread(sandbox.stop)
