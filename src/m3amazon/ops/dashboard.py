"""What the console's dashboard and /metrics read from the database: throughput, backlog, incidents.

Plain queries over the product's tables and the engine's (DBOS `workflow_status`), so a dashboard
costs a handful of indexed reads. Timestamps are bucketed in Python: the same code serves SQLite
and PostgreSQL, and a day of orders is small.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m3amazon.ops import db

#: Age buckets of active incidents (upper bound in hours, label).
AGE_BUCKETS: tuple[tuple[float, str], ...] = (
    (1, "< 1 h"),
    (24, "1-24 h"),
    (24 * 7, "1-7 d"),
    (1e12, "> 7 d"),
)
#: DBOS workflow statuses that are still to run or running.
BACKLOG_STATUSES = ("ENQUEUED", "PENDING")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _hour(value: datetime) -> datetime:
    return _aware(value).astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Series:
    """Counts per hour, oldest first, every hour present (zeros included)."""

    hours: list[datetime]
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


def _per_hour(stamps: list[datetime], hours: int, now: datetime) -> Series:
    last = _hour(now)
    slots = [last - timedelta(hours=h) for h in range(hours - 1, -1, -1)]
    seen = Counter(_hour(s) for s in stamps)
    return Series(slots, [seen.get(slot, 0) for slot in slots])


def _created_per_hour(engine: Engine, table: sa.Table, hours: int, now: datetime | None) -> Series:
    now = now or datetime.now(UTC)
    since = _hour(now) - timedelta(hours=hours - 1)
    with engine.connect() as conn:
        stamps = list(
            conn.execute(sa.select(table.c.created_at).where(table.c.created_at >= since)).scalars()
        )
    return _per_hour(stamps, hours, now)


def orders_per_hour(engine: Engine, hours: int = 24, now: datetime | None = None) -> Series:
    """Amazon orders first seen per hour (the order trail's created_at)."""
    return _created_per_hour(engine, db.order_trail, hours, now)


def incidents_per_hour(engine: Engine, hours: int = 24, now: datetime | None = None) -> Series:
    """Incidents opened per hour."""
    return _created_per_hour(engine, db.incidents, hours, now)


def incidents_by_age(engine: Engine, now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Active (open or retrying) incidents per category, then per age bucket."""
    now = now or datetime.now(UTC)
    table = db.incidents
    query = sa.select(table.c.category, table.c.created_at).where(table.c.status.in_(("open", "retrying")))
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for category, created in conn.execute(query):
            age_h = (now - _aware(created)).total_seconds() / 3600
            label = next(label for bound, label in AGE_BUCKETS if age_h < bound)
            row = out.setdefault(category, {label: 0 for _, label in AGE_BUCKETS})
            row[label] += 1
    return dict(sorted(out.items()))


def backlog_per_queue(engine: Engine) -> dict[str, dict[str, int]]:
    """Workflows waiting (ENQUEUED) or running (PENDING) per DBOS queue ("" for unqueued ones)."""
    table = "dbos.workflow_status" if engine.dialect.name == "postgresql" else "workflow_status"
    query = sa.text(
        f"SELECT COALESCE(queue_name, ''), status, COUNT(*) FROM {table} "
        "WHERE status IN ('ENQUEUED', 'PENDING') GROUP BY 1, 2"
    )
    out: dict[str, dict[str, int]] = {}
    try:
        with engine.connect() as conn:
            for queue, status, count in conn.execute(query):
                out.setdefault(queue, dict.fromkeys(BACKLOG_STATUSES, 0))[status] = int(count)
    except sa.exc.DBAPIError:  # the engine has not created its tables yet (no workflow ever ran)
        return {}
    return dict(sorted(out.items()))


def last_times(engine: Engine) -> dict[str, datetime | None]:
    """When the last notification was taken from SQS and the last catch-up poll finished."""
    with engine.connect() as conn:
        notification = conn.execute(sa.select(sa.func.max(db.intake_log.c.received_at))).scalar()
        poll = conn.execute(sa.select(sa.func.max(db.poll_cursors.c.last_finished_at))).scalar()
        bod = conn.execute(sa.select(sa.func.max(db.bod_inbox.c.received_at))).scalar()
    return {
        "notification": _aware(notification) if notification else None,
        "poll": _aware(poll) if poll else None,
        "bod": _aware(bod) if bod else None,
    }


def open_incident_counts(engine: Engine) -> dict[str, int]:
    """Active incidents per category (for the metrics gauge)."""
    table = db.incidents
    query = (
        sa.select(table.c.category, sa.func.count())
        .where(table.c.status.in_(("open", "retrying")))
        .group_by(table.c.category)
    )
    with engine.connect() as conn:
        return {str(c): int(n) for c, n in conn.execute(query)}


# -- orders search -----------------------------------------------------------------------------


def search_orders(
    engine: Engine,
    *,
    text: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Orders by Amazon or M3 order number, SKU (in the timeline or an incident), date and outcome."""
    trail = db.order_trail
    query = sa.select(trail).order_by(trail.c.updated_at.desc()).limit(limit)
    if status:
        query = query.where(trail.c.outcome == status)
    if since:
        query = query.where(trail.c.created_at >= since)
    if until:
        query = query.where(trail.c.created_at < until)
    needle = (text or "").strip()
    if needle:
        like = f"%{_like_escape(needle)}%"
        by_sku = (
            sa.select(db.incidents.c.subject)
            .where(db.incidents.c.payload.like(like, escape="\\"), db.incidents.c.subject.is_not(None))
            .union(
                sa.select(db.order_events.c.amazon_order_id).where(
                    sa.or_(
                        db.order_events.c.summary.like(like, escape="\\"),
                        db.order_events.c.detail.like(like, escape="\\"),
                    )
                )
            )
        )
        query = query.where(
            sa.or_(
                trail.c.amazon_order_id.like(like, escape="\\"),
                trail.c.m3_order_number.like(like, escape="\\"),
                trail.c.amazon_order_id.in_(by_sku),
            )
        )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- inventory ----------------------------------------------------------------------------------

#: Incident categories of the inventory flows (flows/inventory_push.py, flows/fba_inventory.py).
INVENTORY_CATEGORIES = ("inventory", "inventory_fba")


def inventory_view(engine: Engine) -> dict[str, Any]:
    """Last syncs (quantities sent per channel, the flows' cursors), feeds in flight, SKUs with failures."""
    from m3amazon.ops import inventory_store

    pushed = db.inventory_pushed
    with engine.connect() as conn:
        last_pushed = [
            {"channel": channel or "-", "skus": int(count), "last": _aware(last) if last else None}
            for channel, count, last in conn.execute(
                sa.select(pushed.c.channel, sa.func.count(), sa.func.max(pushed.c.pushed_at)).group_by(
                    pushed.c.channel
                )
            )
        ]
        cursors = [
            dict(r._mapping)
            for r in conn.execute(sa.select(db.poll_cursors).order_by(db.poll_cursors.c.name))
        ]
        failing = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(db.incidents)
                .where(
                    db.incidents.c.category.in_(INVENTORY_CATEGORIES),
                    db.incidents.c.status.in_(("open", "retrying")),
                )
                .order_by(db.incidents.c.id.desc())
                .limit(500)
            )
        ]
    return {
        "last_pushed": last_pushed,
        "cursors": cursors,
        "feeds": inventory_store.open_feeds(engine),
        "feed_counts": inventory_store.feed_counts(engine),
        "failing": failing,
    }
