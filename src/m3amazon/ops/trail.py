"""The order trail: for each Amazon order, its last known outcome and the M3 order it became.

Written by the order flow's last step (an idempotent upsert, so a re-run step changes nothing) and
read by the console, the admin API and the demo's progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m3amazon.ops.db import order_trail

TERMINAL_OUTCOMES = ("created", "existing", "incident")


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


def record(engine: Engine, entry: TrailEntry) -> None:
    now = datetime.now(UTC)
    values = {k: v for k, v in entry.__dict__.items()}
    with engine.begin() as conn:
        updated = conn.execute(
            order_trail.update()
            .where(order_trail.c.amazon_order_id == entry.amazon_order_id)
            .values(**{k: v for k, v in values.items() if k != "amazon_order_id"}, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(order_trail.insert().values(**values, created_at=now, updated_at=now))


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
