"""The simulated seller account's parts and their rules, without HTTP."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from m3amazon.amazon.translate.reports import parse_settlement
from m3amazon.canonical import FulfillmentChannel, Money, OrderStatus
from m3amazon.sim.amazon import lifecycle
from m3amazon.sim.amazon.faults import FaultPlan, Latency
from m3amazon.sim.amazon.listings import QUANTITY_ATTRIBUTE
from m3amazon.sim.amazon.mcf import FulfillmentOrders
from m3amazon.sim.amazon.outbox import Outbox
from m3amazon.sim.amazon.params import SpApiError
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.settlement import COLUMNS, settlement_text
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.amazon.subscriptions import NotificationSetup

US, DE = "ATVPDKIKX0DER", "A1PA6795UKMFR9"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def account() -> SellerAccount:
    return SellerAccount(marketplaces=[US, DE])


def test_outbox_duplicates_and_reorders_a_share() -> None:
    outbox = Outbox(duplicate_share=0.3, reorder_share=0.3, seed=3)
    for n in range(20):
        outbox.put(str(n))
    first = outbox.take()
    outbox.put("20")
    second = outbox.take()
    delivered = first + second
    assert set(delivered) == {str(n) for n in range(21)}
    assert len(delivered) == 21 + outbox.duplicates_sent and outbox.duplicates_sent > 0
    late = sorted(set(second) - set(first) - {"20"}, key=second.index)
    assert len(late) == outbox.reordered > 0
    assert all(any(int(b) > int(h) for b in first) for h in late)  # each arrives after a later one
    assert second.index(late[0]) > second.index("20")  # behind the later notification
    outbox.configure(0.0, 1.0)
    outbox.put("x")
    assert outbox.take(everything=True) == ["x"]
    with pytest.raises(ValueError):
        outbox.configure(1.5, 0.0)


def test_listing_patches_follow_the_model_rules(account: SellerAccount) -> None:
    sku = account.catalog[0].sku
    listing = account.listings.get(sku, US)
    assert listing is not None
    book = account.listings
    merge = [
        {
            "op": "merge",
            "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 42}],
        }
    ]
    preview = book.apply_patches(listing, listing.product_type, merge, NOW, validate_only=True)
    assert preview.status == "VALID" and listing.mfn_quantity != 42
    applied = book.apply_patches(listing, listing.product_type, merge, NOW)
    assert applied.status == "ACCEPTED" and listing.mfn_quantity == 42 and applied.quantity_change is not None
    listing.attributes[QUANTITY_ATTRIBUTE][0]["lead_time_to_ship_max_days"] = 3
    book.apply_patches(listing, listing.product_type, merge, NOW)
    assert listing.attributes[QUANTITY_ATTRIBUTE][0]["lead_time_to_ship_max_days"] == 3  # merge keeps it
    cases: list[tuple[str, Any]] = [
        ("WRONG", merge),
        (
            listing.product_type,
            [{"op": "merge", "path": "/attributes/fulfillment_availability/0", "value": [{}]}],
        ),
        (
            listing.product_type,
            [{"op": "merge", "path": "/attributes/fulfillment_availability", "value": [{"quantity": 1}]}],
        ),
        (
            listing.product_type,
            [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -1}],
                }
            ],
        ),
        (listing.product_type, [{"op": "move", "path": "/attributes/x"}]),
        (listing.product_type, []),
    ]
    for product_type, patches in cases:
        outcome = book.apply_patches(listing, product_type, patches, NOW)
        assert outcome.status == "INVALID" and outcome.issues, patches
    assert listing.mfn_quantity == 42


def _mcf_body(request_id: str, sku: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {
        "sellerFulfillmentOrderId": request_id,
        "displayableOrderId": request_id,
        "displayableOrderDate": "2026-03-01T00:00:00Z",
        "displayableOrderComment": "c",
        "shippingSpeedCategory": "Standard",
        "destinationAddress": {
            "name": "A",
            "addressLine1": "1 St",
            "postalCode": "98101",
            "countryCode": "US",
        },
        "items": [{"sellerSku": sku, "sellerFulfillmentOrderItemId": "1", "quantity": quantity}],
        **extra,
    }


def test_mcf_orders_move_through_their_statuses(account: SellerAccount) -> None:
    sku = account.catalog[0].sku
    account.inventory.set(sku, US, NOW, on_hand=5)
    with account.lock:
        order = account.mcf.create(
            _mcf_body("A", sku, 3), default_marketplace=US, known=lambda _: True, now=NOW
        )
        seen = [order.status]
        for _ in range(3):
            lifecycle.advance(account, NOW)
            seen.append(order.status)
    assert seen == ["Received", "Planning", "Processing", "Complete"]
    assert account.inventory.level(sku, US).on_hand == 2  # type: ignore[union-attr]
    assert order.shipments[0].packages[0]["trackingNumber"]
    with pytest.raises(SpApiError) as caught:
        account.mcf.cancel("A", NOW)
    assert caught.value.status == 400


def test_short_stock_makes_an_order_unfulfillable_or_partial(account: SellerAccount) -> None:
    sku = account.catalog[1].sku
    account.inventory.set(sku, US, NOW, on_hand=2)
    orders = account.mcf
    kill = orders.create(_mcf_body("K", sku, 3), default_marketplace=US, known=lambda _: True, now=NOW)
    partial = orders.create(
        _mcf_body("P", sku, 3, fulfillmentPolicy="FillAllAvailable"),
        default_marketplace=US,
        known=lambda _: True,
        now=NOW,
    )
    with account.lock:
        for _ in range(3):
            lifecycle.advance(account, NOW)
    assert kill.status == "Unfulfillable" and kill.items[0].unfulfillable == 3
    assert partial.status == "CompletePartialled" and partial.items[0].unfulfillable == 1


def test_mcf_refuses_what_the_model_refuses() -> None:
    orders = FulfillmentOrders()
    orders.create(_mcf_body("D", "S", 1), default_marketplace=US, known=lambda _: True, now=NOW)
    bad_bodies = [
        _mcf_body("D", "S", 1),  # duplicate id
        _mcf_body("X" * 41, "S", 1),
        _mcf_body("E", "S", 0),
        _mcf_body("F", "S", 251),
        _mcf_body("G", "S", 1, shippingSpeedCategory="Teleport"),
        {**_mcf_body("H", "S", 1), "destinationAddress": {"name": "A"}},
    ]
    for body in bad_bodies:
        with pytest.raises(SpApiError):
            orders.create(body, default_marketplace=US, known=lambda _: True, now=NOW)
    with pytest.raises(SpApiError):
        orders.create(_mcf_body("U", "S", 1), default_marketplace=US, known=lambda _: False, now=NOW)
    held = orders.create(
        _mcf_body("HOLD", "S", 1, fulfillmentAction="Hold"),
        default_marketplace=US,
        known=lambda _: True,
        now=NOW,
    )
    assert orders.advance(held, NOW, lambda _: 9) is None  # Hold waits in Received
    assert orders.cancel("HOLD", NOW).status == "Cancelled"


def test_afn_orders_ship_on_ticks_and_reserve_stock_meanwhile(account: SellerAccount) -> None:
    generate_orders(account, 12, seed=4, afn_share=1.0, marketplaces=[US], pending_share=0.5)
    afn = account.orders()
    sku = afn[0].lines[0].sku
    with account.lock:
        assert lifecycle.reservations(account, US)[sku] > 0
        lifecycle.advance(account, NOW)
        lifecycle.advance(account, NOW)
        assert all(o.status is OrderStatus.SHIPPED for o in account.orders())
        assert lifecycle.reservations(account, US)[sku] == 0
    assert len(account.finances.by_order) == 12
    kinds = {b.split('"NotificationType": "')[1].split('"')[0] for b in account.outbox.pending}
    assert kinds == {"ORDER_CHANGE", "FBA_OUTBOUND_SHIPMENT_STATUS", "FBA_INVENTORY_AVAILABILITY_CHANGES"}


def test_buyer_cancellations(account: SellerAccount) -> None:
    ids = generate_orders(account, 6, seed=9, afn_share=0.5, marketplaces=[US])
    with account.lock:
        for order_id in ids:
            order = account.get_order(order_id)
            assert order is not None
            after = lifecycle.buyer_cancel(account, order_id, NOW)
            expected = (
                OrderStatus.CANCELLED if order.channel is FulfillmentChannel.AMAZON else OrderStatus.UNSHIPPED
            )
            assert after.status is expected
        lifecycle.advance(account, NOW)  # MFN requests are granted on the next tick
    assert all(o.status is OrderStatus.CANCELLED for o in account.orders())
    with pytest.raises(ValueError), account.lock:
        lifecycle.buyer_cancel(account, ids[0], NOW)


def test_settlement_files_are_v2_flat_files_that_add_up(account: SellerAccount) -> None:
    generate_orders(account, 8, seed=2, afn_share=1.0, marketplaces=[DE])
    with account.lock:
        lifecycle.advance(account, NOW)
        shipped = account.orders()[0].order_id
        lifecycle.refund(account, shipped, NOW + timedelta(minutes=5))
        with pytest.raises(ValueError):
            lifecycle.refund(account, shipped, NOW)
        report_id = lifecycle.close_settlement(account, DE, NOW + timedelta(days=14))
        assert lifecycle.close_settlement(account, DE, NOW) is None  # the new group has no events
    group = account.finances.groups[0]
    text = settlement_text(group)
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert tuple(rows[0]) == COLUMNS and len(rows[0]) == 24
    summary = dict(zip(COLUMNS, rows[1], strict=True))
    assert summary["transaction-type"] == "" and "," in summary["total-amount"]
    assert all("," in dict(zip(COLUMNS, r, strict=True))["amount"] for r in rows[2:])
    assert {r[COLUMNS.index("transaction-type")] for r in rows[2:]} == {"Order", "Refund"}
    parsed = parse_settlement(text)
    assert parsed.total == group.total and parsed.lines_total == group.total
    report = account.reports.get(report_id or "")
    assert report is not None and report.status == "DONE" and report.document_id


def test_subscriptions_follow_the_notifications_model() -> None:
    setup = NotificationSetup()
    destination = setup.create_destination(
        {"name": "q", "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:1:q"}}}
    )
    for body in (
        {
            "name": "q",
            "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:1:q"}},
        },  # same ARN: 409
        {"name": "q", "resourceSpecification": {"sqs": {"arn": "not-an-arn"}}},
        {"name": "q", "resourceSpecification": {}},
    ):
        with pytest.raises(SpApiError):
            setup.create_destination(body)
    subscription = setup.create_subscription(
        "ORDER_CHANGE", {"payloadVersion": "1.0", "destinationId": destination.destination_id}
    )
    with pytest.raises(SpApiError) as conflict:
        setup.create_subscription(
            "ORDER_CHANGE", {"payloadVersion": "1.0", "destinationId": destination.destination_id}
        )
    assert conflict.value.status == 409
    for kind, body in (
        (
            "REPORT_PROCESSING_FINISHED",
            {"payloadVersion": "1.0", "destinationId": destination.destination_id},
        ),
        ("FEED_PROCESSING_FINISHED", {"payloadVersion": "2020-09-04", "destinationId": "nope"}),
        ("NOT_A_TYPE", {"payloadVersion": "1.0", "destinationId": destination.destination_id}),
    ):
        with pytest.raises(SpApiError):
            setup.create_subscription(kind, body)
    assert setup.subscription("ORDER_CHANGE") == subscription
    setup.delete_subscription("ORDER_CHANGE", subscription.subscription_id)
    with pytest.raises(SpApiError) as gone:
        setup.subscription("ORDER_CHANGE")
    assert gone.value.status == 404


def test_fault_plans_storms_and_latency() -> None:
    plan = FaultPlan.from_json({"storm": {"seconds": 60, "operations": ["getOrder"]}, "seed": 1})
    assert plan.in_storm("getOrder") and not plan.in_storm("searchOrders")
    assert not FaultPlan.from_json({"storm": {"seconds": 0}}).in_storm("getOrder")
    rng = random.Random(1)
    assert Latency.from_json(25).draw(rng) == 0.025
    uniform = Latency.from_json({"kind": "uniform", "min_ms": 10, "max_ms": 20})
    assert all(0.010 <= uniform.draw(rng) <= 0.020 for _ in range(50))
    lognormal = Latency.from_json({"kind": "lognormal", "ms": 30, "sigma": 0.3})
    draws = sorted(lognormal.draw(rng) for _ in range(201))
    assert 0.02 < draws[100] < 0.045  # the median is about `ms`
    assert Latency.from_json({"kind": "exponential", "ms": 5}).draw(rng) >= 0
    for body in (
        {"malformed_share": 2},
        {"latency": {"kind": "gamma"}},
        {"error_rates": {"500": 0.7, "503": 0.7}},
    ):
        with pytest.raises(ValueError):
            FaultPlan.from_json(body)
    always = FaultPlan.from_json({"malformed_share": 1, "truncate_share": 1, "operations": ["getFeed"]})
    assert always.malformed("getFeed") and not always.malformed("getOrder") and always.truncate()


def test_money_in_the_ledger_stays_exact(account: SellerAccount) -> None:
    generate_orders(account, 5, seed=12, afn_share=1.0, marketplaces=[US])
    with account.lock:
        lifecycle.advance(account, NOW)
    for events in account.finances.by_order.values():
        for event in events:
            for item in event.items:
                for component in item.components:
                    assert component.amount == component.amount.rounded()
    group = account.finances.groups[0]
    assert group.total == Money.sum((e.total for e in group.events), "USD")
