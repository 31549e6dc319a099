"""The demo's Multi-Channel Fulfillment part: web shop orders entered in M3, shipped by Amazon.

`start_mcf_orders` enters the orders (MCF order type, FBA warehouse) for SKUs FBA has plenty of,
so they ship; `settle_mcf` moves Amazon on until each has reached its end (delivered or invoiced
in M3, or an incident) and returns the demo's MCF figures.
"""

from __future__ import annotations

import asyncio
import time

from m3amazon import bootstrap
from m3amazon.ops import mcf_trail
from m3amazon.sim.catalog import CatalogItem
from m3amazon.sim.sandbox import Sandbox
from m3amazon.sim.world import World

#: FBA units a SKU needs before the demo orders it through MCF.
PLENTY = 50
_ENDS = frozenset({"delivered", "invoiced", "incident", "cancelled"})


def start_mcf_orders(
    sandbox: Sandbox, world: World, catalog: list[CatalogItem], count: int, skip_skus: set[str]
) -> list[str]:
    """Enter `count` web shop orders in M3 for SKUs FBA holds plenty of; their order numbers."""
    if count <= 0:
        return []
    marketplace = sandbox.account.marketplaces[0]
    with sandbox.account.lock:
        items = [
            item.item_number
            for item in catalog
            if item.sku not in skip_skus
            and (level := sandbox.account.inventory.level(item.sku, marketplace)) is not None
            and level.on_hand >= PLENTY
        ]
    return world.enter_mcf_orders(count, items=items[:10]) if items else []


async def settle_mcf(
    rt: bootstrap.Runtime, world: World, numbers: list[str], timeout_s: float
) -> dict[str, int]:
    """Tick Amazon until every MCF order has reached its end (or the time is up); the figures."""
    deadline = time.monotonic() + timeout_s
    while numbers and time.monotonic() < deadline:
        rows = await asyncio.to_thread(mcf_trail.known, rt.engine, numbers)
        if len(rows) == len(numbers) and all(row["outcome"] in _ENDS for row in rows.values()):
            break
        await asyncio.to_thread(world.tick_amazon)
        await asyncio.sleep(0.3)
    outcomes = await asyncio.to_thread(mcf_trail.outcome_counts, rt.engine)
    return {
        "mcf_orders_created": await asyncio.to_thread(mcf_trail.created_at_amazon_count, rt.engine),
        "mcf_orders_delivered_in_m3": outcomes.get("delivered", 0) + outcomes.get("invoiced", 0),
    }
