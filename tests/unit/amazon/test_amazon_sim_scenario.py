"""The scenario generator: deterministic, realistic, and shaped like Amazon's orders."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.canonical import FulfillmentChannel, OrderStatus
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount

MARKETS = [
    "ATVPDKIKX0DER",
    "A2EUQ1WTGCTBG2",
    "A1F83G8C2ARO7P",
    "A1PA6795UKMFR9",
    "A13V1IB3VIYZZH",
    "APJ6JRA9NG5V4",
    "A1RKKUPIHCS9HS",
]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_same_seed_same_orders() -> None:
    first, second = SellerAccount(marketplaces=MARKETS), SellerAccount(marketplaces=MARKETS)
    assert generate_orders(first, 30, seed=4, now=NOW) == generate_orders(second, 30, seed=4, now=NOW)
    assert first.orders() == second.orders()


def test_orders_look_like_amazon_orders() -> None:
    account = SellerAccount(marketplaces=MARKETS)
    ids = generate_orders(account, 300, seed=1, now=NOW, afn_share=0.3, pending_share=0.2)
    orders = account.orders()
    assert len(set(ids)) == 300 and all(re.fullmatch(r"\d{3}-\d{7}-\d{7}", i) for i in ids)
    assert {o.marketplace_id for o in orders} == set(MARKETS)
    assert all(o.currency == MARKETPLACES[o.marketplace_id].currency for o in orders)
    afn = sum(o.channel is FulfillmentChannel.AMAZON for o in orders)
    pending = sum(o.status is OrderStatus.PENDING for o in orders)
    assert 50 < afn < 130 and 30 < pending < 100
    assert all(o.status in (OrderStatus.PENDING, OrderStatus.UNSHIPPED) for o in orders)
    assert any(len(o.lines) > 1 for o in orders) and all(1 <= len(o.lines) <= 3 for o in orders)
    assert all(
        NOW - timedelta(days=2, seconds=1) <= o.created_at <= o.updated_at <= NOW - timedelta(minutes=3)
        for o in orders
    )
    for order in orders:
        catalog = {item.sku: item for item in account.catalog}
        for line in order.lines:
            assert line.unit_price.amount == catalog[line.sku].price(order.currency)
        assert order.order_total is not None and order.order_total.currency == order.currency


def test_buyers_and_addresses_are_realistic_and_hard() -> None:
    account = SellerAccount(marketplaces=MARKETS)
    generate_orders(account, 400, seed=2, now=NOW)
    addresses = [o.ship_to for o in account.orders() if o.ship_to]
    text = " ".join(f"{a.name} {a.line1} {a.line2 or ''} {a.city}" for a in addresses)
    for needle in ("Müller", "Łódź", "São"):
        assert needle in text
    assert {a.country_code for a in addresses} >= {"US", "CA", "GB", "DE", "FR", "IT", "ES", "PL", "PT"}
    assert any(len(a.name or "") > 36 for a in addresses) and any(len(a.line2 or "") > 36 for a in addresses)
    mfn = [o for o in account.orders() if o.channel is FulfillmentChannel.MERCHANT]
    assert all(o.ship_to and o.ship_to.phone and o.buyer and o.buyer.email for o in mfn)
    assert any(o.is_business and o.buyer and o.buyer.purchase_order_number for o in account.orders())
