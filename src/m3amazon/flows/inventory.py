"""Inventory, M3 -> Amazon: M3's available stock drives the seller-fulfilled quantity of every SKU.

Three triggers feed one push (the rules and the versioning are in flows/inventory_push.py):

- **real time**: ION's SyncInventoryCount BODs (via web/ims.py and `flows.dispatch.submit_bod`) are
  recorded as balances at once, and a push is requested;
- **delta poll**: every `inventory.poll_interval_s`, OIS100MI LstNewBalances by LMTS catches what
  no BOD announced;
- **nightly reconciliation**: at `inventory.reconcile_hour_utc` (and when the service starts) every
  M3 balance is read again and every SKU's quantity is sent again, as feeds, so drift on either
  side (a lost BOD, an edit in Seller Central) lasts a day at most.

Every trigger runs as a DBOS workflow on the `inventory` queue with a concurrency of one across
all workers, so pushes never overlap; a request while one is queued is merged into it
(deduplication id). The FBA -> M3 direction is flows/fba_inventory.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from dbos import DBOS, SetEnqueueOptions
from dbos._error import DBOSQueueDeduplicatedError
from sqlalchemy.engine import Engine

from m3amazon import bootstrap
from m3amazon.amazon.api.feeds import FeedsApi
from m3amazon.amazon.api.listings import ListingsApi
from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.bootstrap import INVENTORY_QUEUE
from m3amazon.canonical import InventoryPosition
from m3amazon.config import Settings
from m3amazon.flows.fba_inventory import pending_skus, reconcile_fba
from m3amazon.flows.inventory_push import NOT_LISTED, InventorySync
from m3amazon.flows.transient import flow_step
from m3amazon.m3.client import MIClient
from m3amazon.mapping import Mappings
from m3amazon.ops import inventory_store as store
from m3amazon.ops.alerts import Alert

log = logging.getLogger(__name__)

POLL_CURSOR, RECONCILE_CURSOR = "m3-balances", "inventory-reconcile"


def build_sync(
    engine: Engine,
    settings: Settings,
    mappings: Mappings,
    amazon: AmazonGateway,
    m3: MIClient | None,
    alert: Any = None,
) -> InventorySync:
    """The push wired to these edges (the service's runtime, a test, the benchmark)."""
    marketplaces = settings.inventory.marketplaces or settings.amazon.marketplaces
    extra = {"alert": alert} if alert is not None else {}
    return InventorySync(
        engine,
        mappings.inventory,
        settings.inventory,
        listings=ListingsApi(amazon),
        feeds=FeedsApi(amazon),
        marketplaces=marketplaces,
        m3=m3,
        items=mappings.items,
        **extra,
    )


_syncs: dict[int, InventorySync] = {}


def sync_for(rt: bootstrap.Runtime) -> InventorySync:
    """The running engine's push (one per runtime: it caches the item -> SKU aliases)."""
    found = _syncs.get(id(rt))
    if found is None:
        _syncs.clear()

        def alert(a: Alert) -> None:
            rt.alerter.raise_alert(a)

        found = _syncs[id(rt)] = build_sync(rt.engine, rt.settings, rt.mappings, rt.amazon, rt.m3, alert)
    return found


def _sync() -> InventorySync:
    return sync_for(bootstrap.runtime())


# -- workflows ------------------------------------------------------------------------------------


@DBOS.workflow()
async def push_inventory(trigger: str) -> dict[str, Any]:
    """Changed balances -> quantities Amazon lacks -> patches or feeds; then the open feeds."""
    pushed = await push_changed_skus()
    feeds = await follow_quantity_feeds()
    return {"trigger": trigger, "pushed": pushed, "feeds": feeds}


@DBOS.workflow()
async def poll_m3_balances() -> dict[str, Any]:
    """The delta poll: balances M3 changed since the last poll, then the push."""
    polled = await read_new_balances()
    pushed = await push_changed_skus()
    return {"polled": polled, "pushed": pushed}


@DBOS.workflow()
async def reconcile_inventory() -> dict[str, Any]:
    """The full reconciliation: every balance read again, every SKU's quantity sent again."""
    read = await read_all_balances()
    pushed = await push_every_sku()
    feeds = await follow_quantity_feeds()
    return {"read": read, "pushed": pushed, "feeds": feeds}


@flow_step()
async def push_changed_skus() -> dict[str, Any]:
    report = await _sync().push_dirty()
    return asdict(report)


@flow_step()
async def push_every_sku() -> dict[str, Any]:
    sync = _sync()
    await sync.refresh_aliases(max_age_s=0)
    # Listings created since the last run: SKUs remembered as not listed are looked up again.
    await asyncio.to_thread(store.forget_product_type, sync.engine, NOT_LISTED)
    items = sorted(set(await asyncio.to_thread(store.dirty_items, sync.engine)) | set(sync.known_items()))
    report = await sync.push_dirty(items=items, force=True)
    await asyncio.to_thread(store.set_cursor, sync.engine, RECONCILE_CURSOR, datetime.now(UTC))
    return asdict(report)


@flow_step()
async def follow_quantity_feeds() -> dict[str, Any]:
    return asdict(await _sync().follow_feeds())


@flow_step()
async def read_new_balances() -> int:
    sync = _sync()
    since = await asyncio.to_thread(store.cursor, sync.engine, POLL_CURSOR)
    rows, next_since = await sync.poll_m3(since)
    await asyncio.to_thread(store.set_cursor, sync.engine, POLL_CURSOR, next_since)
    return rows


@flow_step()
async def read_all_balances() -> int:
    sync = _sync()
    rows, _ = await sync.poll_m3(None)
    return rows


# -- triggers ---------------------------------------------------------------------------------------


async def _enqueue(workflow: Any, name: str, *args: Any) -> bool:
    """Queue `workflow` unless one of its kind is already waiting (then that one does the work)."""
    try:
        with SetEnqueueOptions(deduplication_id=f"inventory:{name}"):
            await DBOS.enqueue_workflow_async(INVENTORY_QUEUE, workflow, *args)
        return True
    except DBOSQueueDeduplicatedError:
        return False


async def request_push(trigger: str) -> bool:
    return await _enqueue(push_inventory, "push", trigger)


async def record_balance_bod(positions: Sequence[InventoryPosition]) -> bool:
    """A SyncInventoryCount BOD: its balances recorded (newer ones only), then a push requested."""
    sync = _sync()
    applied = await asyncio.to_thread(sync.record_positions, list(positions))
    if applied:
        await request_push("bod")
    return True


class InventoryScheduler:
    """The service's clock for the inventory sync: pushes, the delta poll, the nightly run."""

    def __init__(self, rt: bootstrap.Runtime) -> None:
        self.rt = rt
        self.settings = rt.settings.inventory
        self._last_fba = float("-inf")

    async def run(self, stop: asyncio.Event) -> None:
        last_poll = asyncio.get_running_loop().time()
        if self.settings.reconcile_on_start:
            await _enqueue(reconcile_inventory, "reconcile")
        while not stop.is_set():
            try:
                await self._tick(last_poll)
                if self._poll_due(last_poll):
                    last_poll = asyncio.get_running_loop().time()
            except Exception:  # the clock must keep going; each workflow reports its own trouble
                log.exception("inventory scheduler")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.push_interval_s)

    def _poll_due(self, last_poll: float) -> bool:
        interval = self.settings.poll_interval_s
        return interval > 0 and asyncio.get_running_loop().time() - last_poll >= interval

    async def _tick(self, last_poll: float) -> None:
        engine = self.rt.engine
        dirty = await asyncio.to_thread(store.dirty_items, engine)
        feeds = await asyncio.to_thread(store.open_feeds, engine)
        if dirty or feeds:
            await request_push("schedule")
        if self._poll_due(last_poll):
            await _enqueue(poll_m3_balances, "poll")
        if await asyncio.to_thread(self._reconcile_due):
            await _enqueue(reconcile_inventory, "reconcile")
        await self._fba()

    async def _fba(self) -> None:
        fba = self.settings.fba
        if not fba.enabled:
            return
        now = asyncio.get_running_loop().time()
        if now - self._last_fba >= fba.interval_s:
            self._last_fba = now
            await _enqueue(reconcile_fba, "fba", "schedule")
        elif (await asyncio.to_thread(pending_skus, self.rt.engine))[0]:
            await _enqueue(reconcile_fba, "fba", "notifications")

    def _reconcile_due(self) -> bool:
        hour = self.settings.reconcile_hour_utc
        if hour is None:
            return False
        now = datetime.now(UTC)
        today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
        due = today if now >= today else today - timedelta(days=1)
        last = store.cursor(self.rt.engine, RECONCILE_CURSOR)
        return last is None or last < due
