"""Property: whatever order balance events arrive in, and however often, Amazon ends with the
quantity of the newest M3 balance of every SKU, and never gets an older quantity after a newer one.

Hypothesis writes a history of M3 balance changes (items in two warehouses, distinct change
times), then delivers it shuffled with duplicates, with pushes, Amazon's feed processing and feed
follow-ups interleaved at random points. The push is the product's (`InventorySync`), the
listings are the Amazon simulator's, over HTTPS; `patch_max` is 2, so bigger pushes go as feeds
and SKUs wait for their feed before a newer quantity may follow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m3amazon.canonical import InventoryPosition
from m3amazon.mapping import load_mappings
from m3amazon.ops import inventory_store as store
from m3amazon.ops.db import inventory_balances, inventory_feeds, inventory_pushed
from m3amazon.sim.inventory_rig import US, Rig
from m3amazon.sim.tls import LocalTLS

ITEMS = 4
WAREHOUSES = ("100", "200")
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, inventory_tls: LocalTLS
) -> Iterator[tuple[Rig, asyncio.AbstractEventLoop]]:
    tmp: Path = tmp_path_factory.mktemp("inventory-property")
    base = load_mappings()
    mappings = base.model_copy(
        update={"inventory": base.inventory.model_copy(update={"warehouses": list(WAREHOUSES)})}
    )
    started = Rig.start(
        tmp,
        inventory_tls,
        catalog_size=ITEMS,
        marketplaces=(US,),
        inventory={"patch_max": 2},
        mappings=mappings,
        with_m3=False,
    )
    loop = asyncio.new_event_loop()
    try:
        yield started, loop
    finally:
        loop.run_until_complete(started.aclose())
        loop.close()


change = st.tuples(
    st.integers(0, ITEMS - 1),
    st.sampled_from(WAREHOUSES),
    st.integers(0, 40),  # on hand
    st.integers(0, 15),  # allocated
)
step = st.sampled_from(["deliver", "deliver", "deliver", "push", "push", "tick", "follow"])


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=st.lists(change, min_size=1, max_size=20),
    order=st.randoms(use_true_random=False),
    duplicates=st.lists(st.integers(0, 13), max_size=6),
    steps=st.lists(step, min_size=1, max_size=40),
)
def test_amazon_ends_with_the_newest_balance_of_every_sku(
    rig: tuple[Rig, asyncio.AbstractEventLoop],
    history: list[tuple[int, str, int, int]],
    order: object,
    duplicates: list[int],
    steps: list[str],
) -> None:
    env, loop = rig
    _reset(env)
    events = [
        InventoryPosition(
            sku=env.catalog[item].sku,
            item_number=env.catalog[item].item_number,
            location=warehouse,
            on_hand=Decimal(on_hand),
            allocated=Decimal(allocated),
            as_of=T0 + timedelta(seconds=n),  # the n-th change in M3
            source="m3",
        )
        for n, (item, warehouse, on_hand, allocated) in enumerate(history)
    ]
    deliveries = events + [events[d % len(events)] for d in duplicates]
    order.shuffle(deliveries)  # type: ignore[attr-defined]
    last_seen: dict[str, int] = {}

    async def run() -> None:
        queue = list(deliveries)
        for what in steps:
            if what == "deliver" and queue:
                env.sync.record_positions([queue.pop()])
            elif what == "push":
                await env.sync.push_dirty()
            elif what == "tick":
                env.tick(1)
            else:
                await env.sync.follow_feeds()
            _check_versions_never_go_back(env, last_seen)
        for position in queue:
            env.sync.record_positions([position])
        # Let everything settle: push, let Amazon finish the feeds, read them, push what waited.
        for _ in range(4):
            await env.sync.push_dirty()
            env.tick(3)
            await env.sync.follow_feeds()
            _check_versions_never_go_back(env, last_seen)

    loop.run_until_complete(run())

    newest: dict[tuple[str, str], InventoryPosition] = {}
    for event in events:
        newest[(event.item_number or "", event.location)] = event  # later in history = newer
    rules = env.mappings.inventory
    for item in env.catalog:
        balances = {w: p for (i, w), p in newest.items() if i == item.item_number}
        if not balances:
            continue  # no event for this item: nothing to say about it
        expected = rules.quantity(item.sku, item.item_number, balances)
        assert env.amazon_quantity(item.sku) == expected, (item.sku, balances)


def _check_versions_never_go_back(env: Rig, last_seen: dict[str, int]) -> None:
    for sku, pushed in store.all_pushed(env.engine).items():
        if pushed.quantity is None:
            continue
        assert pushed.version >= last_seen.get(sku, 0), f"{sku}: an older quantity followed a newer one"
        last_seen[sku] = pushed.version


def _reset(env: Rig) -> None:
    """A clean slate per example: our tables empty, Amazon's listings at an unlikely quantity."""
    with env.engine.begin() as conn:
        for table in (inventory_balances, inventory_pushed, inventory_feeds):
            conn.execute(sa.delete(table))
    for listing in env.account.listings.listings.values():
        listing.attributes["fulfillment_availability"] = [
            {"fulfillment_channel_code": "DEFAULT", "quantity": 999}
        ]
    env.tick(5)  # finish any feed of the previous example
