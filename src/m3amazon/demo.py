"""`m3amazon demo`: the whole product on one machine, against the loopback simulators.

Starts SQS (moto), the Amazon and M3 simulators and the service (engine, intake, web), lets the
Amazon simulator take N orders and announce them through SQS (a share of the notifications twice),
waits until every order has an outcome, and reports what M3 ended up with.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from m3amazon import bootstrap
from m3amazon.amazon.intake import count_deliveries
from m3amazon.ops import incidents, trail
from m3amazon.service import run_service
from m3amazon.sim.sandbox import Sandbox


@dataclass(frozen=True)
class DemoOptions:
    orders: int = 50
    seed: int = 1
    duplicate_share: float = 0.1
    exit_when_done: bool = False
    as_json: bool = False
    port: int = 8080
    workdir: Path = Path("var/demo")
    timeout_s: float = 600.0


def _done(rt: bootstrap.Runtime) -> int:
    counts = trail.outcome_counts(rt.engine)
    return sum(counts.get(outcome, 0) for outcome in (*trail.TERMINAL_OUTCOMES, "cancelled"))


async def _wait_for_outcomes(
    rt: bootstrap.Runtime, expected: int, opts: DemoOptions, console: Console
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
            done = await asyncio.to_thread(_done, rt)
            progress.update(task, completed=done)
            if done >= expected:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)


def _summary(
    sandbox: Sandbox, rt: bootstrap.Runtime, scenario: dict[str, Any], elapsed: float, complete: bool
) -> dict[str, Any]:
    m3 = sandbox.m3_stats()
    distinct, deliveries = count_deliveries(rt.engine)
    return {
        "orders_generated": len(scenario.get("order_ids", [])),
        "notifications_sent": scenario.get("notifications_sent", 0),
        "notifications_received": deliveries,
        "duplicate_notifications": deliveries - distinct,
        "m3_orders_created": m3["orders_by_cuor"]["distinct"],
        "m3_orders_total": m3["orders_total"],
        "m3_duplicate_orders": m3["duplicate_orders"],
        "outcomes": trail.outcome_counts(rt.engine),
        "incidents": incidents.count_incidents(rt.engine),
        "m3_http_requests": m3["http_requests"],
        "complete": complete,
        "elapsed_s": round(elapsed, 2),
    }


def _print_summary(console: Console, summary: dict[str, Any], opts: DemoOptions) -> None:
    table = Table(title="m3-amazon demo", show_header=False)
    for key, value in summary.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    console.print(
        f"Console: [bold]http://127.0.0.1:{opts.port}[/bold]  (status page, /api/summary, /metrics)"
    )


async def run_demo(opts: DemoOptions, console: Console | None = None) -> dict[str, Any]:
    console = console or Console(stderr=opts.as_json)
    opts.workdir.mkdir(parents=True, exist_ok=True)
    for leftover in opts.workdir.glob("m3amazon.sqlite*"):
        leftover.unlink()  # every demo run starts from an empty engine and order trail
    sandbox = await asyncio.to_thread(Sandbox.start, opts.workdir, tls_dir=opts.workdir.parent / "tls")
    settings = sandbox.settings(f"sqlite:///{opts.workdir / 'm3amazon.sqlite'}", executor_id="demo-worker")
    settings.web.port = opts.port

    stop = asyncio.Event()
    ready: asyncio.Future[bootstrap.Runtime] = asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service(settings, stop=stop, on_ready=ready.set_result))
    try:
        rt = await asyncio.wait_for(asyncio.shield(ready), timeout=60)
        started = time.perf_counter()
        scenario = await asyncio.to_thread(
            sandbox.generate, opts.orders, seed=opts.seed, duplicate_share=opts.duplicate_share
        )
        complete = await _wait_for_outcomes(rt, opts.orders, opts, console)
        elapsed = time.perf_counter() - started
        summary = await asyncio.to_thread(_summary, sandbox, rt, scenario, elapsed, complete)
        if opts.as_json:
            print(json.dumps(summary))
        else:
            _print_summary(console, summary, opts)
        if not opts.exit_when_done:
            console.print("Serving until Ctrl-C ...")
            await stop.wait()
        return summary
    finally:
        stop.set()
        await service
        await asyncio.to_thread(sandbox.stop)
