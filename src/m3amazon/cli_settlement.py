"""`m3amazon settlement ...`: import a settlement file, list and show settlements, retry, discover.

`import FILE --dry-run` needs nothing but the file and the mapping table: it reads, validates,
categorises and aggregates, and prints what would be posted. Without `--dry-run` the command runs
the settlement workflow in this process (its own executor id, `<executor_id>-settlement`, so a
killed import is resumed by running the same command again) against the configured M3.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from m3amazon.amazon.settlement_file import SettlementDigest, SettlementFileError, read_settlement
from m3amazon.config import Settings
from m3amazon.flows.settlement_plan import SettlementPlan, plan_settlement
from m3amazon.mapping import MappingError, load_mappings

settlement_app = typer.Typer(
    help="Amazon settlements into M3's general ledger: import, list, show, retry, discover.",
    no_args_is_help=True,
)
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file (default: $M3AMAZON_CONFIG)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


def _settings(config: Path | None) -> Settings:
    from m3amazon.cli import _load

    return _load(config)


def summary(digest: SettlementDigest, plan: SettlementPlan) -> dict[str, Any]:
    """What `import` prints: the settlement's figures, the postings and the unmapped triples."""
    return {
        "settlement_id": digest.settlement_id,
        "currency": digest.currency,
        "total_amount": str(digest.total),
        "lines": digest.lines,
        "sum_of_lines": str(digest.sum_of_lines),
        "balanced": digest.balanced,
        "marketplace": digest.marketplace,
        "decimal_comma": digest.decimal_comma,
        "encoding": digest.encoding,
        "columns": digest.columns,
        "start": digest.start.isoformat() if digest.start else None,
        "end": digest.end.isoformat() if digest.end else None,
        "deposit_date": digest.deposit_date.isoformat() if digest.deposit_date else None,
        "postings": [
            {
                "batch": journal.key,
                "accounting_date": journal.accounting_date.isoformat(),
                "account": line.account,
                "dimensions": list(line.dimensions[1:]),
                "amount": str(line.amount.amount),
                "vat_code": line.vat_code,
                "text": line.text,
            }
            for journal in plan.journals
            for line in journal.lines
        ],
        "unmapped": [u.to_dict() for u in plan.unmapped],
        "refunds": {"count": digest.refund_count, "total": str(digest.refund_total)},
    }


def _fail(text: str, as_json: bool, /, **extra: Any) -> typer.Exit:
    if as_json:
        typer.echo(json.dumps({"error": text, **extra}, indent=1))
    else:
        Console(stderr=True).print(f"[red]{text}[/red]")
    return typer.Exit(1)


@settlement_app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="V2 flat-file settlement (.tsv or .gz)")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read, check and plan only; post nothing")
    ] = False,
    as_json: JsonOption = False,
    marketplace: Annotated[
        str | None, typer.Option("--marketplace", help="Marketplace id or name, for the number format")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Read a settlement file, check it, and post it to M3's general ledger (once)."""
    settings = _settings(config)
    try:
        mappings = load_mappings(settings.mapping_file)
    except MappingError as exc:
        raise _fail(str(exc), as_json) from exc
    try:
        digest = read_settlement(file, aggregation=mappings.gl.aggregation, marketplace=marketplace)
        digest.check()
    except SettlementFileError as exc:
        if not dry_run:
            outcome = asyncio.run(_run(settings, file, marketplace))  # kept, and an incident opened
            raise _fail(outcome["detail"], as_json, **exc.to_dict(), status=outcome["status"]) from exc
        raise _fail(
            f"line {exc.line}: {exc.message}" if exc.line else exc.message, as_json, **exc.to_dict()
        ) from exc
    plan = plan_settlement(digest, mappings.gl)
    result = summary(digest, plan)
    result["dry_run"] = dry_run
    if not dry_run:
        result |= asyncio.run(_run(settings, file, marketplace))
    if as_json:
        typer.echo(json.dumps(result, indent=1, default=str))
    else:
        _print_summary(result)
    if result.get("status") in ("invalid", "unmapped", "failed") or (dry_run and plan.unmapped):
        raise typer.Exit(1)


async def _engine(settings: Settings) -> Any:
    from m3amazon import bootstrap
    from m3amazon.flows import settlement  # noqa: F401  (registers the workflow before launch)

    settings = settings.model_copy(deep=True)
    settings.engine.executor_id = f"{settings.engine.executor_id}-settlement"
    return await bootstrap.start_engine(settings, process_queues=False)


async def _run(settings: Settings, file: Path, marketplace: str | None) -> dict[str, Any]:
    from m3amazon import bootstrap
    from m3amazon.flows.settlement import SettlementSource, run_settlement
    from m3amazon.ops import settlements

    rt = await _engine(settings)
    try:
        sha = await asyncio.to_thread(
            settlements.store_file, rt.engine, file.read_bytes(), f"file:{file.name}"
        )
        outcome = await run_settlement(SettlementSource(name=file.name, sha256=sha, marketplace=marketplace))
    finally:
        await bootstrap.stop_engine()
    return {
        "status": outcome.status,
        "detail": outcome.detail,
        "batches": list(outcome.batches),
        "reconciliation": outcome.reconciliation,
        "file_sha256": sha,
    }


def _print_summary(result: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"settlement [bold]{result['settlement_id']}[/bold]: {result['lines']} lines, total "
        f"{result['total_amount']} {result['currency']}, lines sum to {result['sum_of_lines']}"
        f" ({'balanced' if result['balanced'] else 'NOT balanced'})"
    )
    table = Table("batch", "date", "account", "dimensions", "amount", "text")
    for p in result["postings"]:
        table.add_row(
            p["batch"],
            p["accounting_date"],
            p["account"],
            " ".join(p["dimensions"]),
            p["amount"],
            p["text"] or "",
        )
    console.print(table)
    for u in result["unmapped"]:
        console.print(
            f"[red]unmapped[/red] {u['transaction_type']}/{u['amount_type']}/{u['amount_description']}: "
            f"{u['count']} lines, {u['total']}"
        )
    if "status" in result:
        console.print(f"status: [bold]{result['status']}[/bold] - {result['detail']}")


@settlement_app.command("list")
def list_settlements(
    status: Annotated[
        str | None, typer.Option("--status", help="posted, unmapped, invalid or failed")
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The settlements this installation has seen, newest first."""
    from m3amazon.ops import db, settlements

    engine = db.create_engine(_settings(config).database_url)
    db.create_tables(engine)
    rows = settlements.list_all(engine, status=status)
    engine.dispose()
    keys = (
        "settlement_id",
        "status",
        "marketplace",
        "currency",
        "total_amount",
        "lines",
        "deposit_date",
        "updated_at",
    )
    if as_json:
        typer.echo(json.dumps([{k: row[k] for k in keys} for row in rows], indent=1, default=str))
        return
    table = Table(*keys)
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in keys))
    Console().print(table)


@settlement_app.command("show")
def show(settlement_id: str, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """One settlement: status, batches and its reconciliation report."""
    from m3amazon.ops import db, settlements

    engine = db.create_engine(_settings(config).database_url)
    db.create_tables(engine)
    row = settlements.get(engine, settlement_id)
    engine.dispose()
    if row is None:
        raise _fail(f"no settlement {settlement_id}", as_json)
    if as_json:
        typer.echo(json.dumps(row, indent=1, default=str))
        return
    console = Console()
    console.print(f"settlement [bold]{settlement_id}[/bold]: {row['status']} - {row['detail'] or ''}")
    console.print(
        f"total {row['total_amount']} {row['currency']}, {row['lines']} lines, deposit {row['deposit_date']}"
    )
    report = row.get("reconciliation") or {}
    if report:
        table = Table("triple", "account", "lines", "amount")
        for c in report["categories"]:
            table.add_row(c["triple"], c["account"], str(c["lines"]), c["amount"])
        console.print(table)
        console.print(f"posted: {report['posted']['by_account']}")
        console.print(f"differences: {report['differences']}")


@settlement_app.command("retry")
def retry(settlement_id: str, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Run a settlement again from its stored file (after the GL table or M3 was fixed)."""
    settings = _settings(config)

    async def go() -> dict[str, Any]:
        from m3amazon import bootstrap
        from m3amazon.flows.settlement import SettlementSource, run_settlement
        from m3amazon.ops import settlements

        rt = await _engine(settings)
        try:
            row = await asyncio.to_thread(settlements.get, rt.engine, settlement_id)
            if row is None or not row.get("file_sha256"):
                return {"error": f"no stored file for settlement {settlement_id}"}
            source = SettlementSource(
                name=settlement_id, sha256=row["file_sha256"], report_id=row.get("report_id")
            )
            from datetime import UTC, datetime

            outcome = await run_settlement(source, attempt=f"retry-{datetime.now(UTC):%Y%m%d%H%M%S}")
        finally:
            await bootstrap.stop_engine()
        return {"settlement_id": settlement_id, "status": outcome.status, "detail": outcome.detail}

    result = asyncio.run(go())
    if "error" in result:
        raise _fail(result["error"], as_json)
    typer.echo(json.dumps(result, indent=1) if as_json else f"{result['status']}: {result['detail']}")


@settlement_app.command("discover")
def discover_command(config: ConfigOption = None) -> None:
    """Find settlement reports at Amazon (getReports and notifications) and post the new ones."""
    settings = _settings(config)

    async def go() -> list[str]:
        from dbos import DBOS

        from m3amazon import bootstrap
        from m3amazon.flows.settlement import discover

        await _engine(settings)
        try:
            started = await discover()
            for workflow_id in started:
                await (await DBOS.retrieve_workflow_async(workflow_id)).get_result()
            return started
        finally:
            await bootstrap.stop_engine()

    started = asyncio.run(go())
    typer.echo(f"{len(started)} settlement run(s) started")


@settlement_app.command("preview")
def preview(
    days: Annotated[int, typer.Option("--days", help="Open groups started within this many days")] = 60,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """PROVISIONAL: the postings of the open settlement periods so far (Finances API), not posted."""
    settings = _settings(config)
    mappings = load_mappings(settings.mapping_file)

    async def go() -> list[dict[str, Any]]:
        from m3amazon.amazon.gateway import AmazonGateway
        from m3amazon.flows.settlement_preview import preview_open_groups

        async with AmazonGateway(settings.amazon) as gateway:
            return await preview_open_groups(gateway, mappings.gl, started_within_days=days)

    previews = asyncio.run(go())
    if as_json:
        typer.echo(json.dumps(previews, indent=1))
        return
    console = Console()
    for item in previews:
        console.print(
            f"[yellow]PROVISIONAL[/yellow] open group {item['group_id']}: {item['lines']} lines, "
            f"{item['total_so_far']} {item['currency']} so far"
        )
        table = Table("date", "account", "dimensions", "amount", "text")
        for p in item["postings"]:
            table.add_row(
                p["accounting_date"], p["account"], " ".join(p["dimensions"]), p["amount"], p["text"] or ""
            )
        console.print(table)
        for u in item["unmapped"]:
            console.print(
                f"[red]unmapped[/red] {u['transaction_type']}/{u['amount_type']}/{u['amount_description']}"
            )
    if not previews:
        console.print("no open settlement period")
