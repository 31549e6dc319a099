"""`m3amazon workers ...`: the fleet's workers, their heartbeats, and taking over a dead one's work.

Workers take over each other's unfinished workflows by themselves after `engine.heartbeat_timeout_s`
(ops/workers.py). `workers recover ID` does it at once, by hand: for a worker that is known to be
gone (its host was decommissioned) or when automatic take-over is off (`engine.takeover: false`).
It runs no worker: it hands the workflows back to the queues through DBOS's client, and the live
workers pick them up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import m3amazon
from m3amazon.ops import db, workers

workers_app = typer.Typer(
    help="The fleet's workers: list them, take over a dead one's work.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file (default: $M3AMAZON_CONFIG)")
]


@workers_app.command("list")
def list_workers(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Every worker: host, status, age of its last heartbeat, its PENDING workflows."""
    from m3amazon.cli import _load

    settings = _load(config)
    engine = db.create_engine(settings.database_url, pool_size=2)
    db.create_tables(engine)
    views = workers.listing(engine, settings.engine.heartbeat_timeout_s)
    engine.dispose()
    if as_json:
        print(json.dumps([v.as_json() for v in views], indent=2, default=str))
        return
    table = Table("executor id", "host", "pid", "status", "heartbeat", "alive", "pending", "taken over by")
    for v in views:
        age = "never" if v.heartbeat_age_s == float("inf") else f"{v.heartbeat_age_s:.0f} s ago"
        table.add_row(
            v.executor_id,
            v.host or "",
            str(v.pid or ""),
            v.status,
            age,
            "yes" if v.alive else "no",
            str(v.pending),
            f"{v.taken_over_by} ({v.recovered})" if v.taken_over_by else "",
        )
    Console().print(table)


@workers_app.command("recover")
def recover(
    executor_id: Annotated[str, typer.Argument(help="The dead worker's executor id (see `workers list`)")],
    force: Annotated[
        bool, typer.Option(help="Even if its heartbeat is recent (only when you know it is not running)")
    ] = False,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Hand a dead worker's PENDING workflows back to the queues; the live workers finish them."""
    from dbos import DBOSClient

    from m3amazon.cli import _load
    from m3amazon.ops.enqueue_client import APPLICATION

    settings = _load(config)
    console = Console(stderr=True)
    engine = db.create_engine(settings.database_url, pool_size=2)
    db.create_tables(engine)
    known = {v.executor_id: v for v in workers.listing(engine, settings.engine.heartbeat_timeout_s)}
    view = known.get(executor_id)
    if view is None:
        console.print(f"[red]no worker {executor_id!r} and no PENDING workflows under that id[/red]")
        raise typer.Exit(1)
    timeout = 0.0 if force else settings.engine.heartbeat_timeout_s
    if view.alive and not force:
        console.print(
            f"[red]worker {executor_id} beat {view.heartbeat_age_s:.0f} s ago: it is alive.[/red] "
            "Stop it first, wait for engine.heartbeat_timeout_s, or use --force if it is gone."
        )
        raise typer.Exit(1)
    client = None
    if not workers.engine_tables_exist(engine):  # no worker ever ran here: nothing can be pending
        recover_fn: workers.Recover = lambda _executor_id: 0  # noqa: E731
    else:
        client = (
            DBOSClient(system_database_url=settings.database_url, application_name=APPLICATION)
            if settings.is_postgres
            else DBOSClient(system_database_engine=engine, application_name=APPLICATION)
        )
        recover_fn = workers.client_recover(client._sys_db, m3amazon.__version__)
    try:
        if view.status == "unknown":  # PENDING workflows of an executor that never beat
            count: int | None = recover_fn(executor_id)
        else:
            count = workers.take_over(
                engine, executor_id, "cli", recover_fn, timeout_s=timeout, lease_s=60.0, again=True
            )
    finally:
        if client is not None:
            client.destroy()
        engine.dispose()
    if count is None:
        console.print(f"[red]worker {executor_id} is being taken over by another worker right now[/red]")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps({"executor_id": executor_id, "recovered": count}))
    else:
        Console().print(f"{count} workflow(s) of {executor_id} handed back to the queues")
