"""FBA -> M3: Amazon's FBA stock (getInventorySummaries, simulator over HTTPS) against M3's FBA
warehouse (M3 simulator): small differences booked with MMS850MI AddAdjust, big ones (or all, in
report-only mode) as incidents; a repeated run books nothing twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from m3amazon.amazon.api.inventory import InventoryApi
from m3amazon.amazon.notifications import FBA_INVENTORY_AVAILABILITY_CHANGES
from m3amazon.canonical.events import InventoryChanged
from m3amazon.config import FbaReconciliationSettings
from m3amazon.flows.fba_inventory import FbaReconciler, FbaReport, pending_skus
from m3amazon.ops import event_inbox, incidents
from m3amazon.sim.inventory_rig import US, Rig
from m3amazon.sim.tls import LocalTLS


def reconciler(rig: Rig, **settings: Any) -> FbaReconciler:
    assert rig.m3 is not None
    return FbaReconciler(
        rig.engine,
        FbaReconciliationSettings(enabled=True, **settings),
        rig.mappings.inventory,
        rig.mappings.items,
        inventory=InventoryApi(rig.gateway),
        m3=rig.m3,
        marketplace=US,
    )


def amazon_holds(rig: Rig, index: int, units: int) -> str:
    sku = rig.catalog[index].sku
    rig.account.inventory.set(sku, US, datetime.now(UTC), on_hand=units)
    return sku


def m3_fba(rig: Rig, index: int) -> Decimal:
    assert rig.store is not None
    found = rig.store.balance("FBA", rig.catalog[index].item_number)
    assert found is not None
    return found["on_hand"]


def run(tmp_path: Path, tls: LocalTLS, scenario: Any) -> None:
    async def main() -> None:
        rig = await asyncio.to_thread(Rig.start, tmp_path, tls, marketplaces=(US,))
        try:
            await scenario(rig)
        finally:
            await rig.aclose()

    asyncio.run(main())


def test_small_differences_are_booked_big_ones_become_incidents(
    tmp_path: Path, inventory_tls: LocalTLS
) -> None:
    async def scenario(rig: Rig) -> None:
        seeded = m3_fba(rig, 0)  # the simulator seeds every item's FBA warehouse alike
        skus = [
            amazon_holds(rig, 0, int(seeded) + 4),  # 4 more at Amazon: booked
            amazon_holds(rig, 1, int(seeded) - 30),  # 30 fewer: too many to book unseen
            amazon_holds(rig, 2, int(seeded)),  # equal
        ]
        fba = reconciler(rig, max_adjust_units=10, reason_code="AMZ")

        first = await fba.reconcile(skus)

        assert (first.compared, first.adjusted, first.reported, first.equal) == (3, 1, 1, 1)
        assert m3_fba(rig, 0) == seeded + 4 and m3_fba(rig, 1) == seeded
        (found,) = incidents.list_incidents(rig.engine, category="inventory_fba")
        assert found["subject"] == skus[1] and found["reason_code"] == "FBA_DIFFERENCE"
        assert "-30" in found["message"] and "more than 10 units" in found["message"]
        again = await fba.reconcile(skus)  # repeated (a crash, the next notification): nothing booked twice
        assert (again.adjusted, again.equal, again.reported) == (0, 2, 1)
        assert m3_fba(rig, 0) == seeded + 4
        (still,) = incidents.list_incidents(rig.engine, category="inventory_fba")
        assert still["occurrences"] == 2

    run(tmp_path, inventory_tls, scenario)


def test_report_only_mode_books_nothing(tmp_path: Path, inventory_tls: LocalTLS) -> None:
    async def scenario(rig: Rig) -> None:
        seeded = m3_fba(rig, 3)
        sku = amazon_holds(rig, 3, int(seeded) + 1)

        report = await reconciler(rig, mode="report_only").reconcile([sku])

        assert report == FbaReport(compared=1, reported=1)
        assert m3_fba(rig, 3) == seeded
        (found,) = incidents.list_incidents(rig.engine, category="inventory_fba")
        assert "report-only" in found["message"] and found["subject"] == sku

    run(tmp_path, inventory_tls, scenario)


def test_fba_notifications_waiting_in_the_inbox_name_the_skus_to_reconcile(tmp_path: Path) -> None:
    from m3amazon.ops import db

    engine = db.create_engine(f"sqlite:///{tmp_path / 'inbox.sqlite'}")
    db.create_tables(engine)
    for number, sku in enumerate(["SKU-B", "SKU-A", "SKU-B"]):
        event_inbox.store(
            engine, f"n-{number}", FBA_INVENTORY_AVAILABILITY_CHANGES, InventoryChanged(sku=sku)
        )
    skus, ids = pending_skus(engine)
    assert skus == ["SKU-A", "SKU-B"] and sorted(ids) == ["n-0", "n-1", "n-2"]
