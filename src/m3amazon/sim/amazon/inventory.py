"""Simulated FBA stock: per SKU and marketplace, what is in Amazon's fulfillment centres.

Stored per (SKU, marketplace): units on hand (sellable, in a fulfillment centre), inbound units
(working, shipped, receiving), unfulfillable and researching units. What is reserved is not
stored: it is derived from the orders that hold stock (AFN orders not yet shipped, MCF orders being
planned or processed; see lifecycle.reserved), so it can never drift from them. Fulfillable is
on hand minus reserved, as in Amazon's InventoryDetails.

Guarded by the account's lock (see state.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from m3amazon.sim.amazon.params import iso
from m3amazon.sim.catalog import CatalogItem


@dataclass
class StockLevel:
    on_hand: int
    working: int = 0
    shipped: int = 0
    receiving: int = 0
    unfulfillable: int = 0
    researching: int = 0
    updated: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    @property
    def inbound(self) -> int:
        return self.working + self.shipped + self.receiving


class FbaInventory:
    """FBA stock of every catalog item in every marketplace, seeded deterministically."""

    def __init__(self, catalog: Sequence[CatalogItem], marketplaces: Iterable[str], *, seed: int = 7) -> None:
        rng = random.Random(seed * 31 + 1)
        self.items = {item.sku: item for item in catalog}
        self.levels: dict[tuple[str, str], StockLevel] = {}
        now = datetime.now(UTC).replace(microsecond=0)
        for marketplace in marketplaces:
            for item in catalog:
                self.levels[(item.sku, marketplace)] = StockLevel(
                    on_hand=rng.choice([0, 5, 20, 50, 120, 300]),
                    working=rng.choice([0, 0, 10]),
                    shipped=rng.choice([0, 0, 24]),
                    receiving=rng.choice([0, 0, 0, 6]),
                    unfulfillable=rng.choice([0, 0, 0, 1, 2]),
                    updated=now,
                )

    def level(self, sku: str, marketplace: str) -> StockLevel | None:
        return self.levels.get((sku, marketplace))

    def skus(self, marketplace: str) -> list[str]:
        return sorted(sku for sku, market in self.levels if market == marketplace)

    def set(self, sku: str, marketplace: str, now: datetime, **quantities: int) -> StockLevel:
        """Set quantities of one level (control plane), creating it for a catalog SKU."""
        if sku not in self.items:
            raise KeyError(f"SKU {sku} is not in the catalog")
        level = self.levels.setdefault((sku, marketplace), StockLevel(on_hand=0))
        for name, value in quantities.items():
            if not hasattr(level, name) or name in ("updated", "inbound") or int(value) < 0:
                raise ValueError(f"cannot set {name}={value}")
            setattr(level, name, int(value))
        level.updated = now
        return level

    def remove(self, sku: str, marketplace: str, quantity: int, now: datetime) -> None:
        """Units left a fulfillment centre (shipped to a buyer)."""
        level = self.levels.get((sku, marketplace))
        if level is not None:
            level.on_hand = max(0, level.on_hand - quantity)
            level.updated = now

    def receive(self, sku: str, marketplace: str, quantity: int, now: datetime) -> StockLevel:
        """Inbound units arrived: taken from receiving, then shipped, then working, onto on hand."""
        level = self.set(sku, marketplace, now)
        left = quantity
        for name in ("receiving", "shipped", "working"):
            take = min(left, getattr(level, name))
            setattr(level, name, getattr(level, name) - take)
            left -= take
        level.on_hand += quantity
        return level


def render_summary(item: CatalogItem, level: StockLevel, reserved: int, *, details: bool) -> dict[str, Any]:
    """One `InventorySummary` of getInventorySummaries."""
    fulfillable = max(0, level.on_hand - reserved)
    summary: dict[str, Any] = {
        "asin": item.asin,
        "fnSku": item.fnsku,
        "sellerSku": item.sku,
        "condition": "NewItem",
        "lastUpdatedTime": iso(level.updated),
        "productName": item.title,
        "totalQuantity": level.on_hand + level.inbound + level.unfulfillable + level.researching,
        "stores": [],
    }
    if details:
        summary["inventoryDetails"] = {
            "fulfillableQuantity": fulfillable,
            "inboundWorkingQuantity": level.working,
            "inboundShippedQuantity": level.shipped,
            "inboundReceivingQuantity": level.receiving,
            "reservedQuantity": {
                "totalReservedQuantity": min(reserved, level.on_hand),
                "pendingCustomerOrderQuantity": min(reserved, level.on_hand),
                "pendingTransshipmentQuantity": 0,
                "fcProcessingQuantity": 0,
            },
            "researchingQuantity": {
                "totalResearchingQuantity": level.researching,
                "researchingQuantityBreakdown": [],
            },
            "unfulfillableQuantity": {
                "totalUnfulfillableQuantity": level.unfulfillable,
                "customerDamagedQuantity": 0,
                "warehouseDamagedQuantity": level.unfulfillable,
                "distributorDamagedQuantity": 0,
                "carrierDamagedQuantity": 0,
                "defectiveQuantity": 0,
                "expiredQuantity": 0,
            },
        }
    return summary
