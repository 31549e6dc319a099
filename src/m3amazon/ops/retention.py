"""Retention of personal data: buyers' names, addresses, phones and emails go after N days.

Amazon's Data Protection Policy asks that buyer data be kept no longer than needed: at most 30
days after the order was delivered (`security.pii_retention_days`, default 30). The work on an
order ends after its delivery (the order workflow follows it through shipment to the invoice), so
the rule is applied to what is finished and older than the cut-off:

- **Checkpoints of the durable engine**: finished workflows (SUCCESS, ERROR, CANCELLED, ...)
  completed before the cut-off lose their inputs, outputs and step outputs (a fetched order with
  its buyer and address, an M3 order plan with the delivery address, a BOD). Their status rows
  stay: workflow id (the idempotency key: a late duplicate notification still finds its run),
  name, status, executor and times. A purged workflow can no longer be forked from a step.
- **The BOD inbox**: BODs handled before the cut-off keep their row (message id, BODID, noun,
  verb, deliveries, times) but not their XML (ship-to parties).
- **Incidents** that were resolved or discarded before the cut-off lose their original payload
  (open incidents keep it: someone still has to act on them).

The non-personal record stays whole: the order trail and timeline, the MCF trail, settlements,
inventory, the audit log. Running it twice purges nothing twice; `m3amazon pii purge --dry-run`
counts without changing anything. The service runs it every `security.pii_purge_interval_s`.

Also here: `rotate`, which re-encrypts everything stored under older PII keys with the first one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m3amazon.config import SecuritySettings
from m3amazon.ops.crypto import PREFIX, PiiCipher
from m3amazon.ops.db import bod_inbox, incidents
from m3amazon.ops.workers import engine_tables_exist

log = logging.getLogger(__name__)

#: What a purged text column holds instead of its value.
PURGED = "[personal data removed by the retention rule]"
#: DBOS statuses of workflows that will not run again.
FINISHED = ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
CLOSED_INCIDENTS = ("resolved", "discarded")


@dataclass(frozen=True)
class PurgeReport:
    cutoff: str
    dry_run: bool
    #: finished workflows whose checkpoints held data, and their step outputs removed
    workflows: int
    steps: int
    bods: int
    incidents: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _dbos(engine: Engine, table: str) -> str:
    """DBOS's tables: schema `dbos` on PostgreSQL, none on SQLite."""
    return f"dbos.{table}" if engine.dialect.name == "postgresql" else table


def _finished_before(engine: Engine, cutoff_ms: int) -> str:
    statuses = ", ".join(f"'{s}'" for s in FINISHED)
    return (
        f"SELECT workflow_uuid FROM {_dbos(engine, 'workflow_status')} "
        f"WHERE status IN ({statuses}) AND COALESCE(completed_at, updated_at) < :cutoff"
    )


def _purge_checkpoints(conn: sa.Connection, engine: Engine, cutoff_ms: int, dry_run: bool) -> tuple[int, int]:
    finished = _finished_before(engine, cutoff_ms)
    status, inputs = _dbos(engine, "workflow_status"), _dbos(engine, "workflow_input")
    outputs, steps = _dbos(engine, "workflow_output"), _dbos(engine, "operation_outputs")
    params = {"cutoff": cutoff_ms}
    step_filter = f"workflow_uuid IN ({finished}) AND output IS NOT NULL"
    workflow_filter = (
        f"workflow_uuid IN ({finished}) AND (inputs IS NOT NULL OR output IS NOT NULL "
        f"OR workflow_uuid IN (SELECT workflow_uuid FROM {inputs} WHERE inputs IS NOT NULL) "
        f"OR workflow_uuid IN (SELECT workflow_uuid FROM {outputs} WHERE output IS NOT NULL))"
    )
    count_steps = int(
        conn.execute(sa.text(f"SELECT count(*) FROM {steps} WHERE {step_filter}"), params).scalar_one()
    )
    count_workflows = int(
        conn.execute(sa.text(f"SELECT count(*) FROM {status} WHERE {workflow_filter}"), params).scalar_one()
    )
    if not dry_run:
        # NULL is what DBOS itself reads as "no value"; a finished workflow is never replayed.
        conn.execute(sa.text(f"UPDATE {steps} SET output = NULL WHERE {step_filter}"), params)
        conn.execute(
            sa.text(f"UPDATE {inputs} SET inputs = NULL WHERE workflow_uuid IN ({finished})"), params
        )
        conn.execute(
            sa.text(f"UPDATE {outputs} SET output = NULL WHERE workflow_uuid IN ({finished})"), params
        )
        conn.execute(
            sa.text(f"UPDATE {status} SET inputs = NULL, output = NULL WHERE workflow_uuid IN ({finished})"),
            params,
        )
    return count_workflows, count_steps


def purge(
    engine: Engine, retention_days: float, *, dry_run: bool = False, now: datetime | None = None
) -> PurgeReport:
    """Apply the retention rule (see the module docstring) as of `now`."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    cutoff_ms = int(cutoff.timestamp() * 1000)
    old_bods = sa.and_(
        bod_inbox.c.status == "enqueued", bod_inbox.c.received_at < cutoff, bod_inbox.c.payload != PURGED
    )
    old_incidents = sa.and_(
        incidents.c.status.in_(CLOSED_INCIDENTS),
        incidents.c.updated_at < cutoff,
        incidents.c.payload.is_not(None),
        incidents.c.payload != PURGED,
    )
    with engine.begin() as conn:
        workflows, steps = (
            _purge_checkpoints(conn, engine, cutoff_ms, dry_run) if engine_tables_exist(engine) else (0, 0)
        )
        bods = int(conn.execute(sa.select(sa.func.count()).where(old_bods)).scalar_one())
        closed = int(conn.execute(sa.select(sa.func.count()).where(old_incidents)).scalar_one())
        if not dry_run:
            conn.execute(bod_inbox.update().where(old_bods).values(payload=PURGED))
            conn.execute(incidents.update().where(old_incidents).values(payload=PURGED))
    report = PurgeReport(cutoff.isoformat(), dry_run, workflows, steps, bods, closed)
    if not dry_run and (workflows or bods or closed):
        log.info(
            "personal data older than %s days removed: %d workflow(s), %d step output(s), %d BOD(s), "
            "%d incident payload(s)",
            retention_days,
            workflows,
            steps,
            bods,
            closed,
        )
    return report


class RetentionJob:
    """The service's periodic purge (every worker runs it; a second run finds nothing to do)."""

    def __init__(self, engine: Engine, settings: SecuritySettings) -> None:
        self.engine = engine
        self.settings = settings

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(purge, self.engine, self.settings.pii_retention_days)
            except Exception:  # never let the purge end the service; the next round tries again
                log.exception("the personal-data retention purge failed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.pii_purge_interval_s)


# -- key rotation -------------------------------------------------------------------------


def _encrypted_columns(engine: Engine) -> Iterator[tuple[str, str]]:
    """(table, column) pairs that may hold values encrypted with the PII keys."""
    yield "m3a_bod_inbox", "payload"
    if engine_tables_exist(engine):
        for table, column in (
            ("operation_outputs", "output"),
            ("operation_outputs", "error"),
            ("workflow_input", "inputs"),
            ("workflow_output", "output"),
            ("workflow_output", "error"),
            ("workflow_status", "inputs"),
            ("workflow_status", "output"),
            ("workflow_status", "error"),
            ("workflow_events", "value"),
            ("workflow_events_history", "value"),
            ("streams", "value"),
            ("notifications", "message"),
        ):
            yield _dbos(engine, table), column


def rotate(engine: Engine, cipher: PiiCipher, *, batch: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted value with the cipher's first key: {"table.column": values}.

    Run it after putting the new key first (all old keys still listed); then the old keys can go.
    Values are matched by their old text, so a value changed meanwhile is simply left to the next run.
    """
    done: dict[str, int] = {}
    for table, column in _encrypted_columns(engine):
        select = sa.text(f"SELECT DISTINCT {column} FROM {table} WHERE {column} LIKE :prefix")
        update = sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old")
        with engine.connect() as conn:
            values = [row[0] for row in conn.execute(select, {"prefix": PREFIX + "%"})]
        for start in range(0, len(values), batch):
            with engine.begin() as conn:
                for old in values[start : start + batch]:
                    conn.execute(update, {"new": cipher.rotate(old), "old": old})
        done[f"{table}.{column}"] = len(values)
    return done
