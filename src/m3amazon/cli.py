"""The `m3amazon` command."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from m3amazon.cli_ops import incidents_app, order_app
from m3amazon.cli_pii import pii_app
from m3amazon.cli_settlement import settlement_app
from m3amazon.cli_users import users_app
from m3amazon.cli_workers import workers_app
from m3amazon.config import Settings

app = typer.Typer(help="Integration between Infor M3 and Amazon's Selling Partner API.", no_args_is_help=True)
sim_app = typer.Typer(help="Run a simulator in the foreground (Ctrl-C stops it).", no_args_is_help=True)
config_app = typer.Typer(help="Inspect and check the configuration.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.add_typer(config_app, name="config")
inspect_app = typer.Typer(
    help="Read messages offline and show what the product makes of them.", no_args_is_help=True
)
app.add_typer(inspect_app, name="inspect")
amazon_app = typer.Typer(help="Set up and look at the Amazon side (SP-API).", no_args_is_help=True)
app.add_typer(amazon_app, name="amazon")
app.add_typer(incidents_app, name="incidents")
app.add_typer(order_app, name="order")
app.add_typer(users_app, name="users")
app.add_typer(workers_app, name="workers")
app.add_typer(pii_app, name="pii")
app.add_typer(settlement_app, name="settlement")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file (default: $M3AMAZON_CONFIG)")
]


#: Libraries that log request URLs (with query strings, which may carry MI record values) or headers
#: at INFO/DEBUG: they only speak when something goes wrong.
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "aiobotocore", "botocore")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _load(config: Path | None) -> Settings:
    try:
        return Settings.load(config)
    except FileNotFoundError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except ValidationError as exc:
        console = Console(stderr=True)
        console.print("[red]The configuration is not valid:[/red]")
        for err in exc.errors():
            console.print(f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
        raise typer.Exit(2) from exc


@app.command()
def demo(
    orders: Annotated[int, typer.Option(min=0, help="Amazon orders to generate")] = 50,
    seed: Annotated[int, typer.Option(help="Scenario seed (same seed, same orders)")] = 1,
    duplicate_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of notifications sent twice")
    ] = 0.1,
    unknown_skus: Annotated[
        int, typer.Option(min=0, help="Catalog SKUs M3 has no item for (injected sku_unknown incidents)")
    ] = 0,
    unfit_address_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of orders with an address too long for M3")
    ] = 0.0,
    cancel_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of orders the buyer cancels before shipment")
    ] = 0.0,
    afn_share: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of FBA orders")] = 0.3,
    mcf_orders: Annotated[
        int, typer.Option(min=0, help="Web shop orders in M3 that Amazon ships from FBA (MCF)")
    ] = 5,
    exit_when_done: Annotated[
        bool, typer.Option("--exit", help="Stop once every order has reached its end")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object")] = False,
    port: Annotated[int, typer.Option(help="Port of the web console")] = 8080,
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its databases")] = Path("var/demo"),
) -> None:
    """Run everything on loopback: simulators, SQS, engine, web; N orders from Amazon to invoice."""
    from m3amazon.demo import DemoOptions, run_demo

    _setup_logging("WARNING")
    options = DemoOptions(
        orders=orders,
        seed=seed,
        duplicate_share=duplicate_share,
        unknown_skus=unknown_skus,
        unfit_address_share=unfit_address_share,
        cancel_share=cancel_share,
        afn_share=afn_share,
        mcf_orders=mcf_orders,
        exit_when_done=exit_when_done,
        as_json=as_json,
        port=port,
        workdir=workdir,
    )
    summary = asyncio.run(run_demo(options))
    if not summary["complete"] or summary["m3_duplicate_orders"]:
        raise typer.Exit(1)


@app.command()
def run(
    config: ConfigOption = None,
    web: Annotated[bool, typer.Option(help="Serve the web surface")] = True,
    intake: Annotated[bool, typer.Option(help="Take notifications from SQS")] = True,
    work: Annotated[
        bool, typer.Option(help="Run queued workflows (--no-work: a web process that only enqueues)")
    ] = True,
) -> None:
    """Run the service (engine, SQS intake, web) until SIGINT/SIGTERM."""
    from m3amazon.ops.logs import setup_logging
    from m3amazon.service import run_service

    settings = _load(config)
    # JSON lines with correlation ids, personal data and secrets redacted (or text: log_format)
    setup_logging(settings.log_level, settings.log_format, QUIET_LOGGERS)
    asyncio.run(run_service(settings, web=web, intake=intake, work=work))


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the settings and try every connection; say in plain words what is wrong."""
    from m3amazon.connectivity import check_all

    settings = _load(config)
    console = Console()
    logging.getLogger("stamina").setLevel(logging.ERROR)  # retries are summed up in the result lines
    results = asyncio.run(check_all(settings))
    failed = False
    for result in results:
        mark = "[green]ok[/green]  " if result.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {result.name}: {result.detail}")
        failed |= not result.ok
    raise typer.Exit(1 if failed else 0)


@config_app.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the effective settings as JSON, secrets hidden."""
    settings = _load(config)
    print(json.dumps(json.loads(settings.model_dump_json()), indent=2))


@inspect_app.command("bod")
def inspect_bod(
    file: Annotated[Path, typer.Argument(help="A BOD (Infor OAGIS XML) file")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    unmasked: Annotated[bool, typer.Option("--unmasked", help="Show personal data instead of ***")] = False,
) -> None:
    """Parse a BOD and print its envelope and canonical objects, or its errors (exit status 2)."""
    from m3amazon.m3.ion.describe import describe_bod

    try:
        data = file.read_bytes()
    except OSError as exc:
        Console(stderr=True).print(f"[red]cannot read {file}: {exc.strerror}[/red]")
        raise typer.Exit(2) from exc
    result = describe_bod(data, masked=not unmasked)
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif result["ok"]:
        console = Console()
        console.print(
            f"[green]{result['envelope']['document_name']}[/green] BODID {result['envelope']['bod_id']}"
        )
        console.print_json(json.dumps(result))
    else:
        Console(stderr=True).print(
            f"[red]{result['error']['reason_code']}[/red]: {result['error']['message']}"
        )
    raise typer.Exit(0 if result["ok"] else 2)


@inspect_app.command("notification")
def inspect_notification(
    file: Annotated[Path, typer.Argument(help="An SP-API notification (the SQS message body)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Validate a notification offline and print its canonical event, or why not (exit status 2)."""
    from m3amazon.amazon.describe import describe_notification

    try:
        data = file.read_bytes()
    except OSError as exc:
        Console(stderr=True).print(f"[red]cannot read {file}: {exc.strerror}[/red]")
        raise typer.Exit(2) from exc
    result = describe_notification(data)
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif result["ok"]:
        console = Console()
        notification = result["notification"]
        console.print(f"[green]{notification['type']}[/green] {notification['id']} -> {result['event_type']}")
        console.print_json(json.dumps(result["event"]))
    else:
        error = result["error"]
        Console(stderr=True).print(
            f"[red]not a usable notification[/red] ({error['reason_code']}): {error['message']}"
        )
    raise typer.Exit(0 if result["ok"] else 2)


@amazon_app.command("subscribe")
def amazon_subscribe(
    config: ConfigOption = None,
    queue_arn: Annotated[
        str | None, typer.Option(help="SQS queue ARN (default: asked of SQS for amazon.sqs.queue_url)")
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the destination, if one is created")] = "m3amazon",
    notification_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this notification type (repeatable)")
    ] = None,
    replace: Annotated[
        bool, typer.Option(help="Point subscriptions that use another destination at this queue")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Create the SQS destination and the product's subscriptions, where missing (idempotent)."""
    from m3amazon.amazon.api.subscribe import queue_arn as lookup_arn
    from m3amazon.amazon.api.subscribe import subscribe
    from m3amazon.amazon.errors import AmazonApiError

    settings = _load(config)
    _setup_logging("WARNING")
    console = Console(stderr=True)
    try:
        arn = queue_arn or lookup_arn(settings.amazon.sqs)
        result = asyncio.run(
            subscribe(settings.amazon, arn, name=name, types=notification_type, replace=replace)
        )
    except (AmazonApiError, ValueError) as exc:
        console.print(f"[red]subscribe failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps({"queue_arn": arn, **dataclasses.asdict(result)}, indent=2))
        return
    created = "created" if result.destination_created else "reused"
    Console().print(f"destination {result.destination_id} ({created}) for {arn}")
    for item in result.subscriptions:
        Console().print(f"  {item.notification_type:<38} {item.action.value:<12} {item.subscription_id}")


@sim_app.command("amazon")
def sim_amazon(
    host: str = "127.0.0.1",
    port: int = 8443,
    tls_dir: Annotated[
        Path, typer.Option(help="Local CA and server certificate (created if missing)")
    ] = Path("var/tls"),
    time_scale: Annotated[float, typer.Option(help="Speed-up of the simulated clock and usage plans")] = 1.0,
    rate_limits: Annotated[bool, typer.Option(help="Enforce the usage plans (429 when exhausted)")] = True,
    sqs_endpoint: Annotated[str | None, typer.Option(help="SQS endpoint for notifications")] = None,
    queue_url: Annotated[str | None, typer.Option(help="SQS queue URL for notifications")] = None,
    marketplace: Annotated[list[str] | None, typer.Option(help="Marketplace id (repeatable)")] = None,
    tick_seconds: Annotated[
        float | None, typer.Option(help="Advance orders, MCF orders, feeds and reports every N seconds")
    ] = None,
) -> None:
    """The Amazon SP-API simulator over HTTPS (LWA, the SP-API operations, notifications)."""
    from m3amazon.sim.amazon.app import create_app
    from m3amazon.sim.amazon.notify import SqsPublisher
    from m3amazon.sim.amazon.state import SellerAccount
    from m3amazon.sim.catalog import MARKETPLACES
    from m3amazon.sim.server import serve_forever
    from m3amazon.sim.tls import LocalTLS

    tls = LocalTLS.ensure(tls_dir)
    account = SellerAccount(marketplaces=marketplace or list(MARKETPLACES))
    publisher = SqsPublisher(sqs_endpoint, queue_url) if queue_url else None
    console = Console(stderr=True)
    console.print(f"Amazon simulator on https://{host}:{port} (CA: {tls.ca_cert})")
    console.print(f"LWA client id {account.client_id}; secrets: see m3amazon.sim.amazon.state defaults")
    serve_forever(
        create_app(
            account,
            publisher=publisher,
            rate_limits=rate_limits,
            time_scale=time_scale,
            tick_interval_s=tick_seconds,
        ),
        host=host,
        port=port,
        tls=(tls.server_cert, tls.server_key),
    )


@sim_app.command("m3")
def sim_m3(
    host: str = "127.0.0.1",
    port: int = 8444,
    db: Annotated[Path, typer.Option(help="SQLite file holding the simulator's state")] = Path(
        "var/m3-simulator.sqlite"
    ),
    write_ionapi: Annotated[Path | None, typer.Option(help="Write a matching .ionapi file here")] = None,
    ims_url: Annotated[
        str | None,
        typer.Option(help="Send SyncShipment/SyncInvoice/SyncInventoryCount BODs to this IMS root"),
    ] = None,
    ims_token: Annotated[str | None, typer.Option(help="Bearer token for --ims-url")] = None,
    invoice_on_delivery: Annotated[
        bool, typer.Option(help="Invoice deliveries at once (else: POST /_sim/invoice)")
    ] = True,
) -> None:
    """The M3 MI REST simulator (v2, on-premises basic auth and ION API OAuth)."""
    from m3amazon.sim.catalog import MARKETPLACES, build_catalog
    from m3amazon.sim.m3.app import create_app
    from m3amazon.sim.m3.emitter import ImsTarget
    from m3amazon.sim.m3.ionapi import write_ionapi as write_file
    from m3amazon.sim.m3.store import SimStore
    from m3amazon.sim.sandbox import ION_CLIENT, ION_TENANT, M3_PASSWORD, M3_USER
    from m3amazon.sim.server import serve_forever

    db.parent.mkdir(parents=True, exist_ok=True)
    store = SimStore(db)
    if store.is_empty():
        store.seed_from_catalog(build_catalog(), MARKETPLACES)
    if write_ionapi is not None:
        write_file(write_ionapi, f"http://{host}:{port}", ION_TENANT, *ION_CLIENT)
    console = Console(stderr=True)
    console.print(f"M3 simulator on http://{host}:{port} (user {M3_USER}/{M3_PASSWORD}; state in {db})")
    serve_forever(
        create_app(
            store,
            users={M3_USER: M3_PASSWORD},
            ionapi_client=ION_CLIENT,
            ims_target=ImsTarget(ims_url, token=ims_token) if ims_url else None,
            invoice_on_delivery=invoice_on_delivery,
        ),
        host=host,
        port=port,
    )


@sim_app.command("sqs")
def sim_sqs(
    host: str = "127.0.0.1",
    port: int = 9324,
    queue: Annotated[list[str] | None, typer.Option(help="Queue to create (repeatable)")] = None,
) -> None:
    """A local SQS server (moto) for the notifications."""
    from m3amazon.sim.sqs import serve_sqs_forever

    Console(stderr=True).print(f"SQS (moto) on http://{host}:{port}")
    serve_sqs_forever(host, port, tuple(queue or ("sp-api-notifications",)))
