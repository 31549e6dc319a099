"""Worker identity, heartbeats and the take-over of dead workers' unfinished workflows.

Every worker runs under a stable `engine.executor_id`. DBOS marks the workflows a worker runs with
that id; when the worker dies they stay PENDING under it, and only a process with the same id
resumes them at its start. A worker that never comes back (its host is gone) would leave them
PENDING for ever. So every worker records a heartbeat in `m3a_workers` every
`engine.heartbeat_interval_s`, and each one, at every beat, looks for workers whose heartbeat is
older than `engine.heartbeat_timeout_s`:

1. It *claims* the dead worker's row in one conditional UPDATE (status -> "recovering", with a
   lease): of several live workers exactly one gets the row; a claimer that dies itself loses the
   claim when the lease ends, and another one claims it.
2. It hands the dead worker's PENDING workflows back to their queues (DBOS's recovery,
   `DBOS._recover_pending_workflows`, which re-enqueues them; the queue's atomic dequeue then
   admits exactly one runner), and any live worker picks them up.
3. It marks the row "taken_over" with the count. If the dead worker starts again later, it just
   beats again ("running"); what it had was already handed over.

`m3amazon workers list | recover ID` (cli_workers.py) does the same by hand, through DBOS's client.
Heartbeats use the workers' clocks (UTC): hosts must keep time (NTP), and the timeout must be far
above the interval (defaults 5 s and 60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

import m3amazon
from m3amazon.ops.db import workers

log = logging.getLogger(__name__)

RUNNING, STOPPED, RECOVERING, TAKEN_OVER = "running", "stopped", "recovering", "taken_over"

#: Hands one executor's PENDING workflows back to the queues; returns how many.
Recover = Callable[[str], int]


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; every time here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def beat(engine: Engine, executor_id: str, *, starting: bool = False) -> None:
    """Record that this worker is alive (at its start: also where it runs)."""
    now = _now()
    place = {"host": socket.gethostname(), "pid": os.getpid(), "version": m3amazon.__version__}
    values: dict[str, Any] = {"heartbeat_at": now, "status": RUNNING}
    if starting:
        values |= place | {"started_at": now}
    with engine.begin() as conn:
        updated = conn.execute(
            workers.update().where(workers.c.executor_id == executor_id).values(**values)
        ).rowcount
        if not updated:
            conn.execute(
                workers.insert().values(
                    executor_id=executor_id, recovered=0, **(place | {"started_at": now} | values)
                )
            )


def mark_stopped(engine: Engine, executor_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            workers.update()
            .where(workers.c.executor_id == executor_id, workers.c.status == RUNNING)
            .values(status=STOPPED, heartbeat_at=_now())
        )


def dead_workers(engine: Engine, timeout_s: float, *, exclude: str | None = None) -> list[str]:
    """Workers whose heartbeat is older than `timeout_s` and whose work was not taken over yet."""
    now = _now()
    cutoff = now - timedelta(seconds=timeout_s)
    query = sa.select(workers.c.executor_id).where(
        workers.c.heartbeat_at < cutoff,
        sa.or_(
            workers.c.status.in_((RUNNING, STOPPED)),
            sa.and_(workers.c.status == RECOVERING, workers.c.lease_until < now),
        ),
    )
    if exclude is not None:
        query = query.where(workers.c.executor_id != exclude)
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(query.order_by(workers.c.executor_id))]


def claim(
    engine: Engine, dead_id: str, claimer: str, timeout_s: float, lease_s: float, *, again: bool = False
) -> bool:
    """Claim the dead worker's take-over; True for exactly one of several concurrent claimers.

    `again`: a worker already taken over may be claimed once more (an operator's `workers recover`).
    """
    now = _now()
    cutoff = now - timedelta(seconds=timeout_s)
    claimable = (RUNNING, STOPPED, TAKEN_OVER) if again else (RUNNING, STOPPED)
    with engine.begin() as conn:
        claimed = conn.execute(
            workers.update()
            .where(
                workers.c.executor_id == dead_id,
                workers.c.heartbeat_at <= cutoff,
                sa.or_(
                    workers.c.status.in_(claimable),
                    sa.and_(workers.c.status == RECOVERING, workers.c.lease_until < now),
                ),
            )
            .values(
                status=RECOVERING,
                taken_over_by=claimer,
                taken_over_at=now,
                lease_until=now + timedelta(seconds=lease_s),
            )
        ).rowcount
    return bool(claimed)


def finish(engine: Engine, dead_id: str, claimer: str, recovered: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            workers.update()
            .where(
                workers.c.executor_id == dead_id,
                workers.c.status == RECOVERING,
                workers.c.taken_over_by == claimer,
            )
            .values(status=TAKEN_OVER, recovered=workers.c.recovered + recovered, lease_until=None)
        )


def release(engine: Engine, dead_id: str, claimer: str) -> None:
    """Give a claim back (the recovery failed): the next beat of any worker tries again."""
    with engine.begin() as conn:
        conn.execute(
            workers.update()
            .where(workers.c.executor_id == dead_id, workers.c.taken_over_by == claimer)
            .values(lease_until=_now())
        )


def take_over(
    engine: Engine,
    dead_id: str,
    claimer: str,
    recover: Recover,
    *,
    timeout_s: float,
    lease_s: float,
    again: bool = False,
) -> int | None:
    """Claim and recover one dead worker: the number of workflows handed over, None if not claimed."""
    if dead_id == claimer or not claim(engine, dead_id, claimer, timeout_s, lease_s, again=again):
        return None
    try:
        count = recover(dead_id)
    except Exception:
        release(engine, dead_id, claimer)
        raise
    finish(engine, dead_id, claimer, count)
    return count


@dataclass(frozen=True)
class WorkerView:
    executor_id: str
    host: str | None
    pid: int | None
    status: str
    heartbeat_age_s: float
    alive: bool
    pending: int
    taken_over_by: str | None
    recovered: int

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "heartbeat_age_s": round(self.heartbeat_age_s, 1)}


def engine_tables_exist(engine: Engine) -> bool:
    """Whether DBOS's tables are in this database (a worker started here at least once)."""
    schema = "dbos" if engine.dialect.name == "postgresql" else None
    return sa.inspect(engine).has_table("workflow_status", schema=schema)


def pending_by_executor(engine: Engine) -> dict[str, int]:
    """PENDING workflows per executor id, from DBOS's own table (same database)."""
    table = "dbos.workflow_status" if engine.dialect.name == "postgresql" else "workflow_status"
    query = sa.text(
        f"SELECT executor_id, count(*) FROM {table} WHERE status = 'PENDING' GROUP BY executor_id"
    )
    if not engine_tables_exist(engine):  # no worker ever started here
        return {}
    with engine.connect() as conn:
        return {str(e): int(n) for e, n in conn.execute(query)}


def listing(engine: Engine, timeout_s: float) -> list[WorkerView]:
    """Every worker that ever beat, with its PENDING workflows; executors with PENDING workflows
    that never beat (e.g. from before heartbeats existed) are listed too."""
    now = _now()
    pending = pending_by_executor(engine)
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(workers).order_by(workers.c.executor_id)))
    views = []
    for row in rows:
        age = (now - _aware(row.heartbeat_at)).total_seconds()
        views.append(
            WorkerView(
                row.executor_id,
                row.host,
                row.pid,
                row.status,
                age,
                row.status == RUNNING and age <= timeout_s,
                pending.pop(row.executor_id, 0),
                row.taken_over_by,
                int(row.recovered or 0),
            )
        )
    for executor_id, count in sorted(pending.items()):
        views.append(WorkerView(executor_id, None, None, "unknown", float("inf"), False, count, None, 0))
    return views


class WorkerHeartbeat:
    """The running worker's beat, and its watch over the others (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        executor_id: str,
        recover: Recover,
        *,
        interval_s: float,
        timeout_s: float,
        takeover: bool = True,
    ) -> None:
        self.engine = engine
        self.executor_id = executor_id
        self.recover = recover
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.takeover = takeover
        #: a claim lasts long enough for a recovery, and ends before the next timeout
        self.lease_s = max(timeout_s, 30.0)

    def tick(self, *, starting: bool = False) -> dict[str, int]:
        """One beat and, when enabled, one look for dead workers: {dead executor: workflows taken}."""
        beat(self.engine, self.executor_id, starting=starting)
        taken: dict[str, int] = {}
        if not self.takeover:
            return taken
        for dead_id in dead_workers(self.engine, self.timeout_s, exclude=self.executor_id):
            count = take_over(
                self.engine,
                dead_id,
                self.executor_id,
                self.recover,
                timeout_s=self.timeout_s,
                lease_s=self.lease_s,
            )
            if count is not None:
                log.warning(
                    "worker %s took over %d unfinished workflow(s) of worker %s (no heartbeat for %.0f s)",
                    self.executor_id,
                    count,
                    dead_id,
                    self.timeout_s,
                )
                taken[dead_id] = count
        return taken

    async def run(self, stop: asyncio.Event) -> None:
        starting = True
        try:
            while not stop.is_set():
                try:
                    await asyncio.to_thread(self.tick, starting=starting)
                    starting = False
                except Exception:  # a database hiccup must not end the beat
                    log.exception("worker heartbeat failed; trying again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval_s)
        finally:
            try:
                await asyncio.to_thread(mark_stopped, self.engine, self.executor_id)
            except Exception:
                log.warning("could not record the worker's stop", exc_info=True)


def dbos_recover(executor_id: str) -> int:
    """Hand one executor's PENDING workflows back to the queues, from inside a running worker."""
    from dbos import DBOS

    return len(DBOS._recover_pending_workflows([executor_id]))


def client_recover(sys_db: Any, app_version: str) -> Recover:
    """The same through a `DBOSClient`'s system database (the CLI runs no worker)."""
    from dbos._utils import INTERNAL_QUEUE_NAME

    def recover(executor_id: str) -> int:
        count = 0
        for pending in sys_db.get_pending_workflows(executor_id, app_version):
            if sys_db.reenqueue_for_recovery(pending.workflow_id, [executor_id], INTERNAL_QUEUE_NAME):
                count += 1
        return count

    return recover
