"""`m3amazon incidents ...` and `m3amazon order show`: the operators' commands.

They read through ops/views.py and act through ops/actions.py, the same services as the admin
API. The CLI is a separate, short-lived process that must not become a worker: retries are
enqueued with DBOS's client (ops/enqueue_client.py) and a running worker executes them; M3 is
reached with a client opened for the command. The actor of an action is the OS user, or
`--actor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from m3amazon.config import Settings
from m3amazon.ops import views
from m3amazon.ops.actions import ActionError, ActionResult, OperatorActions, Target

incidents_app = typer.Typer(
    help="Incidents (the dead-letter store): list, show, retry, discard, accept a SKU suggestion.",
    no_args_is_help=True,
)
order_app = typer.Typer(
    help="Amazon orders: where each stands and what happened to it.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file (default: $M3AMAZON_CONFIG)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who is acting, for the audit log (default: the OS user)")
]
T = TypeVar("T")


class StatusChoice(StrEnum):
    open = "open"
    retrying = "retrying"
    resolved = "resolved"
    discarded = "discarded"
    all = "all"


def _settings(config: Path | None) -> Settings:
    from m3amazon.cli import _load  # the CLI's plain-words handling of a bad configuration

    return _load(config)


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. a container without passwd entry)
        return "cli"


def _out(stderr: bool = False) -> Console:
    """A console that shows data as it is: no emoji codes (`:x:` in a workflow id), no markup in it."""
    return Console(stderr=stderr, emoji=False)


def _cells(*values: Any) -> list[Text]:
    return [Text("" if v is None else str(v)) for v in values]


def _print_json(value: Any) -> None:
    print(json.dumps(views.json_ready(value), indent=2, ensure_ascii=False, default=str))


@contextlib.asynccontextmanager
async def cli_actions(settings: Settings) -> AsyncIterator[OperatorActions]:
    """The operator actions wired for a process without a worker (see the module docstring)."""
    from m3amazon.m3.client import MIClient
    from m3amazon.mapping import load_mappings
    from m3amazon.ops import db
    from m3amazon.ops.enqueue_client import ClientEnqueuer

    engine = db.create_engine(settings.database_url, pool_size=2)
    db.create_tables(engine)
    enqueuer = ClientEnqueuer(settings)

    @contextlib.asynccontextmanager
    async def m3() -> AsyncIterator[MIClient]:
        async with MIClient(settings.m3) as client:
            yield client

    try:
        yield OperatorActions(
            engine=engine,
            enqueue=enqueuer,
            mappings=lambda: load_mappings(settings.mapping_file),
            mapping_file=settings.mapping_file,
            m3=m3,
        )
    finally:
        enqueuer.close()
        engine.dispose()


def _act(config: Path | None, action: Callable[[OperatorActions], Awaitable[T]]) -> T:
    settings = _settings(config)

    async def run() -> T:
        async with cli_actions(settings) as actions:
            return await action(actions)

    try:
        return asyncio.run(run())
    except ActionError as exc:
        _out(stderr=True).print(f"[red]{exc.kind.replace('_', ' ')}:[/red] {escape(exc.message)}")
        raise typer.Exit(1) from exc


def _read(config: Path | None, read: Callable[[OperatorActions], T]) -> T:
    return _act(config, lambda actions: asyncio.to_thread(read, actions))


def _report(result: ActionResult, as_json: bool) -> None:
    if as_json:
        _print_json(result.as_dict())
        return
    console = _out()
    if result.incident is not None:
        incident = result.incident
        console.print(
            f"incident {incident['id']}: [bold]{incident['status']}[/bold] "
            f"({escape(str(incident['resolution']))})"
        )
    for retried in result.retried:
        console.print(
            f"  order {escape(retried.amazon_order_id)} queued as {escape(retried.workflow_id)} "
            f"(incident {retried.incident_id})"
        )
    for skipped in result.skipped:
        console.print(f"  [yellow]skipped incident {skipped.incident_id}[/yellow]: {escape(skipped.reason)}")
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    if result.action == "retry_category" and not result.retried and not result.skipped:
        console.print("no open incidents in this category")


# -- incidents ------------------------------------------------------------------------------


@incidents_app.command("list")
def incidents_list(
    config: ConfigOption = None,
    status: Annotated[StatusChoice, typer.Option(help="Which incidents")] = StatusChoice.open,
    category: Annotated[str | None, typer.Option(help="Only this category (e.g. sku_unknown)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first")] = 200,
    as_json: JsonOption = False,
) -> None:
    """List incidents, newest first (payloads: `incidents show ID`)."""
    from m3amazon.ops import incidents

    rows = _read(
        config,
        lambda a: incidents.list_incidents(
            a.engine,
            status=None if status is StatusChoice.all else status.value,
            category=category,
            limit=limit,
        ),
    )
    summaries = [views.incident_summary(r) for r in rows]
    if as_json:
        _print_json(summaries)
        return
    if not summaries:
        _out().print(f"no {'' if status is StatusChoice.all else status.value + ' '}incidents")
        return
    table = Table()
    for name in ("id", "status", "category", "reason", "subject"):
        table.add_column(name, no_wrap=True)
    table.add_column("message", ratio=1, min_width=20)
    for s in summaries:
        table.add_row(
            *_cells(s["id"], s["status"], s["category"], s["reason_code"], s["subject"], s["message"])
        )
    _out().print(table)


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[int, typer.Argument(help="Incident id (see `incidents list`)")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One incident with its payload (personal data masked) and, for an unknown SKU, the suggestions."""
    from m3amazon.ops import incidents

    row = _read(config, lambda a: incidents.get_incident(a.engine, incident_id))
    if row is None:
        _out(stderr=True).print(f"[red]not found:[/red] there is no incident {incident_id}")
        raise typer.Exit(1)
    detail = views.incident_detail(row)
    if as_json:
        _print_json(detail)
        return
    console = _out()
    console.print(
        f"[bold]incident {detail['id']}[/bold] {detail['status']}  "
        f"{escape(detail['category'])} / {escape(detail['reason_code'])}"
    )
    console.print(Text(f"subject: {detail['subject'] or '-'}   seen {detail['occurrences']} time(s)"))
    console.print(Text(detail["message"]))
    if detail["resolution"]:
        console.print(Text(f"resolution: {detail['resolution']}"))
    console.print(Text(f"actions: {', '.join(detail['actions'])}"))
    for problem in views.problems(row):
        if problem.get("reason_code") != "UNKNOWN_SKU" or not problem.get("sku"):
            continue
        suggestions = [s for s in problem.get("suggestions") or [] if isinstance(s, dict)]
        if not suggestions:
            console.print(Text(f"no suggestions for SKU {problem['sku']}"))
            continue
        table = Table(
            "item", "name", "score", "matched on", title=Text(f"suggestions for SKU {problem['sku']}")
        )
        for s in suggestions:
            table.add_row(*_cells(s.get("item_number"), s.get("name"), s.get("score"), s.get("matched_on")))
        console.print(table)
        console.print(
            Text(
                f"accept one: m3amazon incidents accept {detail['id']} --item {suggestions[0]['item_number']}"
            )
        )
    console.print("payload:")
    payload = detail["payload"]
    if isinstance(payload, dict | list):
        console.print_json(json.dumps(views.json_ready(payload), ensure_ascii=False, default=str))
    else:
        console.print(Text("(none)" if payload is None else str(payload)))


@incidents_app.command("retry")
def incidents_retry(
    incident_id: Annotated[int, typer.Argument(help="Incident id")],
    config: ConfigOption = None,
    reason: Annotated[str | None, typer.Option(help="Why (for the audit log)")] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reconcile the incident's order again (a running worker does it); the incident becomes `retrying`."""
    result = _act(config, lambda a: a.retry_incident(incident_id, _actor(actor), reason=reason))
    _report(result, as_json)


@incidents_app.command("retry-category")
def incidents_retry_category(
    category: Annotated[str, typer.Argument(help="Incident category, e.g. m3_unavailable")],
    config: ConfigOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retry every open incident of a category (those a retry cannot help are listed as skipped)."""
    result = _act(config, lambda a: a.retry_category(category, _actor(actor)))
    _report(result, as_json)


@incidents_app.command("discard")
def incidents_discard(
    incident_id: Annotated[int, typer.Argument(help="Incident id")],
    reason: Annotated[str, typer.Option(help="Why no action is needed (required, audited)")],
    config: ConfigOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give up on an incident, with a reason."""
    result = _act(config, lambda a: a.discard_incident(incident_id, _actor(actor), reason))
    _report(result, as_json)


@incidents_app.command("accept")
def incidents_accept(
    incident_id: Annotated[int, typer.Argument(help="Incident id of an unknown SKU")],
    item: Annotated[str, typer.Option("--item", help="The M3 item number (ITNO) the SKU is")],
    config: ConfigOption = None,
    local: Annotated[
        bool,
        typer.Option("--local", help="Write the mapping file's items.sku_to_item, not an MMS025MI alias"),
    ] = False,
    sku: Annotated[str | None, typer.Option(help="Which SKU, when the incident names several")] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Map the incident's unknown SKU to an M3 item, then retry every order waiting on that SKU."""
    target: Target = "local" if local else "alias"
    result = _act(config, lambda a: a.accept_suggestion(incident_id, _actor(actor), item, target, sku=sku))
    _report(result, as_json)


# -- orders ---------------------------------------------------------------------------------


@order_app.command("show")
def order_show(
    amazon_order_id: Annotated[str, typer.Argument(help="The Amazon order id")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The order's trail (outcome, M3 order, amounts), its timeline and its incidents."""
    view = _read(config, lambda a: views.order_view(a.engine, amazon_order_id))
    if view is None:
        _out(stderr=True).print(
            f"[red]not found:[/red] nothing is known about Amazon order {escape(amazon_order_id)}"
        )
        raise typer.Exit(1)
    entry = view.trail or {}
    if as_json:
        _print_json(
            {
                **entry,
                "amazon_order_id": amazon_order_id,
                "timeline": view.timeline,
                "incidents": view.incidents,
            }
        )
        return
    console = _out()
    console.print(
        f"[bold]Amazon order {escape(amazon_order_id)}[/bold]: "
        f"{escape(entry.get('outcome') or 'no outcome yet')}"
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    currency = entry.get("currency")
    for label, key in _ORDER_FACTS:
        value = entry.get(key)
        if value:
            money = key in ("goods_total", "order_total", "m3_invoiced_total") and currency
            facts.add_row(*_cells(label, f"{value} {currency}" if money else value))
    console.print(facts)
    timeline = Table("at", "what", "summary", title="timeline")
    for event in view.timeline:
        timeline.add_row(*_cells(f"{event['at']:%Y-%m-%d %H:%M:%S}", event["kind"], event["summary"]))
    console.print(timeline)
    if view.incidents:
        table = Table("id", "status", "category", "reason", "message", title="incidents")
        for s in view.incidents:
            table.add_row(*_cells(s["id"], s["status"], s["category"], s["reason_code"], s["message"]))
        console.print(table)


#: What `order show` prints about the order's trail, in this order.
_ORDER_FACTS = (
    ("M3 order", "m3_order_number"),
    ("M3 customer", "m3_customer"),
    ("channel", "channel"),
    ("marketplace", "marketplace_id"),
    ("Amazon status", "amazon_status"),
    ("goods total", "goods_total"),
    ("order total", "order_total"),
    ("M3 invoiced", "m3_invoiced_total"),
    ("detail", "detail"),
    ("last run", "workflow_id"),
)
