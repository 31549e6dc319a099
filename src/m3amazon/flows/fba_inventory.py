"""Inventory, FBA -> M3: Amazon's stock in its fulfillment centres reconciled into M3's FBA warehouse.

What Amazon holds is the truth for units in its fulfillment centres; M3 keeps them in the
warehouse of `inventory.fba_warehouse` (mapping). Per SKU, Amazon's on-hand units (fulfillable
plus reserved, getInventorySummaries with details; see amazon/translate/inventory.py) are compared
with the on-hand balance of the SKU's item in that warehouse (MMS200MI GetItmWhsBal):

- equal: nothing to do;
- different by at most `inventory.fba.max_adjust_units` in mode "adjust": M3 is adjusted by the
  difference (MMS850MI AddAdjust with the configured reason code);
- otherwise (a bigger difference, or mode "report_only"): an incident with both figures.

Triggers: FBA_INVENTORY_AVAILABILITY_CHANGES notifications (kept by the SQS intake in the event
inbox; their SKUs are reconciled and the events marked handled) and a full run every
`inventory.fba.interval_s`. Safe to repeat: each adjustment is computed from M3's balance read
just before it, so a run that is repeated after a crash finds the difference already booked.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dbos import DBOS
from sqlalchemy.engine import Engine

from m3amazon import bootstrap
from m3amazon.amazon.api.inventory import MAX_SKUS, InventoryApi
from m3amazon.amazon.errors import AmazonApiError, AmazonTranslationError
from m3amazon.amazon.notifications import FBA_INVENTORY_AVAILABILITY_CHANGES
from m3amazon.canonical import InventoryPosition
from m3amazon.config import FbaReconciliationSettings
from m3amazon.flows.transient import flow_step
from m3amazon.m3 import aliases
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError
from m3amazon.mapping.inventory import InventoryRules
from m3amazon.mapping.tables import ItemMapping
from m3amazon.ops import event_inbox
from m3amazon.ops.incidents import Incident, open_incident

log = logging.getLogger(__name__)
CATEGORY = "inventory_fba"


@dataclass
class FbaReport:
    compared: int = 0
    equal: int = 0
    adjusted: int = 0
    reported: int = 0
    unknown_sku: int = 0
    errors: int = 0


class FbaReconciler:
    def __init__(
        self,
        engine: Engine,
        settings: FbaReconciliationSettings,
        rules: InventoryRules,
        items: ItemMapping,
        *,
        inventory: InventoryApi,
        m3: MIClient,
        marketplace: str,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.warehouse = rules.fba_warehouse
        self.items = items
        self.inventory = inventory
        self.m3 = m3
        self.marketplace = marketplace
        self._item_of: dict[str, str] = dict(items.sku_to_item)

    async def _load_aliases(self) -> None:
        found = await aliases.skus_by_item(self.m3, self.items.alias_category, self.items.alias_qualifier)
        for item, skus in found.items():
            for sku in skus:
                self._item_of.setdefault(sku, item)

    async def reconcile(self, skus: Sequence[str] | None = None) -> FbaReport:
        """Compare (and adjust) every SKU Amazon reports, or only `skus`."""
        report = FbaReport()
        await self._load_aliases()
        positions: list[InventoryPosition] = []
        wanted = sorted(set(skus)) if skus is not None else None
        if wanted is None:
            positions = await self.inventory.positions(self.marketplace)
        else:
            for start in range(0, len(wanted), MAX_SKUS):
                positions += await self.inventory.positions(
                    self.marketplace, skus=wanted[start : start + MAX_SKUS]
                )
        for position in positions:
            report.compared += 1
            try:
                await self._one(position, report)
            except MIError as exc:
                log.warning("FBA reconciliation of %s: M3 failed: %s", position.sku, exc)
                report.errors += 1
        return report

    async def _m3_on_hand(self, item: str) -> Decimal:
        try:
            rows = await self.m3.execute("MMS200MI", "GetItmWhsBal", {"WHLO": self.warehouse, "ITNO": item})
        except MIError as exc:
            if exc.is_not_found:
                return Decimal(0)
            raise
        return Decimal(rows[0].get("STQT") or 0) if rows else Decimal(0)

    async def _one(self, position: InventoryPosition, report: FbaReport) -> None:
        sku = position.sku or ""
        item = self._item_of.get(sku)
        if item is None:
            report.unknown_sku += 1
            self._incident(
                sku,
                "FBA_SKU_UNKNOWN",
                f"Amazon holds {position.on_hand} units of SKU {sku} in FBA, but M3 has no item for it "
                f"(no MMS025MI alias, no entry in items.sku_to_item)",
                position,
                None,
            )
            return
        m3_on_hand = await self._m3_on_hand(item)
        difference = position.on_hand - m3_on_hand
        if difference == 0:
            report.equal += 1
            return
        if self.settings.mode == "adjust" and abs(difference) <= self.settings.max_adjust_units:
            await self.m3.execute(
                "MMS850MI",
                "AddAdjust",
                {
                    "E0PA": self.settings.partner,
                    "E065": self.settings.message_type,
                    "WHLO": self.warehouse,
                    "ITNO": item,
                    "QLQT": str(difference),
                    "RSCD": self.settings.reason_code,
                    "BREM": f"FBA {sku}"[:20],
                },
                maxrecs=1,
            )
            report.adjusted += 1
            log.info("FBA %s: M3 %s adjusted by %s to %s", sku, self.warehouse, difference, position.on_hand)
            return
        report.reported += 1
        why = (
            "report-only mode"
            if self.settings.mode == "report_only"
            else f"more than {self.settings.max_adjust_units} units"
        )
        self._incident(
            sku,
            "FBA_DIFFERENCE",
            f"FBA stock of {sku} (M3 item {item}): Amazon {position.on_hand}, M3 warehouse {self.warehouse} "
            f"{m3_on_hand}; difference {difference} not booked ({why}). Count or adjust in M3.",
            position,
            {"item_number": item, "m3_on_hand": str(m3_on_hand), "difference": str(difference)},
        )

    def _incident(
        self, sku: str, reason: str, message: str, position: InventoryPosition, extra: dict[str, Any] | None
    ) -> None:
        open_incident(
            self.engine,
            Incident(
                key=f"fba:{sku}:{reason}",
                category=CATEGORY,
                reason_code=reason,
                message=message,
                subject=sku,
                payload={"amazon": position.model_dump(mode="json"), **(extra or {})},
                actions=("discard",),
            ),
        )


def reconciler_for(rt: bootstrap.Runtime) -> FbaReconciler:
    marketplaces = rt.settings.inventory.marketplaces or rt.settings.amazon.marketplaces
    return FbaReconciler(
        rt.engine,
        rt.settings.inventory.fba,
        rt.mappings.inventory,
        rt.mappings.items,
        inventory=InventoryApi(rt.amazon),
        m3=rt.m3,
        marketplace=marketplaces[0],
    )


def pending_skus(engine: Engine) -> tuple[list[str], list[str]]:
    """SKUs of the FBA inventory notifications waiting in the event inbox, and their ids."""
    rows = event_inbox.pending(engine, FBA_INVENTORY_AVAILABILITY_CHANGES, limit=5_000)
    skus = {str(json.loads(r["event"]).get("sku") or r["subject"] or "") for r in rows}
    return sorted(s for s in skus if s), [r["notification_id"] for r in rows]


@DBOS.workflow()
async def reconcile_fba(trigger: str) -> dict[str, Any]:
    """FBA notifications (or the schedule) -> Amazon's FBA stock vs M3's FBA warehouse."""
    return await reconcile_fba_step(trigger)


@flow_step()
async def reconcile_fba_step(trigger: str) -> dict[str, Any]:
    rt = bootstrap.runtime()
    reconciler = reconciler_for(rt)
    skus: list[str] | None
    ids: list[str]
    if trigger == "notifications":
        skus, ids = await asyncio.to_thread(pending_skus, rt.engine)
        if not skus:
            return asdict(FbaReport())
    else:
        skus, ids = None, []
    try:
        report = await reconciler.reconcile(skus)
    except (AmazonApiError, AmazonTranslationError) as exc:
        log.warning("FBA reconciliation: Amazon failed: %s", exc)
        return {**asdict(FbaReport(errors=1)), "at": datetime.now(UTC).isoformat()}
    for notification_id in ids:
        await asyncio.to_thread(event_inbox.mark_handled, rt.engine, notification_id)
    return asdict(report)
