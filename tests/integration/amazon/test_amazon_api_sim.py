"""The SP-API operations beyond order reading, against the stateful simulator over HTTPS.

Each test drives one API module of `m3amazon.amazon.api` the way a flow will, and checks what the
simulated seller account did: orders shipped, stock moved, listings changed, settlements written,
notifications sent; and that the client copes with the faults Amazon produces.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from amazon_sim_harness import AmazonSim

from m3amazon.amazon.api.documents import TransferPolicy
from m3amazon.amazon.api.feeds import FeedsApi
from m3amazon.amazon.api.finances import FinancesApi
from m3amazon.amazon.api.fulfillment import FulfillmentApi
from m3amazon.amazon.api.inventory import InventoryApi
from m3amazon.amazon.api.listings import ListingsApi
from m3amazon.amazon.api.notifications import NotificationsApi
from m3amazon.amazon.api.orders_v0 import OrdersV0Api
from m3amazon.amazon.api.reports import ReportsApi
from m3amazon.amazon.errors import AuthError, BadRequest, NotFound, Unavailable
from m3amazon.amazon.translate import finances as translate_finances
from m3amazon.amazon.translate.feeds import QuantityUpdate
from m3amazon.amazon.translate.orders_v0 import confirm_shipment_request
from m3amazon.canonical import (
    Address,
    FulfillmentLine,
    FulfillmentRequest,
    FulfillmentStatus,
    Money,
    OrderStatus,
    Package,
    Shipment,
    ShipmentLine,
)
from m3amazon.sim.amazon.notify import ListPublisher
from m3amazon.sim.amazon.scenario import generate_orders

StartAmazon = Callable[..., AmazonSim]
US, DE = "ATVPDKIKX0DER", "A1PA6795UKMFR9"
FAST_DOCS = TransferPolicy(retries=4, base_delay_s=0.001, max_delay_s=0.002)


def control(sim: AmazonSim, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.post(sim.url + path, json=body or {}, verify=sim.verify)
    response.raise_for_status()
    return response.json()


def seller_token(sim: AmazonSim, client: httpx.Client) -> str:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": sim.account.refresh_token,
        "client_id": sim.account.client_id,
        "client_secret": sim.account.client_secret,
    }
    return str(client.post("/auth/o2/token", data=form).json()["access_token"])


def kinds(publisher: ListPublisher) -> list[str]:
    return [
        json.loads(b).get("NotificationType") or json.loads(b)["notificationType"] for b in publisher.bodies
    ]


def test_mfn_shipment_is_confirmed_once_and_ships_the_order(start_amazon: StartAmazon) -> None:
    publisher = ListPublisher()
    sim = start_amazon(publisher=publisher, time_scale=10_000)
    generate_orders(sim.account, 6, seed=21, afn_share=0.0, marketplaces=[US])
    order = sim.account.orders()[0]
    first, *rest = order.lines

    def shipment(number: str, lines: Any, tracking: str) -> Shipment:
        return Shipment(
            shipment_id=number,
            order_id=order.order_id,
            source="m3",
            shipped_at=datetime.now(UTC),
            lines=tuple(ShipmentLine(line_id=x.line_id, sku=x.sku, quantity=x.quantity) for x in lines),
            packages=(Package(carrier="DHL", tracking_number=tracking),),
        )

    async def run() -> None:
        async with sim.gateway() as gateway:
            api = OrdersV0Api(gateway)
            if rest:  # a partial shipment first
                assert (await api.ensure_confirmed(shipment("1", [first], "T-1"), US)).confirmed_now
                assert (await gateway.get_order(order.order_id)).status is OrderStatus.PARTIALLY_SHIPPED
            whole = shipment("2", rest or [first], "T-2")
            assert (await api.ensure_confirmed(whole, US)).confirmed_now
            assert not (await api.ensure_confirmed(whole, US)).confirmed_now  # a retried step
            assert (await gateway.get_order(order.order_id)).status is OrderStatus.SHIPPED
            packages = await api.packages(order.order_id)
            assert {p["trackingNumber"] for p in packages} == ({"T-1", "T-2"} if rest else {"T-2"})
            with pytest.raises(BadRequest):  # a shipped order cannot be confirmed again
                await api.confirm_shipment(
                    order.order_id, confirm_shipment_request(shipment("3", [first], "T-3"), US)
                )

    asyncio.run(run())
    assert sim.account.stats()["calls"]["confirmShipment"] == (3 if rest else 2)
    assert "ORDER_CHANGE" in kinds(publisher)
    assert sim.account.finances.by_order[order.order_id][0].fulfillment == "MFN"


def test_afn_orders_ship_by_amazon_and_fba_stock_follows(start_amazon: StartAmazon) -> None:
    publisher = ListPublisher()
    sim = start_amazon(publisher=publisher, time_scale=10_000)
    ids = generate_orders(sim.account, 5, seed=22, afn_share=1.0, marketplaces=[US], pending_share=1.0)
    sku = sim.account.get_order(ids[0]).lines[0].sku  # type: ignore[union-attr]
    before = 100
    control(sim, "/_sim/inventory", {"sku": sku, "marketplace": US, "on_hand": before})

    async def statuses(gateway: Any) -> set[OrderStatus]:
        return {(await gateway.get_order(i)).status for i in ids}

    async def run() -> None:
        async with sim.gateway() as gateway:
            assert await statuses(gateway) == {OrderStatus.PENDING}
            control(sim, "/_sim/tick")
            assert await statuses(gateway) == {OrderStatus.UNSHIPPED}
            reserved = next(p for p in await InventoryApi(gateway).positions(US, skus=[sku]))
            assert reserved.reserved > 0
            control(sim, "/_sim/tick")
            assert await statuses(gateway) == {OrderStatus.SHIPPED}
            after = next(p for p in await InventoryApi(gateway).positions(US, skus=[sku]))
            assert after.reserved == 0 and after.on_hand < before

    asyncio.run(run())
    seen = kinds(publisher)
    assert seen.count("FBA_OUTBOUND_SHIPMENT_STATUS") == 10  # Created, then Shipped, per order
    assert "FBA_INVENTORY_AVAILABILITY_CHANGES" in seen


def _request(request_id: str, sku: str, quantity: int) -> FulfillmentRequest:
    return FulfillmentRequest(
        request_id=request_id,
        displayable_order_id=request_id,
        m3_order_number="0000004711",
        ship_to=Address(
            name="Katherine Johnson",
            line1="1 Main St",
            city="Hampton",
            state="VA",
            postal_code="23669",
            country_code="US",
        ),
        lines=(FulfillmentLine(line_id="1", sku=sku, quantity=quantity),),
    )


def test_mcf_order_from_request_to_shipment(start_amazon: StartAmazon) -> None:
    publisher = ListPublisher()
    sim = start_amazon(publisher=publisher, time_scale=10_000)
    sku = sim.account.catalog[3].sku
    control(sim, "/_sim/inventory", {"sku": sku, "marketplace": US, "on_hand": 10})

    async def run() -> None:
        async with sim.gateway() as gateway:
            api = FulfillmentApi(gateway)
            (preview,) = await api.preview(_request("P", sku, 4), marketplace_id=US)
            assert preview.is_fulfillable and preview.estimated_fees
            (short,) = await api.preview(_request("P", sku, 40), marketplace_id=US)
            assert not short.is_fulfillable and short.unfulfillable_preview_items
            ordered = datetime.now(UTC)
            progress, created = await api.ensure_created(
                _request("MCF-1", sku, 4), ordered_at=ordered, marketplace_id=US
            )
            assert created and progress.status is FulfillmentStatus.RECEIVED
            again, created = await api.ensure_created(
                _request("MCF-1", sku, 4), ordered_at=ordered, marketplace_id=US
            )
            assert not created and again.request_id == "MCF-1"
            control(sim, "/_sim/tick", {"steps": 2})
            assert (await api.progress("MCF-1")).status is FulfillmentStatus.PROCESSING
            with pytest.raises(BadRequest):  # too late to cancel
                await api.cancel("MCF-1")
            control(sim, "/_sim/tick")
            done = await api.progress("MCF-1")
            assert done.status is FulfillmentStatus.COMPLETE
            (shipment,) = done.shipments
            assert shipment.packages[0].tracking_number and shipment.lines[0].quantity == 4
            await api.create(_request("MCF-2", sku, 1), ordered_at=ordered, marketplace_id=US)
            await api.cancel("MCF-2")
            assert (await api.progress("MCF-2")).status is FulfillmentStatus.CANCELLED
            await api.create(_request("MCF-3", sku, 9), ordered_at=ordered, marketplace_id=US)  # 6 left
            control(sim, "/_sim/tick")
            assert (await api.progress("MCF-3")).status is FulfillmentStatus.UNFULFILLABLE
            with pytest.raises(NotFound):
                await api.progress("MCF-404")
            listed = [
                o.seller_fulfillment_order_id
                async for o in api.list_all(query_start_date=ordered - timedelta(minutes=1))
            ]
            assert sorted(listed) == ["MCF-1", "MCF-2", "MCF-3"]

    asyncio.run(run())
    assert sim.account.stats()["calls"]["createFulfillmentOrder"] == 3
    assert sim.account.inventory.level(sku, US).on_hand == 6  # type: ignore[union-attr]
    assert kinds(publisher).count("FULFILLMENT_ORDER_STATUS") >= 7


def test_listing_quantity_by_patch_and_by_feed(start_amazon: StartAmazon) -> None:
    publisher = ListPublisher()
    sim = start_amazon(publisher=publisher, time_scale=10_000)
    a, b, c = (item.sku for item in sim.account.catalog[:3])

    async def run() -> None:
        async with sim.gateway() as gateway:
            listings = ListingsApi(gateway)
            first = await listings.ensure_quantity(a, 33, marketplace_id=US)
            assert first.submission is not None and first.submission.accepted
            assert (await listings.ensure_quantity(a, 33, marketplace_id=US)).submission is None
            assert (await listings.get(a, marketplace_ids=[US])).mfn_quantity() == 33
            with pytest.raises(NotFound):
                await listings.get("NO-SUCH-SKU", marketplace_ids=[US])
            feeds = FeedsApi(gateway)
            product_type = sim.account.listings.get(b, US).product_type  # type: ignore[union-attr]
            updates = [QuantityUpdate(b, 0, product_type), QuantityUpdate(c, 4, "NOT_ITS_TYPE")]
            feed_id = await feeds.submit_quantities(updates, marketplace_ids=[US])
            assert await feeds.quantity_results(feed_id, updates) is None  # still IN_QUEUE
            control(sim, "/_sim/tick", {"steps": 2})
            results = await feeds.quantity_results(feed_id, updates)
            assert results is not None and [r.accepted for r in results] == [True, False]
            assert results[1].issues[0].severity == "ERROR"
            assert (await listings.get(b, marketplace_ids=[US])).mfn_quantity() == 0

    asyncio.run(run())
    assert kinds(publisher).count("LISTINGS_ITEM_MFN_QUANTITY_CHANGE") == 2
    assert "FEED_PROCESSING_FINISHED" in kinds(publisher)


def test_a_document_that_is_no_listings_feed_ends_fatal(start_amazon: StartAmazon) -> None:
    sim = start_amazon(time_scale=10_000)

    async def run() -> None:
        async with sim.gateway() as gateway:
            feeds = FeedsApi(gateway)
            feed_id = await feeds.submit("JSON_LISTINGS_FEED", b"not json", "application/json; charset=UTF-8")
            control(sim, "/_sim/tick", {"steps": 2})
            feed = await feeds.get_feed(feed_id)
            assert feed.processing_status == "FATAL"
            report = await feeds.processing_report(feed)
            assert report.summary.messages_processed == 0 and report.issues[0].severity == "ERROR"
            with pytest.raises(BadRequest):  # legacy listing feeds are gone
                await feeds.submit("POST_FLAT_FILE_INVLOADER_DATA", b"x", "text/tab-separated-values")

    asyncio.run(run())


def test_settlements_agree_with_finances(start_amazon: StartAmazon) -> None:
    sim = start_amazon(time_scale=10_000)
    generate_orders(sim.account, 10, seed=23, afn_share=1.0, marketplaces=[US, DE])
    control(sim, "/_sim/tick")
    refunded = next(o.order_id for o in sim.account.orders() if o.marketplace_id == DE)
    control(sim, f"/_sim/orders/{refunded}/refund")
    closed = control(sim, "/_sim/settlements/close")["reports"]
    assert set(closed) == {US, DE}

    async def run() -> None:
        async with sim.gateway() as gateway:
            reports, finances = ReportsApi(gateway), FinancesApi(gateway)
            found = [r async for r in reports.settlement_reports()]
            assert {r.report_id for r in found} == set(closed.values())
            groups = {g.financial_event_group_id: g async for g in finances.event_groups()}
            for report in found:
                settlement = await reports.settlement(report)
                assert settlement.lines_total == settlement.total
                (group,) = [
                    g for g in groups.values() if translate_finances.group_total(g) == settlement.total
                ]
                events: list[Any] = []
                async for page in finances.events_by_group(group.financial_event_group_id):
                    events += translate_finances.lines_from_events(group.financial_event_group_id, page)
                assert Money.sum((x.amount for x in events), settlement.total.currency) == settlement.total
                assert sorted(x.amount for x in events) == sorted(x.amount for x in settlement.lines)
                transactions = [
                    t
                    async for t in finances.transactions(
                        related=("FINANCIAL_EVENT_GROUP_ID", group.financial_event_group_id)
                    )
                ]
                lines = translate_finances.lines_from_transactions(transactions)
                assert {x.settlement_id for x in lines} == {settlement.settlement_id}
                assert Money.sum((x.amount for x in lines), settlement.total.currency) == settlement.total
            de = next(r for r in found if r.marketplace_ids == [DE])
            text = await reports.document_text(de.report_document_id or "")
            assert "Refund" in text and "," in text.splitlines()[1].split("\t")[4]  # decimal comma
            with pytest.raises(BadRequest):
                await reports.report_document("amzn1.tortuga.4.sim.unknown")

    asyncio.run(run())


def test_settlement_reports_cannot_be_requested(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    client = httpx.Client(base_url=sim.url, verify=sim.verify)
    token = seller_token(sim, client)
    refused = client.post(
        "/reports/2021-06-30/reports",
        json={"reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "marketplaceIds": [US]},
        headers={"x-amz-access-token": token},
    )
    assert refused.status_code == 400 and "getReports" in refused.json()["errors"][0]["details"]
    client.close()


def test_cut_downloads_and_cut_bodies_are_retried(start_amazon: StartAmazon) -> None:
    sim = start_amazon(time_scale=10_000)
    generate_orders(sim.account, 4, seed=24, afn_share=1.0, marketplaces=[US])
    control(sim, "/_sim/tick")
    control(sim, "/_sim/settlements/close")

    async def run() -> None:
        async with sim.gateway() as gateway:
            reports = ReportsApi(gateway)
            reports.documents.policy = FAST_DOCS
            (report,) = [r async for r in reports.settlement_reports()]
            control(
                sim,
                "/_sim/faults",
                {"truncate_share": 0.5, "malformed_share": 0.5, "operations": ["getReport"], "seed": 4},
            )
            for _ in range(4):
                await reports.report(report.report_id)
                assert (await reports.settlement(report)).lines
            assert reports.documents.retried > 0
            assert gateway.stats.server_errors["getReport"] > 0  # cut JSON bodies were fetched again
            control(sim, "/_sim/faults", {"truncate_share": 1.0})
            with pytest.raises(Unavailable) as caught:
                await reports.settlement(report)
            assert caught.value.code == "TruncatedDocument"

    asyncio.run(run())


def test_storms_and_expired_tokens_are_ridden_out(start_amazon: StartAmazon) -> None:
    sim = start_amazon(time_scale=1000)
    sku = sim.account.catalog[0].sku

    async def run() -> None:
        async with sim.gateway() as gateway:
            listings = ListingsApi(gateway)
            await listings.get(sku, marketplace_ids=[US])
            control(sim, "/_sim/faults", {"storm": {"seconds": 100}, "operations": ["getListingsItem"]})
            assert (await listings.get(sku, marketplace_ids=[US])).sku == sku
            assert gateway.stats.throttled["getListingsItem"] > 0
            control(sim, "/_sim/faults", {"expired_token_share": 1.0, "operations": ["getListingsItem"]})
            with pytest.raises(AuthError):  # refreshed once, refused again: a typed error
                await listings.get(sku, marketplace_ids=[US])
            assert gateway.stats.auth_retries["getListingsItem"] == 1

    asyncio.run(run())


def test_grantless_operations_take_grantless_tokens(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    client = httpx.Client(base_url=sim.url, verify=sim.verify)
    seller = seller_token(sim, client)
    refused = client.get("/notifications/v1/destinations", headers={"x-amz-access-token": seller})
    assert refused.status_code == 403 and "grantless" in refused.json()["errors"][0]["details"]
    client.close()

    async def run() -> None:
        async with sim.gateway() as gateway:
            api = NotificationsApi(gateway)
            assert await api.destinations() == []
            destination = await api.create_destination("d", "arn:aws:sqs:us-east-1:1:q")
            assert [d.destination_id for d in await api.destinations()] == [destination.destination_id]
            assert await api.subscription("ORDER_CHANGE") is None

    asyncio.run(run())
    assert sim.account.stats()["tokens_issued_by_grant"] == {"refresh_token": 2, "client_credentials": 1}


def test_notifications_can_come_twice_and_late(start_amazon: StartAmazon) -> None:
    publisher = ListPublisher()
    sim = start_amazon(publisher=publisher, time_scale=10_000)
    generate_orders(sim.account, 20, seed=25, afn_share=1.0, marketplaces=[US], pending_share=1.0)
    control(sim, "/_sim/notifications/options", {"duplicate_share": 0.2, "reorder_share": 0.2, "seed": 5})
    control(sim, "/_sim/tick", {"steps": 2})
    control(sim, "/_sim/notifications/flush")
    ids = [json.loads(b).get("NotificationMetadata", {}).get("NotificationId") for b in publisher.bodies]
    ids = [i for i in ids if i]
    assert len(ids) > len(set(ids))  # duplicates, same NotificationId
    changes = [json.loads(b) for b in publisher.bodies if '"ORDER_CHANGE"' in b]
    order_of = [c["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for c in changes]
    statuses = [c["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] for c in changes]
    late = [
        n
        for n, (order, status) in enumerate(zip(order_of, statuses, strict=True))
        if status == "Unshipped"
        and any(o == order and s == "Shipped" for o, s in zip(order_of[:n], statuses[:n], strict=True))
    ]
    assert late  # an "Unshipped" arrived after the same order's "Shipped"
    assert sim.account.outbox.reordered > 0
