"""The order trail: for each Amazon order, its last known outcome and the M3 order it became,
plus its timeline (every event received and everything done about it).

Written by the flows' steps (idempotent: an upsert for the outcome, a keyed insert per timeline
entry, so a re-run step changes nothing) and read by `m3amazon order show`, the admin API, the
console and the demo's progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m3amazon.ops.db import order_events, order_trail

TERMINAL_OUTCOMES = (
    "created",
    "existing",
    "delivered",
    "shipped",
    "invoiced",
    "cancelled",
    "ignored",
    "incident",
)


@dataclass(frozen=True)
class TrailEntry:
    amazon_order_id: str
    outcome: str
    marketplace_id: str | None = None
    channel: str | None = None
    amazon_status: str | None = None
    m3_customer: str | None = None
    m3_order_number: str | None = None
    workflow_id: str | None = None
    detail: str | None = None
    currency: str | None = None
    goods_total: str | None = None
    order_total: str | None = None


#: How far an order has come; a late or repeated run never moves the trail backwards.
_PROGRESS = {"existing": 1, "created": 1, "delivered": 2, "shipped": 2, "part_invoiced": 3, "invoiced": 4}


def record(engine: Engine, entry: TrailEntry) -> None:
    now = datetime.now(UTC)
    values = {k: v for k, v in entry.__dict__.items() if v is not None or k in _CLEARABLE}
    with engine.begin() as conn:
        current = conn.execute(
            sa.select(order_trail.c.outcome).where(order_trail.c.amazon_order_id == entry.amazon_order_id)
        ).scalar_one_or_none()
        if _PROGRESS.get(current or "", 0) > _PROGRESS.get(entry.outcome, 0) > 0:
            values["outcome"] = current  # e.g. a duplicate "existing" after "invoiced"
            values.pop("detail", None)
        updated = conn.execute(
            order_trail.update()
            .where(order_trail.c.amazon_order_id == entry.amazon_order_id)
            .values(**{k: v for k, v in values.items() if k != "amazon_order_id"}, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(order_trail.insert().values(**values, created_at=now, updated_at=now))


#: Fields an update may set back to empty (the others keep what an earlier step recorded).
_CLEARABLE = frozenset({"detail"})


def set_invoiced(engine: Engine, amazon_order_id: str, total: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            order_trail.update()
            .where(order_trail.c.amazon_order_id == amazon_order_id)
            .values(m3_invoiced_total=total, updated_at=datetime.now(UTC))
        )


def add_event(
    engine: Engine,
    amazon_order_id: str,
    kind: str,
    summary: str,
    *,
    key: str | None = None,
    detail: str | None = None,
    workflow_id: str | None = None,
) -> bool:
    """Append to the order's timeline; False when an entry with this key is there already."""
    key = key or f"{kind}:{summary}"
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(order_events.c.id).where(
                order_events.c.amazon_order_id == amazon_order_id, order_events.c.key == key
            )
        ).first()
        if exists:
            return False
        conn.execute(
            order_events.insert().values(
                amazon_order_id=amazon_order_id,
                key=key[:200],
                kind=kind,
                summary=summary,
                detail=detail,
                workflow_id=workflow_id,
                at=datetime.now(UTC),
            )
        )
        return True


def timeline(engine: Engine, amazon_order_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(order_events)
        .where(order_events.c.amazon_order_id == amazon_order_id)
        .order_by(order_events.c.at, order_events.c.id)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def get(engine: Engine, amazon_order_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(order_trail).where(order_trail.c.amazon_order_id == amazon_order_id)
        ).first()
    return dict(row._mapping) if row else None


def outcome_counts(engine: Engine) -> dict[str, int]:
    query = sa.select(order_trail.c.outcome, sa.func.count()).group_by(order_trail.c.outcome)
    with engine.connect() as conn:
        return {outcome: int(n) for outcome, n in conn.execute(query)}


def recent(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    query = sa.select(order_trail).order_by(order_trail.c.updated_at.desc()).limit(limit)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
