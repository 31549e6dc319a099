"""Conformance, both directions, for every operation the Amazon simulator serves.

One module-scoped run drives every client API of `m3amazon.amazon.api` against the simulator
(over HTTPS, through a recorder that keeps each request and answer), the way the product uses them:
ship an MFN order, an MCF order through its whole life and a cancelled one, FBA inventory, listing
quantities by patch and by JSON_LISTINGS_FEED, settlements, finances, and the notification set-up.
Then:
- every simulator answer validates against its operation's response schema for its status (strict:
  undeclared fields refused), and every served operation answered at least once with success;
- every operation's error answers (403, 429, 500, 503, and 400/404 where the run produced them)
  validate against the schemas the model declares for those statuses;
- every request our client sent uses only declared parameters with valid values, carries the
  required ones, and its body validates against the operation's body schema;
- every notification the simulator published validates against its schema;
- the JSON_LISTINGS_FEED we build and the processing report the simulator writes validate against
  Amazon's listings-feed schemas.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from amazon_reference import (
    assert_valid,
    check_request,
    feed_schema,
    notification_schema,
    operation_for,
    reference_dir,
    response_validator,
    strict,
    validator,
)
from pydantic import SecretStr

from m3amazon.amazon.api.feeds import FeedsApi
from m3amazon.amazon.api.finances import FinancesApi
from m3amazon.amazon.api.fulfillment import FulfillmentApi
from m3amazon.amazon.api.inventory import InventoryApi
from m3amazon.amazon.api.listings import ListingsApi
from m3amazon.amazon.api.notifications import NotificationsApi
from m3amazon.amazon.api.orders_v0 import OrdersV0Api
from m3amazon.amazon.api.reports import ReportsApi
from m3amazon.amazon.api.subscribe import ensure_subscriptions
from m3amazon.amazon.gateway import GRANTLESS_OPERATIONS, AmazonGateway, RetryPolicy
from m3amazon.amazon.translate.feeds import QuantityUpdate, quantity_feed
from m3amazon.canonical import (
    Address,
    FulfillmentChannel,
    FulfillmentLine,
    FulfillmentRequest,
    Package,
    Shipment,
    ShipmentLine,
)
from m3amazon.config import AmazonSettings
from m3amazon.sim.amazon.app import create_app
from m3amazon.sim.amazon.faults import SERVED
from m3amazon.sim.amazon.notify import ListPublisher
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.server import RunningServer, serve_in_thread
from m3amazon.sim.tls import LocalTLS

pytestmark = pytest.mark.reference
US, DE, UK = "ATVPDKIKX0DER", "A1PA6795UKMFR9", "A1F83G8C2ARO7P"
LIBRARY_AGENT = "python-sp-api"
SCHEMA_FILES = {
    "ORDER_CHANGE": "OrderChangeNotification.json",
    "FBA_INVENTORY_AVAILABILITY_CHANGES": "FBAInventoryAvailabilityChangeNotification.json",
    "FULFILLMENT_ORDER_STATUS": "FulfillmentOrderStatusNotification.json",
    "FBA_OUTBOUND_SHIPMENT_STATUS": "FBAOutboundShipmentStatusNotification.json",
    "REPORT_PROCESSING_FINISHED": "ReportProcessingFinishedNotification.json",
    "FEED_PROCESSING_FINISHED": "FeedProcessingFinishedNotification.json",
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE": "ListingsItemMfnQuantityChange.json",
}


@dataclass
class Exchange:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response: bytes = b""

    @property
    def sp_api(self) -> bool:
        return not self.path.startswith(("/_sim", "/_docs", "/auth/"))

    @property
    def from_client(self) -> bool:
        return self.headers.get("user-agent", "").startswith(LIBRARY_AGENT)


class Recorder:
    """ASGI wrapper that keeps every request and its answer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        exchange = Exchange(
            scope["method"],
            scope["path"],
            parse_qsl(scope["query_string"].decode(), keep_blank_values=True),
            {k.decode().lower(): v.decode() for k, v in scope["headers"]},
            b"".join(chunks),
        )
        self.exchanges.append(exchange)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": exchange.body, "more_body": False}

        async def keep(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            elif message["type"] == "http.response.body":
                exchange.response += message.get("body", b"")
            await send(message)

        await self.app(scope, replay, keep)


@dataclass
class World:
    account: SellerAccount
    server: RunningServer
    recorder: Recorder
    tls: LocalTLS
    publisher: ListPublisher
    feed_document: dict[str, Any] = field(default_factory=dict)
    feed_ids: list[str] = field(default_factory=list)

    def control(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url, verify=ssl.create_default_context(cafile=str(self.tls.ca_cert))
        )

    def settings(self) -> AmazonSettings:
        return AmazonSettings(
            endpoint=self.server.url,
            lwa_token_url=self.server.url + "/auth/o2/token",
            ca_bundle=self.tls.ca_cert,
            lwa_client_id=self.account.client_id,
            lwa_client_secret=SecretStr(self.account.client_secret),
            refresh_token=SecretStr(self.account.refresh_token),
            seller_id=self.account.seller_id,
            marketplaces=[US, DE],
        )


def _request(world: World, request_id: str, sku: str, quantity: int) -> FulfillmentRequest:
    return FulfillmentRequest(
        request_id=request_id,
        displayable_order_id=request_id,
        m3_order_number="CO" + request_id[-4:],
        ship_to=Address(
            name="Grace Hopper",
            line1="1 Main Street",
            city="Seattle",
            state="WA",
            postal_code="98101",
            country_code="US",
        ),
        lines=(FulfillmentLine(line_id="1", sku=sku, quantity=quantity),),
    )


async def _drive(world: World) -> None:
    account, control = world.account, world.control()
    async with AmazonGateway(
        world.settings(), retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.02)
    ) as gateway:
        # Orders: confirm an MFN shipment (v0), reading its packages (v2026) first.
        mfn = next(
            o for o in account.orders() if o.channel is FulfillmentChannel.MERCHANT and o.marketplace_id == US
        )
        shipment = Shipment(
            shipment_id="4711",
            order_id=mfn.order_id,
            source="m3",
            shipped_at=datetime.now(UTC),
            lines=tuple(
                ShipmentLine(line_id=line.line_id, sku=line.sku, quantity=line.quantity) for line in mfn.lines
            ),
            packages=(
                Package(carrier="Hermes Germany", tracking_number="H123456789", ship_method="Standard"),
            ),
        )
        await OrdersV0Api(gateway).ensure_confirmed(shipment, US)
        await OrdersV0Api(gateway).ensure_confirmed(shipment, US)  # reads the package it confirmed
        await gateway.search_orders(created_after=datetime.now(UTC) - timedelta(days=3), max_results=10)
        # MCF: preview, create, follow it to Complete; a second one cancelled; an unfulfillable one.
        mcf = FulfillmentApi(gateway)
        sku = account.catalog[0].sku
        control.post(
            "/_sim/inventory", json={"sku": sku, "marketplace": US, "on_hand": 40}
        ).raise_for_status()
        await mcf.preview(_request(world, "MCF-PREVIEW-1", sku, 2), marketplace_id=US)
        await mcf.preview(_request(world, "MCF-PREVIEW-2", sku, 60), marketplace_id=US)
        await mcf.ensure_created(
            _request(world, "MCF-0001", sku, 2), ordered_at=datetime.now(UTC), marketplace_id=US
        )
        await mcf.create(_request(world, "MCF-0002", sku, 1), ordered_at=datetime.now(UTC), marketplace_id=US)
        await mcf.cancel("MCF-0002")
        await mcf.create(
            _request(world, "MCF-0003", sku, 200), ordered_at=datetime.now(UTC), marketplace_id=US
        )
        control.post("/_sim/tick", json={"steps": 3}).raise_for_status()
        await mcf.progress("MCF-0001")
        await mcf.progress("MCF-0003")
        [o async for o in mcf.list_all(query_start_date=datetime.now(UTC) - timedelta(days=1))]
        # FBA inventory, listings (patch), JSON_LISTINGS_FEED.
        await InventoryApi(gateway).positions(US)
        await InventoryApi(gateway).positions(DE, skus=[sku])
        listings = ListingsApi(gateway)
        await listings.ensure_quantity(account.catalog[1].sku, 17, marketplace_id=US)
        feeds = FeedsApi(gateway)
        updates = [
            QuantityUpdate(
                account.catalog[2].sku, 5, account.listings.get(account.catalog[2].sku, US).product_type
            ),  # type: ignore[union-attr]
            QuantityUpdate(account.catalog[3].sku, 6, "NOT_ITS_TYPE"),
        ]
        world.feed_document = quantity_feed(account.seller_id, updates)
        feed_id = await feeds.submit_quantities(updates, marketplace_ids=[US])
        world.feed_ids.append(feed_id)
        control.post("/_sim/tick", json={"steps": 2}).raise_for_status()
        assert await feeds.quantity_results(feed_id, updates) is not None
        # AFN orders ship on ticks; a refund; settlements close; reports and finances are read.
        control.post("/_sim/tick", json={"steps": 2}).raise_for_status()
        shipped = [o for o in account.orders() if o.status.value == "SHIPPED"]
        control.post(f"/_sim/orders/{shipped[0].order_id}/refund").raise_for_status()
        control.post("/_sim/settlements/close").raise_for_status()
        reports = ReportsApi(gateway)
        async for report in reports.settlement_reports():
            await reports.settlement(await reports.report(report.report_id))
        finances = FinancesApi(gateway)
        async for group in finances.event_groups(started_after=datetime.now(UTC) - timedelta(days=2)):
            async for _ in finances.events_by_group(group.financial_event_group_id):
                pass
        [t async for t in finances.transactions(posted_after=datetime.now(UTC) - timedelta(days=2))]
        [t async for t in finances.transactions(related=("ORDER_ID", shipped[0].order_id))]
        # Notifications: destination and subscriptions, twice (the second run changes nothing),
        # then one subscription deleted and set up again.
        notifications = NotificationsApi(gateway)
        arn = "arn:aws:sqs:us-east-1:123456789012:m3amazon-conformance"
        await ensure_subscriptions(notifications, arn)
        result = await ensure_subscriptions(notifications, arn)
        first = result.subscriptions[0]
        await notifications.delete_subscription(first.notification_type, first.subscription_id)
        await ensure_subscriptions(notifications, arn, types=[first.notification_type])
    # Operations the client does not use, and error answers: straight HTTP calls.
    token = control.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": account.refresh_token,
            "client_id": account.client_id,
            "client_secret": account.client_secret,
        },
    ).json()["access_token"]
    created = control.post(
        "/reports/2021-06-30/reports",
        json={"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [US]},
        headers={"x-amz-access-token": token},
    )
    assert created.status_code == 202
    control.post("/_sim/tick", json={"steps": 2}).raise_for_status()
    report = control.get(
        f"/reports/2021-06-30/reports/{created.json()['reportId']}", headers={"x-amz-access-token": token}
    )
    assert report.json()["processingStatus"] == "DONE"
    control.post(
        "/reports/2021-06-30/reports",
        json={"reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "marketplaceIds": [US]},
        headers={"x-amz-access-token": token},
    )
    # A buyer's cancellation request shows in getOrder's CANCELLATION dataset.
    requested = next(
        o
        for o in account.orders()
        if o.channel is FulfillmentChannel.MERCHANT and o.status.value == "UNSHIPPED"
    )
    control.post(f"/_sim/orders/{requested.order_id}/buyer-cancel").raise_for_status()
    shown = control.get(
        f"/orders/2026-01-01/orders/{requested.order_id}",
        params={"includedData": "CANCELLATION,PACKAGES,FULFILLMENT"},
        headers={"x-amz-access-token": token},
    ).json()["order"]
    assert shown["orderItems"][0]["cancellation"]["cancellationRequest"]["requester"] == "BUYER"
    _error_probes(world, control, token)
    control.close()


def _sample_path(template: str) -> str:
    return (
        template.replace("{sellerId}", "A2SIMSELLER0001")
        .replace("{notificationType}", "ORDER_CHANGE")
        .replace("{", "x-")
        .replace("}", "")
    )


def _error_probes(world: World, control: httpx.Client, token: str) -> None:
    """403 (no token), then 429/500/503 (injected) from every served operation."""
    table = json.loads(resources.files("m3amazon.amazon").joinpath("data/operations.json").read_text())
    grantless = control.post(
        "/auth/o2/token",
        data={
            "grant_type": "client_credentials",
            "scope": "sellingpartnerapi::notifications",
            "client_id": world.account.client_id,
            "client_secret": world.account.client_secret,
        },
    ).json()["access_token"]
    for operation_id, version in SERVED.items():
        entry = table["operations"][f"{operation_id}@{version}"]
        path = _sample_path(entry["path"])
        body = b"{}" if entry["method"] in ("POST", "PUT", "PATCH") else None
        control.request(entry["method"], path, content=body)
        headers = {"x-amz-access-token": grantless if operation_id in GRANTLESS_OPERATIONS else token}
        for status in (429, 500, 503):
            control.post("/_sim/faults", json={"fail_next": [status], "operations": [operation_id]})
            control.request(entry["method"], path, content=body, headers=headers)
    control.post("/_sim/faults", json={})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reference_dir()
    tls = LocalTLS.ensure(Path(tmp_path_factory.mktemp("tls")))
    account = SellerAccount(marketplaces=[US, DE, UK])
    generate_orders(account, 24, seed=5, afn_share=0.5, pending_share=0.2)
    publisher = ListPublisher()
    recorder = Recorder(create_app(account, publisher=publisher, time_scale=10_000))
    server = serve_in_thread(recorder, tls=(tls.server_cert, tls.server_key), name="amazon-sim-conformance")
    state = World(account, server, recorder, tls, publisher)
    asyncio.run(_drive(state))
    yield state
    server.stop()


def test_every_answer_matches_its_operation_in_the_model(world: World) -> None:
    answered_ok: set[str] = set()
    statuses: dict[str, set[int]] = {}
    for exchange in world.recorder.exchanges:
        if not exchange.sp_api:
            continue
        op = operation_for(exchange.method, exchange.path)
        assert str(exchange.status) in op.spec["responses"], (
            f"{op.operation_id} answered undeclared {exchange.status}"
        )
        check = response_validator(op.model_file, op.operation_id, exchange.status)
        if check is None:
            assert exchange.response == b"", f"{op.operation_id} {exchange.status} must have no body"
        else:
            try:
                assert_valid(check, json.loads(exchange.response))
            except AssertionError as exc:
                raise AssertionError(f"{op.operation_id} {exchange.status}: {exc}") from None
        statuses.setdefault(op.operation_id, set()).add(exchange.status)
        if exchange.status < 300:
            answered_ok.add(op.operation_id)
    assert answered_ok == set(SERVED), f"never answered with success: {set(SERVED) - answered_ok}"
    for operation_id in SERVED:
        assert {403, 429, 500, 503} <= statuses[operation_id], operation_id
    assert 400 in statuses["confirmShipment"] or 400 in statuses["createReport"]


def test_every_client_request_matches_its_operation_in_the_model(world: World) -> None:
    sent: set[str] = set()
    for exchange in world.recorder.exchanges:
        if not (exchange.sp_api and exchange.from_client):
            continue
        op = operation_for(exchange.method, exchange.path)
        body = json.loads(exchange.body) if exchange.body else None
        try:
            check_request(op, exchange.path, exchange.query, body)
        except AssertionError as exc:
            raise AssertionError(f"{op.operation_id} request {exchange.query} {body}: {exc}") from None
        assert exchange.headers["x-amz-access-token"].startswith("Atza|")
        assert exchange.headers["host"] == world.server.url.removeprefix("https://")
        sent.add(op.operation_id)
    # createReport is not a client operation (settlement reports cannot be requested).
    assert sent == set(SERVED) - {"createReport"}, f"not exercised: {set(SERVED) - sent}"


def test_document_transfers_carry_no_sp_api_token(world: World) -> None:
    transfers = [e for e in world.recorder.exchanges if e.path.startswith("/_docs/")]
    assert {e.method for e in transfers} == {"GET", "PUT"}
    assert all("x-amz-access-token" not in e.headers and e.status == 200 for e in transfers)


def _fulfillment_order_status_schema() -> dict[str, Any]:
    """FULFILLMENT_ORDER_STATUS's schema is placeholder text (research §5.3): it requires a shipment,
    a return item and an `info` object in every notification, and its example carries both on one
    event. Amazon cannot send a shipment before there is one; those three requirements are dropped."""
    schema = json.loads(json.dumps(notification_schema(SCHEMA_FILES["FULFILLMENT_ORDER_STATUS"])))
    body = schema["properties"]["Payload"]["properties"]["FulfillmentOrderStatusNotification"]
    body["required"] = [
        r for r in body["required"] if r not in ("FulfillmentShipment", "FulfillmentReturnItem")
    ]
    shipment = body["properties"]["FulfillmentShipment"]
    shipment["required"] = [r for r in shipment["required"] if r != "info"]
    return schema


def test_every_notification_matches_its_schema(world: World) -> None:
    seen: dict[str, int] = {}
    for raw in world.publisher.bodies:
        body = json.loads(raw)
        kind = body.get("NotificationType") or body.get("notificationType")
        schema = (
            _fulfillment_order_status_schema()
            if kind == "FULFILLMENT_ORDER_STATUS"
            else notification_schema(SCHEMA_FILES[kind])
        )
        assert_valid(validator(strict(schema)), body)
        seen[kind] = seen.get(kind, 0) + 1
    assert set(seen) == set(SCHEMA_FILES), f"never sent: {set(SCHEMA_FILES) - set(seen)}"


def test_listings_feed_and_processing_report_match_their_schemas(world: World) -> None:
    assert_valid(validator(feed_schema("listings-feed-schema-v2.json")), world.feed_document)
    feed = world.account.feeds.get(world.feed_ids[0])
    assert feed is not None and feed.result_document_id
    document = world.account.documents.get(feed.result_document_id)
    assert document is not None and document.content is not None
    report = json.loads(document.content)
    assert_valid(validator(feed_schema("listings-feed-processing-report-schema-v2.json")), report)
    assert report["summary"]["messagesAccepted"] == 1 and report["summary"]["messagesInvalid"] == 1
