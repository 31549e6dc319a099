"""What an operator can do about incidents: retry, retry a whole category, discard, accept a SKU suggestion.

One service layer for both entry points: the CLI (`m3amazon incidents ...`, a separate process)
and the admin API (inside a worker). They differ only in what they inject into `OperatorActions`:
how a retry is enqueued (`flows.dispatch.retry_order` in a worker, `DBOSClient` in the CLI), how to
reach M3, and what to do after the local mapping file changed.

Retrying, decided: a retried incident becomes `retrying` (marked *before* the run is enqueued, so
a fast run can never be overtaken by the mark). The run then settles it: when the order succeeds,
`record_outcome` resolves the order's open and retrying incidents; when it ends in an incident
again, `open_incident` puts the order's retrying incidents back to `open` (ops/incidents.py). An
operator therefore sees at a glance what is waiting for a run and what is waiting for them. If the
enqueue itself fails, the mark is undone and the action fails.

A retry reconciles the whole order (`amazon_order_changed`: read it from Amazon, look up, create
or find by CUOR, deliver, cancel), so it is offered for incidents of the order flow only; incidents
raised while handling an M3 shipment or invoice (their payload has no `event`) are not repeated by
it and cannot be retried from here.

Every action writes one audit entry (ops/audit.py) per incident it changed, in the transaction of
the change, with the incident's state before and after; retries, discards and accepted
suggestions also appear on the order's timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import AliasConflict, MIError
from m3amazon.m3.lifecycle import ensure_alias
from m3amazon.m3.orders import get_item
from m3amazon.mapping import Mappings
from m3amazon.ops import audit, trail, views
from m3amazon.ops import incidents as store
from m3amazon.ops.db import incidents as incidents_table
from m3amazon.ops.mapping_file import MappingFileError, set_sku_item

log = logging.getLogger(__name__)

#: Enqueue a new reconciliation of an Amazon order: (amazon_order_id, reason) -> workflow id.
Enqueue = Callable[[str, str], Awaitable[str]]
#: An M3 client for the duration of one action (the worker's own, or one the CLI opens and closes).
M3Connection = Callable[[], contextlib.AbstractAsyncContextManager[MIClient]]
Target = Literal["alias", "local"]
#: Where an accepted suggestion goes: an MMS025MI alias in M3, or the local mapping file.
TARGETS: tuple[Target, ...] = ("alias", "local")
SKU_CATEGORY = "sku_unknown"
#: The longest item number M3 takes (MMS200MI ITNO).
ITNO_LENGTH = 15
#: Most incidents one bulk retry takes in one go.
BULK_LIMIT = 10_000


class ActionError(Exception):
    """An action cannot be done; `kind` says why (the API's status code, the CLI's wording)."""

    def __init__(self, kind: Literal["not_found", "conflict", "invalid", "unavailable"], message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Retried:
    incident_id: int
    amazon_order_id: str
    workflow_id: str


@dataclass(frozen=True)
class Skipped:
    incident_id: int
    reason: str


@dataclass
class ActionResult:
    action: str
    #: The incident acted on, as it is after the action (None for bulk actions).
    incident: dict[str, Any] | None = None
    retried: list[Retried] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: Sentences for the operator (e.g. what a local mapping change means for running workers).
    notes: list[str] = field(default_factory=list)
    audit_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the CLI's --json and the API's answer have this shape)."""
        return {
            "action": self.action,
            "incident": self.incident,
            "retried": [vars(r) for r in self.retried],
            "skipped": [vars(s) for s in self.skipped],
            "notes": self.notes,
            "audit_ids": self.audit_ids,
        }


def snapshot(row: dict[str, Any]) -> dict[str, Any]:
    """The incident's state for the audit log (no payload)."""
    return {
        name: row.get(name)
        for name in ("id", "key", "category", "reason_code", "subject", "status", "resolution", "occurrences")
    }


@dataclass
class OperatorActions:
    """The operators' actions, wired for the process they run in (a worker's web surface, the CLI)."""

    engine: Engine
    enqueue: Enqueue
    #: The mapping tables in force (alias category and qualifier of accepted SKUs).
    mappings: Callable[[], Mappings]
    #: settings.mapping_file: the file `accept --local` writes (None: only the shipped defaults).
    mapping_file: Path | None = None
    m3: M3Connection | None = None
    #: Called after the mapping file was written (a worker reloads its tables); None in the CLI.
    on_mapping_written: Callable[[Path], None] | None = None

    # -- retry ---------------------------------------------------------------------------------

    async def retry_incident(
        self, incident_id: int, actor: str, *, reason: str | None = None
    ) -> ActionResult:
        """Reconcile the incident's order again now (the operator fixed its cause, or M3 is back)."""
        retried = await self._retry(incident_id, actor, "retry", reason)
        result = ActionResult("retry", retried=[retried[0]], audit_ids=[retried[1]])
        result.incident = await asyncio.to_thread(self._snapshot_of, incident_id)
        return result

    async def retry_category(self, category: str, actor: str) -> ActionResult:
        """Retry every open incident of a category (e.g. all `m3_unavailable` after an M3 outage)."""
        rows = await asyncio.to_thread(
            store.list_incidents, self.engine, status="open", category=category, limit=BULK_LIMIT
        )
        result = ActionResult("retry_category")
        ids = sorted(row["id"] for row in rows)
        await self._retry_each(ids, actor, "retry_category", f"bulk retry of category {category}", result)
        if len(rows) == BULK_LIMIT:
            result.notes.append(f"only the first {BULK_LIMIT} incidents were retried; run it again")
        return result

    async def _retry_each(
        self, incident_ids: list[int], actor: str, action: str, reason: str, result: ActionResult
    ) -> None:
        """Retry each incident into `result`; those a retry cannot help are skipped, not fatal."""
        for incident_id in incident_ids:
            try:
                retried, audit_id = await self._retry(incident_id, actor, action, reason)
            except ActionError as exc:
                if exc.kind == "unavailable":
                    raise
                result.skipped.append(Skipped(incident_id, exc.message))
                continue
            result.retried.append(retried)
            result.audit_ids.append(audit_id)

    async def _retry(
        self, incident_id: int, actor: str, action: str, reason: str | None
    ) -> tuple[Retried, int]:
        actor = _actor(actor)
        before, order_id = await asyncio.to_thread(self._mark_retrying, incident_id, actor)
        why = reason or f"incident {incident_id} retried by {actor}"
        try:
            workflow_id = await self.enqueue(order_id, why)
        except Exception as exc:
            await asyncio.to_thread(self._unmark, incident_id, before)
            log.warning("retry of incident %s could not be enqueued: %s", incident_id, exc)
            raise ActionError("unavailable", f"the retry could not be queued: {exc}") from exc
        audit_id = await asyncio.to_thread(
            self._retried, incident_id, actor, action, reason, before, order_id, workflow_id
        )
        log.info("incident %s: order %s retried by %s as %s", incident_id, order_id, actor, workflow_id)
        return Retried(incident_id, order_id, workflow_id), audit_id

    def _mark_retrying(self, incident_id: int, actor: str) -> tuple[dict[str, Any], str]:
        with self.engine.begin() as conn:
            row = self._row(conn, incident_id)
            order_id = retry_target(row)
            _move(conn, row, "retrying", f"retry requested by {actor}")
        return snapshot(row), order_id

    def _unmark(self, incident_id: int, before: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            store.transition(
                conn,
                incident_id,
                from_statuses=("retrying",),
                to=before["status"],
                resolution=before["resolution"],
            )

    def _retried(
        self,
        incident_id: int,
        actor: str,
        action: str,
        reason: str | None,
        before: dict[str, Any],
        order_id: str,
        workflow_id: str,
    ) -> int:
        with self.engine.begin() as conn:
            # Only while still retrying: the run may have resolved it already.
            conn.execute(
                incidents_table.update()
                .where(incidents_table.c.id == incident_id, incidents_table.c.status == "retrying")
                .values(resolution=f"retrying as {workflow_id} (requested by {actor})")
            )
            after = {**snapshot(self._row(conn, incident_id)), "workflow_id": workflow_id}
            audit_id = audit.record(
                conn,
                actor=actor,
                action=action,
                subject=f"incident:{incident_id}",
                before=before,
                after=after,
                reason=reason,
            )
        trail.add_event(
            self.engine,
            order_id,
            "retry",
            f"retry of incident {incident_id} by {actor}" + (f": {reason}" if reason else ""),
            key=f"retry:{workflow_id}",
            workflow_id=workflow_id,
        )
        return audit_id

    # -- discard -------------------------------------------------------------------------------

    async def discard_incident(self, incident_id: int, actor: str, reason: str) -> ActionResult:
        """Give up on an incident, saying why (the reason is required and audited)."""
        actor = _actor(actor)
        reason = (reason or "").strip()
        if not reason:
            raise ActionError("invalid", "a discard needs a reason: say why this incident needs no action")
        row, audit_id = await asyncio.to_thread(self._discard, incident_id, actor, reason)
        if row["subject"] and str(row["key"]).startswith("order:"):
            await asyncio.to_thread(
                trail.add_event,
                self.engine,
                row["subject"],
                "discarded",
                f"incident {incident_id} ({row['category']}) discarded by {actor}: {reason}",
                key=f"discarded:{incident_id}",
            )
        return ActionResult("discard", incident=snapshot(row), audit_ids=[audit_id])

    def _discard(self, incident_id: int, actor: str, reason: str) -> tuple[dict[str, Any], int]:
        with self.engine.begin() as conn:
            row = self._row(conn, incident_id)
            _move(conn, row, "discarded", f"discarded by {actor}: {reason}")
            after = self._row(conn, incident_id)
            audit_id = audit.record(
                conn,
                actor=actor,
                action="discard",
                subject=f"incident:{incident_id}",
                before=snapshot(row),
                after=snapshot(after),
                reason=reason,
            )
        return after, audit_id

    # -- accept a SKU suggestion ----------------------------------------------------------------

    async def accept_suggestion(
        self,
        incident_id: int,
        actor: str,
        item_number: str,
        target: Target = "alias",
        *,
        sku: str | None = None,
    ) -> ActionResult:
        """Map the incident's unknown SKU to `item_number`, then retry every order waiting on that SKU.

        `alias` (default): an MMS025MI alias in M3 (category and qualifier of the mapping tables),
        which every worker sees at once. `local`: an entry in the mapping file's
        `items.sku_to_item`, which a worker sees after it reloads its tables.
        """
        actor = _actor(actor)
        if target not in TARGETS:
            raise ActionError("invalid", f"target must be one of {', '.join(TARGETS)}, not {target!r}")
        item_number = (item_number or "").strip()
        if not 0 < len(item_number) <= ITNO_LENGTH:
            raise ActionError("invalid", f"an M3 item number has 1 to {ITNO_LENGTH} characters")
        row = await asyncio.to_thread(self._get, incident_id)
        if row["category"] != SKU_CATEGORY:
            raise ActionError(
                "conflict", f"incident {incident_id} is about {row['category']}, not an unknown SKU"
            )
        if row["status"] not in store.ACTIVE:
            raise ActionError("conflict", f"incident {incident_id} is {row['status']}: nothing to accept")
        sku = _chosen_sku(row, item_number, sku)
        before = snapshot(row)
        notes: list[str] = []
        mapping_before, mapping_after = await self._write_mapping(sku, item_number, target, notes)

        result = ActionResult("accept_suggestion", notes=notes)
        try:
            waiting = await asyncio.to_thread(self._waiting_on, sku)
            why = f"SKU {sku} mapped to M3 item {item_number} (accepted on incident {incident_id})"
            await self._retry_each([r["id"] for r in waiting], actor, "retry", why, result)
        finally:  # the mapping is written: its entry must be in the audit log whatever happens next
            audit_id, after = await asyncio.to_thread(
                self._accepted,
                incident_id,
                actor,
                before,
                sku,
                item_number,
                target,
                mapping_before,
                mapping_after,
            )
            result.audit_ids.insert(0, audit_id)
            result.incident = after
        return result

    async def _write_mapping(
        self, sku: str, item_number: str, target: Target, notes: list[str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Write the mapping; returns what it was and what it is (for the audit log)."""
        items = self.mappings().items
        if target == "local" and self.mapping_file is None:
            raise ActionError(
                "invalid",
                "there is no local mapping file to write to: this installation uses the shipped "
                "defaults (settings.mapping_file is not set). Copy src/m3amazon/mapping/defaults.yaml, "
                "point mapping_file at the copy and restart the workers, or accept into M3 (an "
                "MMS025MI alias, the default target).",
            )
        if self.m3 is None:
            raise ActionError("unavailable", "no M3 connection is configured for this action")
        try:
            async with self.m3() as client:
                item = await get_item(client, item_number)
                if item is None:
                    raise ActionError("invalid", f"M3 has no item {item_number}")
                if item.get("STAT") not in (None, "", "20"):
                    notes.append(
                        f"M3 item {item_number} has status {item.get('STAT')}, not 20: the retried "
                        "orders will stop at ITEM_NOT_SELLABLE until it is released"
                    )
                if target == "alias":
                    qualifier = items.alias_qualifier
                    written = await ensure_alias(client, sku, item_number, items.alias_category, qualifier)
                    where = {"alias_category": items.alias_category, "alias_qualifier": qualifier}
                    return (
                        {"target": "alias", **where, "sku": sku},
                        {
                            "target": "alias",
                            **where,
                            "sku": sku,
                            "item_number": item_number,
                            "written": written,
                        },
                    )
        except AliasConflict as exc:
            raise ActionError("conflict", exc.message) from exc
        except MIError as exc:
            kind: Literal["unavailable", "invalid"] = "unavailable" if exc.transient else "invalid"
            raise ActionError(kind, f"M3 refused or could not be reached: {exc}") from exc
        assert self.mapping_file is not None
        try:
            previous = await asyncio.to_thread(set_sku_item, self.mapping_file, sku, item_number)
        except MappingFileError as exc:
            raise ActionError("invalid", str(exc)) from exc
        if self.on_mapping_written is not None:
            self.on_mapping_written(self.mapping_file)
            notes.append(f"{self.mapping_file} written and reloaded by this worker")
        else:
            notes.append(
                f"{self.mapping_file} written; workers read it when they start: restart workers "
                "started before this change, or the retried orders come back as sku_unknown"
            )
        file = str(self.mapping_file)
        return (
            {"target": "local", "file": file, "sku": sku, "item_number": previous},
            {"target": "local", "file": file, "sku": sku, "item_number": item_number},
        )

    def _accepted(
        self,
        incident_id: int,
        actor: str,
        before: dict[str, Any],
        sku: str,
        item_number: str,
        target: str,
        mapping_before: dict[str, Any],
        mapping_after: dict[str, Any],
    ) -> tuple[int, dict[str, Any]]:
        with self.engine.begin() as conn:
            after = snapshot(self._row(conn, incident_id))
            audit_id = audit.record(
                conn,
                actor=actor,
                action="accept_suggestion",
                subject=f"incident:{incident_id}",
                before={**before, "mapping": mapping_before},
                after={**after, "mapping": mapping_after},
                reason=f"SKU {sku} is M3 item {item_number} ({target})",
            )
        if before["subject"]:
            where = "an MMS025MI alias" if target == "alias" else "the local mapping file"
            trail.add_event(
                self.engine,
                before["subject"],
                "mapping",
                f"SKU {sku} mapped to M3 item {item_number} in {where} by {actor}",
                key=f"mapping:{audit_id}",
            )
        return audit_id, after

    def _waiting_on(self, sku: str) -> list[dict[str, Any]]:
        """The active sku_unknown incidents whose payload names `sku` as an unknown SKU."""
        needle = f"%{_like_escape(json.dumps(sku, ensure_ascii=False)[1:-1])}%"  # as stored
        query = (
            sa.select(incidents_table)
            .where(
                incidents_table.c.category == SKU_CATEGORY,
                incidents_table.c.status.in_(store.ACTIVE),
                incidents_table.c.payload.like(needle, escape="\\"),
            )
            .order_by(incidents_table.c.id)
        )
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        return [r for r in rows if sku in _unknown_skus(r)]

    # -- helpers ---------------------------------------------------------------------------------

    def _get(self, incident_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return self._row(conn, incident_id)

    def _snapshot_of(self, incident_id: int) -> dict[str, Any]:
        return snapshot(self._get(incident_id))

    @staticmethod
    def _row(conn: Connection, incident_id: int) -> dict[str, Any]:
        row = conn.execute(sa.select(incidents_table).where(incidents_table.c.id == incident_id)).first()
        if row is None:
            raise ActionError("not_found", f"there is no incident {incident_id}")
        return dict(row._mapping)


def _move(conn: Connection, row: dict[str, Any], to: str, resolution: str) -> None:
    """An active incident to `to`; a conflict if it is not active (any more: its run resolved it, or
    another operator acted on it since it was read)."""
    if row["status"] not in store.ACTIVE:
        raise ActionError("conflict", f"incident {row['id']} is {row['status']}: nothing to do")
    if not store.transition(conn, row["id"], from_statuses=store.ACTIVE, to=to, resolution=resolution):
        raise ActionError("conflict", f"incident {row['id']} changed meanwhile: look again")


def retry_target(row: dict[str, Any]) -> str:
    """The Amazon order a retry of this incident reconciles, or ActionError if a retry cannot help."""
    if not str(row["key"]).startswith("order:") or not row.get("subject"):
        raise ActionError(
            "conflict",
            f"incident {row['id']} ({row['category']}) is not about an order: a retry cannot repeat it; "
            "fix its cause and discard it with a reason",
        )
    payload = views.parse_payload(row.get("payload"))
    if isinstance(payload, dict) and "event" in payload and payload["event"] is None:
        raise ActionError(
            "conflict",
            f"incident {row['id']} was raised while handling an M3 shipment or invoice, which an order "
            "retry does not repeat; set it right in M3 or on Amazon, then discard it with a reason",
        )
    return str(row["subject"])


def _unknown_skus(row: dict[str, Any]) -> list[str]:
    return [
        str(p["sku"]) for p in views.problems(row) if p.get("reason_code") == "UNKNOWN_SKU" and p.get("sku")
    ]


def _chosen_sku(row: dict[str, Any], item_number: str, sku: str | None) -> str:
    """Which unknown SKU of the incident the operator maps (an incident can name several)."""
    unknown = _unknown_skus(row)
    if not unknown:
        raise ActionError("conflict", f"incident {row['id']} names no unknown SKU (its payload has none)")
    if sku is not None:
        if sku not in unknown:
            raise ActionError(
                "invalid", f"SKU {sku} is not unknown in incident {row['id']}: {', '.join(unknown)}"
            )
        return sku
    if len(unknown) == 1:
        return unknown[0]
    suggested = [
        p["sku"]
        for p in views.problems(row)
        if p.get("reason_code") == "UNKNOWN_SKU"
        and any(
            isinstance(s, dict) and s.get("item_number") == item_number for s in p.get("suggestions") or []
        )
    ]
    if len(suggested) == 1:
        return str(suggested[0])
    raise ActionError(
        "invalid",
        f"incident {row['id']} has several unknown SKUs ({', '.join(unknown)}): say which one to map",
    )


def _actor(actor: str) -> str:
    actor = (actor or "").strip()
    if not actor:
        raise ActionError("invalid", "an action needs an actor (who is doing it)")
    return actor[: audit.MAX_ACTOR]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@contextlib.asynccontextmanager
async def shared_client(client: MIClient) -> AsyncIterator[MIClient]:
    """A worker's own M3 client, lent to one action (not closed afterwards)."""
    yield client
