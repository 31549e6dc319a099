"""The inventory push against both simulators: what reaches Amazon, by which call, and when not.

M3's balances come from the M3 simulator (OIS100MI LstNewBalances); quantities go to the Amazon
simulator's listings over HTTPS (patchListingsItem, JSON_LISTINGS_FEED); Amazon's feed processing
advances with its simulated clock (`tick`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from m3amazon.canonical import InventoryPosition
from m3amazon.ops import incidents, inventory_store
from m3amazon.ops.alerts import Alert
from m3amazon.ops.db import inventory_pushed
from m3amazon.sim.inventory_check import out_of_sync
from m3amazon.sim.inventory_rig import CA, US, Rig
from m3amazon.sim.tls import LocalTLS

Scenario = Callable[[Rig], Awaitable[None]]
WithRig = Callable[..., None]


@pytest.fixture
def with_rig(tmp_path: Path, inventory_tls: LocalTLS) -> WithRig:
    """with_rig(scenario, **options): start the rig, run the async scenario on it, stop it."""

    def run(scenario: Scenario, **options: Any) -> None:
        async def main() -> None:
            rig = await asyncio.to_thread(Rig.start, tmp_path, inventory_tls, **options)
            try:
                await scenario(rig)
            finally:
                await rig.aclose()

        asyncio.run(main())

    return run


def calls(rig: Rig) -> dict[str, int]:
    return dict(rig.account.stats().get("calls", {}))


async def first_sync(rig: Rig) -> None:
    """What the nightly reconciliation does: read every balance, push every SKU, finish the feeds."""
    await rig.sync.poll_m3(None)
    await rig.sync.push_dirty(items=rig.sync.known_items() or None, force=True)
    rig.tick(3)
    await rig.sync.follow_feeds()


def mismatches(rig: Rig) -> list[Any]:
    assert rig.store is not None
    return out_of_sync(rig.account, rig.store, rig.mappings.inventory, rig.catalog, [US, CA])


def test_first_sync_goes_as_one_feed_then_only_changes_travel(with_rig: WithRig) -> None:
    async def scenario(rig: Rig) -> None:
        assert mismatches(rig), "the simulators start out of step (random listing quantities)"

        await rig.sync.refresh_aliases(max_age_s=0)
        await first_sync(rig)

        assert mismatches(rig) == []
        assert calls(rig).get("createFeed") == 1 and calls(rig).get("patchListingsItem", 0) == 0
        assert inventory_store.feed_counts(rig.engine) == {"DONE": 1}

        before = calls(rig)
        await asyncio.to_thread(rig.set_m3_balance, rig.catalog[3], 42)
        await rig.sync.poll_m3(None)  # everything read again: only the changed SKU is sent
        report = await rig.sync.push_dirty()
        assert (report.patched, report.unchanged) == (1, len(rig.catalog) - 1)
        assert calls(rig)["patchListingsItem"] == before.get("patchListingsItem", 0) + 1
        assert rig.amazon_quantity(rig.catalog[3].sku) == rig.amazon_quantity(rig.catalog[3].sku, CA) == 42
        assert mismatches(rig) == []

    with_rig(scenario, inventory={"patch_max": 5, "poll_version_lag_s": 0})


def test_zero_quantities_go_at_once_ahead_of_the_feed(with_rig: WithRig) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.sync.refresh_aliases(max_age_s=0)
        await first_sync(rig)
        sold_out, restocked = rig.catalog[:2], rig.catalog[2:8]
        for item in sold_out:
            await asyncio.to_thread(rig.set_m3_balance, item, 0)
        for item in restocked:
            await asyncio.to_thread(rig.set_m3_balance, item, 7)
        await rig.sync.poll_m3(None)

        report = await rig.sync.push_dirty()

        assert (report.patched, report.fed) == (2, 6)
        # Before Amazon has even started on the feed, the sold-out SKUs show 0: no more overselling.
        assert [rig.amazon_quantity(i.sku) for i in sold_out] == [0, 0]
        assert all(rig.amazon_quantity(i.sku) == 1000 for i in restocked)
        rig.tick(3)
        await rig.sync.follow_feeds()
        assert all(rig.amazon_quantity(i.sku) == 7 for i in restocked)
        assert mismatches(rig) == []

    with_rig(scenario, inventory={"patch_max": 3})


def test_a_newer_quantity_waits_for_the_feed_that_carries_the_older_one(with_rig: WithRig) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.sync.refresh_aliases(max_age_s=0)
        await first_sync(rig)
        first, second = rig.catalog[0], rig.catalog[1]
        await asyncio.to_thread(rig.set_m3_balance, first, 30)
        await asyncio.to_thread(rig.set_m3_balance, second, 31)
        await rig.sync.poll_m3(None)
        assert (await rig.sync.push_dirty()).fed == 2  # in a feed Amazon has not processed yet

        await asyncio.to_thread(rig.set_m3_balance, first, 5)  # newer, while the feed is in flight
        await rig.sync.poll_m3(None)
        held = await rig.sync.push_dirty()
        assert (held.deferred, held.sent) == (2, 0), "a patch now would be overwritten by the older feed"

        rig.tick(3)
        await rig.sync.follow_feeds()
        assert rig.amazon_quantity(first.sku) == 30  # the feed's (older) figure, for now
        after = await rig.sync.push_dirty()
        assert after.patched == 1
        assert rig.amazon_quantity(first.sku) == 5 and rig.amazon_quantity(second.sku) == 31

    with_rig(scenario, inventory={"patch_max": 1})


def test_a_refused_feed_message_becomes_an_incident_and_is_sent_again_later(with_rig: WithRig) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.sync.refresh_aliases(max_age_s=0)
        await first_sync(rig)
        broken = rig.catalog[4]
        inventory_store.remember_product_types(rig.engine, {broken.sku: "NOT_ITS_TYPE"})
        for item in rig.catalog[3:6]:
            await asyncio.to_thread(rig.set_m3_balance, item, 9)
        await rig.sync.poll_m3(None)
        assert (await rig.sync.push_dirty()).fed == 3
        rig.tick(3)

        feeds = await rig.sync.follow_feeds()

        assert (feeds.accepted, feeds.failed) == (2, 1)
        found = [i for i in incidents.list_incidents(rig.engine) if i["subject"] == broken.sku]
        assert [(i["category"], i["reason_code"]) for i in found] == [("inventory", "FEED_MESSAGE_REJECTED")]
        assert "NOT_ITS_TYPE" in found[0]["message"] or "product type" in found[0]["message"].lower()
        assert '"sku": "' + broken.sku in found[0]["payload"]
        with rig.engine.connect() as conn:
            row = conn.execute(sa.select(inventory_pushed).where(inventory_pushed.c.sku == broken.sku)).one()
        assert (row.quantity, row.version, row.feed_id) == (None, 0, None)  # unknown again: sent next time
        assert rig.amazon_quantity(broken.sku) == 1000 and rig.amazon_quantity(rig.catalog[3].sku) == 9

    with_rig(scenario, inventory={"patch_max": 0})


def test_a_feed_stuck_in_progress_raises_one_alert(with_rig: WithRig) -> None:
    async def scenario(rig: Rig) -> None:
        alerts: list[Alert] = []
        rig.sync.alert = alerts.append
        await rig.sync.refresh_aliases(max_age_s=0)
        await rig.sync.poll_m3(None)
        await rig.sync.push_dirty()
        await asyncio.sleep(0.05)  # Amazon never gets to it (no tick)

        first = await rig.sync.follow_feeds()
        second = await rig.sync.follow_feeds()

        assert (first.stuck, second.stuck) == (1, 1)
        assert len(alerts) == 1 and alerts[0].category == "inventory_feed_stuck"
        assert str(len(rig.catalog)) in alerts[0].body

    with_rig(scenario, inventory={"patch_max": 0, "feed_stuck_after_s": 0.01})


def test_the_delta_poll_reads_only_what_changed_since_its_cursor(with_rig: WithRig) -> None:
    async def scenario(rig: Rig) -> None:
        rows, cursor = await rig.sync.poll_m3(None)
        assert rows == len(rig.catalog)  # warehouse 100 only: the FBA warehouse is not for sale
        await asyncio.sleep(0.01)
        await asyncio.to_thread(rig.set_m3_balance, rig.catalog[7], 3)
        rows, _ = await rig.sync.poll_m3(cursor)
        assert rows == 1

    with_rig(scenario, inventory={"poll_version_lag_s": 0})


def test_an_sku_amazon_does_not_list_becomes_an_incident(with_rig: WithRig) -> None:
    async def scenario(rig: Rig) -> None:
        assert rig.store is not None
        rig.store.add_item("NEWITEM01", "Not on Amazon yet")
        rig.store.add_alias("03", "NEW-SKU-1", "NEWITEM01", "AMZN")
        rig.store.set_balance("100", "NEWITEM01", 5)
        await rig.sync.refresh_aliases(max_age_s=0)
        await rig.sync.poll_m3(None)

        report = await rig.sync.push_dirty()

        assert report.not_listed == 1 and report.patched == len(rig.catalog)
        (found,) = [i for i in incidents.list_incidents(rig.engine) if i["subject"] == "NEW-SKU-1"]
        assert found["reason_code"] == "LISTING_NOT_FOUND" and "NEWITEM01" in found["message"]
        again = await rig.sync.push_dirty(items=["NEWITEM01"])  # remembered: Amazon is not asked again
        assert again.sent == 0

    with_rig(scenario)


def test_reconciliation_applies_changed_rules_even_with_older_stock_versions(with_rig: WithRig) -> None:
    async def scenario(rig: Rig) -> None:
        item = rig.catalog[0]
        rig.sync.rules = rig.mappings.inventory.model_copy(update={"warehouses": ["100", "200"]})
        at = datetime(2026, 2, 1, tzinfo=UTC)
        rig.sync.record_positions(
            [
                InventoryPosition(
                    sku=item.sku,
                    item_number=item.item_number,
                    location=w,
                    on_hand=Decimal(n),
                    as_of=at,
                    source="m3",
                )
                for w, n in (("100", 4), ("200", 6))
            ]
        )
        assert (await rig.sync.push_dirty()).patched == 1
        assert rig.amazon_quantity(item.sku) == 10

        rig.sync.rules = rig.mappings.inventory  # warehouse 200 no longer sells on Amazon
        normal = await rig.sync.push_dirty(items=[item.item_number])
        assert (normal.stale, normal.sent) == (1, 0)  # a lower stock version is never sent by itself
        forced = await rig.sync.push_dirty(items=[item.item_number], force=True)
        assert forced.patched == 1 and rig.amazon_quantity(item.sku) == 4

    with_rig(scenario, marketplaces=(US,), with_m3=False)
