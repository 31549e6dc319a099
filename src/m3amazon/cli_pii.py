"""`m3amazon pii ...`: keys for personal data at rest, their rotation, and the retention purge.

See docs/security.md. Run with the same `--config` as the workers (the keys come from
`security.pii_keys` / `security.pii_keys_file` or `M3AMAZON_SECURITY__PII_KEYS`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from m3amazon.ops import db

pii_app = typer.Typer(
    help="Personal data: encryption keys, key rotation, retention purge.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file (default: $M3AMAZON_CONFIG)")
]


@pii_app.command("new-key")
def new_key() -> None:
    """Print a new encryption key (put it first in security.pii_keys; keep the old ones until rotated)."""
    from m3amazon.ops.crypto import generate_key

    print(generate_key())


@pii_app.command("purge")
def purge(
    config: ConfigOption = None,
    days: Annotated[
        float | None, typer.Option(min=0, help="Override security.pii_retention_days for this run")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be removed, change nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Remove buyer names, addresses, phones and emails of work finished more than N days ago."""
    from m3amazon.cli import _load
    from m3amazon.ops.retention import purge as run_purge

    settings = _load(config)
    engine = db.create_engine(settings.database_url, pool_size=2)
    db.create_tables(engine)
    retention = settings.security.pii_retention_days if days is None else days
    report = run_purge(engine, retention, dry_run=dry_run)
    engine.dispose()
    if as_json:
        print(json.dumps(report.as_json()))
        return
    verb = "would remove" if dry_run else "removed"
    Console().print(
        f"cut-off {report.cutoff} ({retention:g} days): {verb} the personal data of "
        f"{report.workflows} finished workflow(s) ({report.steps} step outputs), {report.bods} BOD(s), "
        f"{report.incidents} closed incident payload(s)"
    )


@pii_app.command("rotate")
def rotate(config: ConfigOption = None) -> None:
    """Re-encrypt everything stored with the first configured key (then drop the old keys)."""
    from m3amazon.cli import _load
    from m3amazon.ops.crypto import PiiCipher
    from m3amazon.ops.retention import rotate as run_rotate

    settings = _load(config)
    keys = settings.security.keys()
    if not keys:
        Console(stderr=True).print("[red]no PII keys configured (security.pii_keys)[/red]")
        raise typer.Exit(2)
    engine = db.create_engine(settings.database_url, pool_size=2)
    db.create_tables(engine)
    done = run_rotate(engine, PiiCipher(keys))
    engine.dispose()
    for column, count in done.items():
        if count:
            Console().print(f"{column}: {count} value(s) re-encrypted")
    Console().print(f"done: {sum(done.values())} value(s) now under the first key")
