"""Is Amazon's seller-fulfilled quantity of every SKU what M3's stock and the rules say?

Read straight from both simulators' state (not through the product), so the demo and the tests
judge the inventory sync by what the outside systems hold: per catalog SKU that M3 has an item
for and per marketplace, the Amazon simulator's MFN quantity against the available-to-sell rules
(mapping/inventory.py) applied to the M3 simulator's balances.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from m3amazon.bootstrap import Runtime
from m3amazon.mapping.inventory import InventoryRules
from m3amazon.ops import inventory_store
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.catalog import CatalogItem
from m3amazon.sim.m3.store import SimStore


@dataclass(frozen=True)
class Balance:
    on_hand: Decimal
    allocated: Decimal
    reserved: Decimal = Decimal(0)


@dataclass(frozen=True)
class Mismatch:
    sku: str
    marketplace: str
    amazon: int | None
    expected: int


def expected_quantity(store: SimStore, rules: InventoryRules, item: CatalogItem) -> int:
    balances = {}
    for warehouse in rules.warehouses:
        found = store.balance(warehouse, item.item_number)
        if found is not None:
            balances[warehouse] = Balance(found["on_hand"], found["allocated"])
    return rules.quantity(item.sku, item.item_number, balances)


def out_of_sync(
    account: SellerAccount,
    store: SimStore,
    rules: InventoryRules,
    catalog: Sequence[CatalogItem],
    marketplaces: Sequence[str],
    *,
    skip_skus: Sequence[str] = (),
) -> list[Mismatch]:
    """Every (SKU, marketplace) whose Amazon quantity differs from what M3 and the rules say."""
    skipped = set(skip_skus)
    found = []
    for item in catalog:
        if item.sku in skipped:
            continue
        expected = expected_quantity(store, rules, item)
        for marketplace in marketplaces:
            listing = account.listings.get(item.sku, marketplace)
            amazon = None if listing is None else listing.mfn_quantity
            if amazon != expected:
                found.append(Mismatch(item.sku, marketplace, amazon, expected))
    return found


async def settle_inventory(
    account: SellerAccount,
    store: SimStore,
    rt: Runtime,
    catalog: Sequence[CatalogItem],
    *,
    tick: Callable[[], object],
    skip_skus: Sequence[str] = (),
    timeout_s: float = 90.0,
) -> dict[str, int]:
    """Wait until Amazon shows every SKU's quantity as M3 and the rules say (at most `timeout_s`),
    letting Amazon's world move on (`tick`: feeds get processed); the demo's inventory figures."""
    settings = rt.settings
    marketplaces = settings.inventory.marketplaces or settings.amazon.marketplaces
    deadline = time.monotonic() + timeout_s
    while True:
        found = await asyncio.to_thread(
            out_of_sync, account, store, rt.mappings.inventory, catalog, marketplaces, skip_skus=skip_skus
        )
        if not found or not settings.inventory.enabled or time.monotonic() > deadline:
            break
        await asyncio.to_thread(tick)
        await asyncio.sleep(0.5)
    return {
        "inventory_skus_pushed": await asyncio.to_thread(inventory_store.pushed_count, rt.engine),
        "inventory_skus_out_of_sync": len({m.sku for m in found}),
    }
