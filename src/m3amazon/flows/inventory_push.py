"""M3 stock -> Amazon's seller-fulfilled quantity: the versioned push behind flows/inventory.py.

`InventorySync` is the whole rule set, independent of how it is scheduled (the DBOS workflows in
flows/inventory.py, the benchmark and the property test drive it directly):

- **intake** (`record_positions`, `poll_m3`, `read_all_m3`): balances go into
  `m3a_inventory_balances`, each only if it is newer than the one known (version = M3's change
  time), and the item is marked dirty;
- **compute** (`targets`): per dirty item the rules of mapping/inventory.py give the quantity of
  each of its SKUs (MMS025MI aliases, then the mapping table), versioned by the sum of the change
  times of the balances it combines - each of them only moves forward, so the sum grows with every
  newer balance and never with an older one;
- **push** (`push_dirty`): a SKU is sent only with a version newer than the one it was last sent
  with (`m3a_inventory_pushed`), never while a feed with its previous quantity is still being
  processed, and not at all when Amazon already has that quantity from us; zero quantities first
  (they stop overselling); a few changes one by one through patchListingsItem (`merge` on
  fulfillment_availability, channel DEFAULT, all marketplaces in one call), more as
  JSON_LISTINGS_FEEDs of up to 25,000 messages;
- **follow-up** (`follow_feeds`): finished feeds' processing reports are read, per-SKU failures
  become incidents, a feed in progress for too long raises an alert.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from m3amazon.amazon.api.feeds import FeedsApi
from m3amazon.amazon.api.listings import ListingsApi
from m3amazon.amazon.errors import AmazonApiError, AmazonTranslationError
from m3amazon.amazon.translate.feeds import QuantityUpdate, quantity_results
from m3amazon.amazon.translate.listings import quantity_patch
from m3amazon.canonical import InventoryPosition
from m3amazon.config import InventorySettings
from m3amazon.m3 import aliases
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError
from m3amazon.mapping.inventory import InventoryRules
from m3amazon.mapping.tables import ItemMapping
from m3amazon.ops import inventory_store as store
from m3amazon.ops.alerts import Alert, Severity
from m3amazon.ops.incidents import Incident, open_incident
from m3amazon.ops.inventory_store import BalanceRow, micros

log = logging.getLogger(__name__)

#: Product type remembered for a SKU Amazon has no listing of (nothing to push to).
NOT_LISTED = "-"
INCIDENT_CATEGORY = "inventory"


@dataclass(frozen=True)
class Target:
    """What Amazon should show for `sku`, computed from balances of stock version `version`."""

    sku: str
    item_number: str
    quantity: int
    version: int


@dataclass
class PushReport:
    items: int = 0
    skus: int = 0
    unchanged: int = 0
    stale: int = 0
    deferred: int = 0
    patched: int = 0
    fed: int = 0
    rejected: int = 0
    not_listed: int = 0
    errors: int = 0
    feeds: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return self.patched + self.fed


@dataclass
class FeedReport:
    finished: int = 0
    accepted: int = 0
    failed: int = 0
    open: int = 0
    stuck: int = 0


Alerting = Callable[[Alert], None]


def _no_alert(alert: Alert) -> None:
    log.warning("%s: %s", alert.title, alert.body)


class InventorySync:
    def __init__(
        self,
        engine: Engine,
        rules: InventoryRules,
        settings: InventorySettings,
        *,
        listings: ListingsApi,
        feeds: FeedsApi,
        marketplaces: Sequence[str],
        m3: MIClient | None = None,
        items: ItemMapping | None = None,
        alert: Alerting = _no_alert,
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.settings = settings
        self.listings = listings
        self.feeds = feeds
        self.marketplaces = list(marketplaces)
        self.m3 = m3
        self.items = items or ItemMapping()
        self.alert = alert
        #: item number -> its Amazon SKUs (aliases, the mapping table, what BODs told)
        self._skus: dict[str, set[str]] = {}
        for sku, item in self.items.sku_to_item.items():
            self._skus.setdefault(item, set()).add(sku)
        self._aliases_read_at = 0.0
        #: one push at a time per process (the DBOS queue serialises workers)
        self._lock = asyncio.Lock()

    # -- SKUs of items ------------------------------------------------------------------------

    def learn_sku(self, item_number: str, sku: str) -> None:
        self._skus.setdefault(item_number, set()).add(sku)

    def skus_of(self, item_number: str) -> set[str]:
        return self._skus.get(item_number, set())

    def known_items(self) -> list[str]:
        """Items with at least one Amazon SKU."""
        return sorted(i for i, skus in self._skus.items() if skus)

    async def refresh_aliases(self, *, max_age_s: float = 60.0) -> None:
        """Item -> SKUs from M3's aliases (MMS025MI LstAliasViaCat, one call), at most every minute."""
        if self.m3 is None or time.monotonic() - self._aliases_read_at < max_age_s:
            return
        found = await aliases.skus_by_item(self.m3, self.items.alias_category, self.items.alias_qualifier)
        for item, skus in found.items():
            self._skus.setdefault(item, set()).update(skus)
        self._aliases_read_at = time.monotonic()

    # -- intake ---------------------------------------------------------------------------------

    def record_positions(self, positions: Sequence[InventoryPosition], source: str = "bod") -> int:
        """Balances from M3 (a SyncInventoryCount BOD): kept when newer; returns how many apply."""
        rows = []
        for p in positions:
            if p.source != "m3" or not p.item_number or p.location not in self.rules.warehouses:
                continue
            if p.sku:
                self.learn_sku(p.item_number, p.sku)
            rows.append(
                BalanceRow(
                    p.item_number, p.location, p.on_hand, p.allocated, p.reserved, micros(p.as_of), source
                )
            )
        store.record_balances(self.engine, rows)
        return len(rows)

    async def _new_balances(self, since: datetime | None) -> tuple[list[BalanceRow], datetime]:
        """OIS100MI LstNewBalances (changed after LMTS `since`, all without it) as balance rows.

        The rows carry AV01 (on hand - allocated) and AV02 (on hand - reserved) but no change time:
        on hand is taken as AV02 plus reserved 0, allocated as AV02 - AV01, and the version is the
        poll's start minus `poll_version_lag_s` (see InventorySettings)."""
        if self.m3 is None:
            raise RuntimeError("no M3 client: the delta poll needs one")
        started = datetime.now(UTC)
        record = {"LMTS": since.strftime("%Y%m%d%H%M%S%f")[:17] if since else None}
        rows = await self.m3.execute("OIS100MI", "LstNewBalances", record, maxrecs=0)
        version = micros(started - timedelta(seconds=self.settings.poll_version_lag_s))
        balances = []
        for row in rows:
            if row.get("WHLO") not in self.rules.warehouses or not row.get("ITNO"):
                continue
            av01, av02 = Decimal(row.get("AV01") or 0), Decimal(row.get("AV02") or 0)
            balances.append(
                BalanceRow(row["ITNO"], row["WHLO"], av02, av02 - av01, Decimal(0), version, "poll")
            )
        return balances, started

    async def poll_m3(self, since: datetime | None) -> tuple[int, datetime]:
        """The delta poll: balances changed since `since`; returns (rows, where the next poll starts)."""
        rows, started = await self._new_balances(since)
        await asyncio.to_thread(store.record_balances, self.engine, rows)
        return len(rows), started - timedelta(seconds=self.settings.poll_version_lag_s)

    # -- compute --------------------------------------------------------------------------------

    def targets(self, items: Sequence[str]) -> tuple[list[Target], list[BalanceRow], set[str]]:
        """The quantity of every SKU of `items`, the balances it was computed from, and the items
        that have no SKU (not sold on Amazon)."""
        balances = store.balances_of(self.engine, items)
        targets: list[Target] = []
        seen: list[BalanceRow] = []
        unsold: set[str] = set()
        for item in items:
            by_warehouse = balances.get(item, {})
            seen.extend(by_warehouse.values())
            skus = self.skus_of(item)
            if not skus:
                unsold.add(item)
                continue
            used = {w: b for w, b in by_warehouse.items() if w in self.rules.warehouses}
            version = sum(b.version for b in used.values())
            for sku in sorted(skus):
                targets.append(Target(sku, item, self.rules.quantity(sku, item, used), version))
        return targets, seen, unsold

    # -- push -----------------------------------------------------------------------------------

    async def push_dirty(self, *, items: Sequence[str] | None = None, force: bool = False) -> PushReport:
        """Send the quantities of the dirty items (or of `items`) that Amazon does not have yet.

        `force` (the full reconciliation) sends every quantity again, even one Amazon should have."""
        async with self._lock:
            report = PushReport()
            wanted = (
                list(items) if items is not None else await asyncio.to_thread(store.dirty_items, self.engine)
            )
            if not wanted:
                return report
            if any(not self.skus_of(i) for i in wanted):
                await self._refresh_quietly()
            targets, seen, _unsold = await asyncio.to_thread(self.targets, wanted)
            report.items, report.skus = len(wanted), len(targets)
            pushed = await asyncio.to_thread(store.pushed_of, self.engine, [t.sku for t in targets])
            to_send, same, held = [], [], set()
            for target in targets:
                previous = pushed.get(target.sku)
                if previous is not None and previous.feed_id:
                    held.add(target.item_number)  # its feed first; the item stays dirty
                    report.deferred += 1
                elif previous is not None and previous.version > target.version and not force:
                    report.stale += 1  # Amazon has a newer quantity from us already
                elif previous is not None and previous.version > target.version:
                    # Only a change of the rules (a warehouse left out) lowers a stock version: the
                    # balances only move forward, so what they say now is the newest there is.
                    to_send.append(replace(target, version=previous.version))
                elif previous is not None and previous.quantity == target.quantity and not force:
                    same.append(target)
                    report.unchanged += 1
                else:
                    to_send.append(target)
            unchanged = [(t.sku, t.item_number, t.quantity, t.version) for t in same]
            await asyncio.to_thread(store.record_pushed, self.engine, unchanged, "same")
            failed_items = await self._send(to_send, pushed, report)
            keep = held | failed_items
            clean = [b for b in seen if b.item_number not in keep]
            await asyncio.to_thread(store.clear_dirty, self.engine, clean)
            return report

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh_aliases()
        except MIError as exc:
            log.warning("M3 aliases could not be read (%s): SKUs known so far are used", exc)

    async def _send(
        self, targets: list[Target], pushed: dict[str, store.Pushed], report: PushReport
    ) -> set[str]:
        """Patch or feed `targets` (zero quantities first); the items whose push must be tried again."""
        if not targets:
            return set()
        targets.sort(key=lambda t: (t.quantity != 0, t.sku))
        product_types, failed = await self._product_types(targets, pushed, report)
        ready = [t for t in targets if product_types.get(t.sku) not in (None, NOT_LISTED)]
        zeros = [t for t in ready if t.quantity == 0]
        if len(ready) <= self.settings.patch_max:
            by_patch, by_feed = ready, []
        elif 0 < len(zeros) <= self.settings.patch_max:
            by_patch, by_feed = zeros, [t for t in ready if t.quantity != 0]  # zeros at once, ahead
        else:
            by_patch, by_feed = [], ready  # zeros lead the feed's messages
        for target in by_patch:
            if not await self._patch(target, product_types[target.sku], report):
                failed.add(target.item_number)
        step = self.settings.feed_max_messages
        for start in range(0, len(by_feed), step):
            chunk = by_feed[start : start + step]
            try:
                await self._feed(chunk, product_types, report)
            except (AmazonApiError, AmazonTranslationError) as exc:
                log.warning("quantity feed of %d SKUs not submitted: %s", len(chunk), exc)
                report.errors += 1
                failed.update(t.item_number for t in chunk)
        return failed

    async def _product_types(
        self, targets: list[Target], pushed: dict[str, store.Pushed], report: PushReport
    ) -> tuple[dict[str, str], set[str]]:
        """Every target's listing product type (asked once per SKU with getListingsItem, then kept)."""
        known = {t.sku: pushed[t.sku].product_type for t in targets if t.sku in pushed}
        types: dict[str, str] = {s: p for s, p in known.items() if p}
        learnt: dict[str, str] = {}
        failed: set[str] = set()
        for target in targets:
            if target.sku in types:
                continue
            try:
                item = await self.listings.get(
                    target.sku, marketplace_ids=self.marketplaces, included=("summaries", "productTypes")
                )
                learnt[target.sku] = item.product_type(self.marketplaces[0]) or NOT_LISTED
            except AmazonTranslationError as exc:
                log.warning("listing %s unreadable: %s", target.sku, exc)
                report.errors += 1
                failed.add(target.item_number)
                continue
            except AmazonApiError as exc:
                if exc.status != 404:
                    report.errors += 1
                    failed.add(target.item_number)
                    continue
                learnt[target.sku] = NOT_LISTED
            if learnt[target.sku] == NOT_LISTED:
                report.not_listed += 1
                self._incident(
                    target,
                    "LISTING_NOT_FOUND",
                    f"SKU {target.sku} (M3 item {target.item_number}) has no listing with a product type "
                    f"in {', '.join(self.marketplaces)}: its quantity {target.quantity} cannot be sent",
                    None,
                )
        store.remember_product_types(self.engine, learnt)
        types.update(learnt)
        return types, failed

    async def _patch(self, target: Target, product_type: str, report: PushReport) -> bool:
        try:
            answer = await self.listings.patch(
                target.sku, quantity_patch(target.quantity, product_type), marketplace_ids=self.marketplaces
            )
        except (AmazonApiError, AmazonTranslationError) as exc:
            log.warning("patch of %s failed: %s", target.sku, exc)
            report.errors += 1
            return False
        if answer.status in ("ACCEPTED", "VALID"):
            store.record_pushed(
                self.engine, [(target.sku, target.item_number, target.quantity, target.version)], "patch"
            )
            report.patched += 1
            return True
        report.rejected += 1
        issues = [i.model_dump(mode="json") for i in answer.issues or []]
        self._incident(
            target,
            "LISTING_REJECTED",
            f"Amazon refused quantity {target.quantity} for SKU {target.sku}: "
            + "; ".join(i.message for i in answer.issues or [])[:500],
            {"status": answer.status, "issues": issues},
        )
        if any("product type" in i.message.lower() for i in answer.issues or []):
            store.remember_product_types(self.engine, {target.sku: ""})  # ask again next time
        return True  # not worth retrying by itself: the incident says what to fix

    async def _feed(self, chunk: list[Target], product_types: dict[str, str], report: PushReport) -> None:
        updates = [QuantityUpdate(t.sku, t.quantity, product_types[t.sku]) for t in chunk]
        feed_id = await self.feeds.submit_quantities(updates, marketplace_ids=self.marketplaces)
        store.add_feed(self.engine, feed_id, [(t.sku, t.quantity, t.version) for t in chunk])
        store.record_pushed(
            self.engine, [(t.sku, t.item_number, t.quantity, t.version) for t in chunk], "feed", feed_id
        )
        report.fed += len(chunk)
        report.feeds.append(feed_id)
        log.info("quantity feed %s: %d SKUs", feed_id, len(chunk))

    # -- feeds ----------------------------------------------------------------------------------

    async def follow_feeds(self) -> FeedReport:
        """Read the finished quantity feeds' reports; alert on feeds in progress for too long."""
        report = FeedReport()
        for feed in store.open_feeds(self.engine):
            try:
                await self._follow(feed, report)
            except (AmazonApiError, AmazonTranslationError) as exc:
                log.warning("feed %s could not be followed up: %s", feed.feed_id, exc)
                report.open += 1
        return report

    async def _follow(self, feed: store.OpenFeed, report: FeedReport) -> None:
        status = await self.feeds.get_feed(feed.feed_id)
        if not status.finished:
            report.open += 1
            age = datetime.now(UTC) - feed.submitted_at
            stuck = age.total_seconds() > self.settings.feed_stuck_after_s
            store.set_feed_status(self.engine, feed.feed_id, status.processing_status, alerted=stuck or None)
            if stuck:
                report.stuck += 1
                if not feed.alerted:
                    self.alert(
                        Alert(
                            "inventory_feed_stuck",
                            Severity.ERROR,
                            f"Quantity feed {feed.feed_id} is {status.processing_status} for {age}",
                            body=f"{len(feed.updates)} SKUs wait for it; their quantities are not "
                            "changed on Amazon meanwhile. Check the feed in Seller Central.",
                            key=f"feed-stuck:{feed.feed_id}",
                            subject=feed.feed_id,
                        )
                    )
            return
        report.finished += 1
        if status.processing_status != "DONE":
            skus = [sku for sku, _, _ in feed.updates]
            store.finish_feed(self.engine, feed.feed_id, status.processing_status, 0, skus)
            report.failed += len(skus)
            open_incident(
                self.engine,
                Incident(
                    key=f"inventory:feed:{feed.feed_id}",
                    category=INCIDENT_CATEGORY,
                    reason_code=f"FEED_{status.processing_status}",
                    message=f"Amazon ended quantity feed {feed.feed_id} as {status.processing_status}: "
                    f"the quantities of {len(skus)} SKUs were not taken; "
                    "the next reconciliation sends them again",
                    subject=feed.feed_id,
                    payload={"feed": status.model_dump(mode="json"), "updates": feed.updates[:1000]},
                    actions=("discard",),
                ),
            )
            return
        updates = [QuantityUpdate(sku, quantity, "") for sku, quantity, _ in feed.updates]
        results = quantity_results(await self.feeds.processing_report(status), updates)
        failed = [r for r in results if not r.accepted]
        versions = {sku: (quantity, version) for sku, quantity, version in feed.updates}
        for result in failed:
            quantity, version = versions[result.sku]
            self._incident(
                Target(result.sku, "", quantity, version),
                "FEED_MESSAGE_REJECTED",
                f"Amazon refused quantity {quantity} for SKU {result.sku} in feed {feed.feed_id}: "
                + "; ".join(i.message for i in result.issues)[:500],
                {"feed_id": feed.feed_id, "issues": [i.model_dump(mode="json") for i in result.issues]},
            )
        store.finish_feed(
            self.engine, feed.feed_id, "DONE", len(results) - len(failed), [r.sku for r in failed]
        )
        report.accepted += len(results) - len(failed)
        report.failed += len(failed)

    # -- incidents ------------------------------------------------------------------------------

    def _incident(self, target: Target, reason: str, message: str, payload: Any) -> None:
        open_incident(
            self.engine,
            Incident(
                key=f"inventory:{target.sku}:{reason}",
                category=INCIDENT_CATEGORY,
                reason_code=reason,
                message=message,
                subject=target.sku,
                payload={
                    "sku": target.sku,
                    "item_number": target.item_number,
                    "quantity": target.quantity,
                    "version": target.version,
                    "marketplaces": self.marketplaces,
                    "amazon": payload,
                },
                actions=("discard",),
            ),
        )
