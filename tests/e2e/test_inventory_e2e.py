"""Inventory sync end to end: the service (engine, IMS endpoint, scheduler) against both simulators.

On start the full reconciliation brings every Amazon listing to what M3's stock says (a feed,
processed as Amazon's simulated clock moves on). Then stock changes in M3 through MI transactions
(MMS850MI AddAdjust); M3 publishes SyncInventoryCount BODs to our IMS endpoint, and the new
quantities reach Amazon by patchListingsItem without waiting for a poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from m3a_testenv import free_port
from m3amazon.ops import incidents, inventory_store
from m3amazon.sim.inventory_check import out_of_sync
from m3amazon.sim.product import running_product, wait_for
from m3amazon.sim.sandbox import Sandbox
from m3amazon.sim.world import World

pytestmark = pytest.mark.slow


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox.start(
        tmp_path / "sandbox", catalog_size=25, marketplaces=("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2")
    )
    yield sandbox
    sandbox.stop()


def test_reconciliation_on_start_then_balance_bods_drive_amazon(box: Sandbox, tmp_path: Path) -> None:
    world = World(box, seed=2)
    catalog = box.account.catalog
    sold_out, restocked = catalog[0], catalog[1]

    async def scenario() -> None:
        async with running_product(
            box, f"sqlite:///{tmp_path / 'inv.sqlite'}", web_port=free_port(), world=world, executor_id="inv"
        ) as rt:
            marketplaces = rt.settings.amazon.marketplaces
            rules = rt.mappings.inventory

            def in_sync() -> bool:
                return not out_of_sync(box.account, box.m3_store, rules, catalog, marketplaces)

            assert not in_sync(), "the simulators start out of step"
            await wait_for(in_sync, step=world.tick_amazon, timeout_s=120, what="the reconciliation on start")
            await wait_for(
                lambda: inventory_store.feed_counts(rt.engine).get("DONE", 0) >= 1,
                timeout_s=30,
                what="the reconciliation's feed report read",
            )

            patches_before = box.account.stats()["calls"].get("patchListingsItem", 0)
            stock = box.m3_store.balance("100", sold_out.item_number)
            assert stock is not None
            for item, change in ((sold_out, -stock["on_hand"]), (restocked, 5)):
                await rt.m3.execute(
                    "MMS850MI",
                    "AddAdjust",
                    {
                        "E0PA": "COUNT",
                        "E065": "ADJ",
                        "WHLO": "100",
                        "ITNO": item.item_number,
                        "QLQT": str(change),
                    },
                    maxrecs=1,
                )

            def changed_on_amazon() -> bool:
                listing = box.account.listings.get(sold_out.sku, marketplaces[0])
                return listing is not None and listing.mfn_quantity == 0 and in_sync()

            await wait_for(changed_on_amazon, timeout_s=60, what="the BODs' quantities on Amazon")  # no tick
            assert box.account.stats()["calls"].get("patchListingsItem", 0) > patches_before
            assert [
                i for i in incidents.list_incidents(rt.engine) if i["category"].startswith("inventory")
            ] == []

    asyncio.run(scenario())
    world.close()
