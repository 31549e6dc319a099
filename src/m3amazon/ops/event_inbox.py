"""The inbox of Amazon events that wait for their flow.

The SQS intake takes every notification type the product subscribes to. Orders go straight to the
order flow; the other events (FBA inventory changes, MCF order status, report and feed completion,
listing quantities) are kept here, durably and once per NotificationId, so that nothing Amazon sent
is lost while the flow that consumes them is not running (or not built yet). A flow takes pending
events of its type, handles them idempotently and marks them handled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from m3amazon.ops.db import event_inbox

_SUBJECT_FIELDS = ("order_id", "request_id", "sku", "report_id", "feed_id")


def subject_of(event: BaseModel) -> str | None:
    for name in _SUBJECT_FIELDS:
        value = getattr(event, name, None)
        if value:
            return str(value)
    return None


def store(engine: Engine, notification_id: str, event_type: str, event: BaseModel) -> bool:
    """Keep the event; False when this NotificationId is already in the inbox."""
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(event_inbox.c.notification_id).where(event_inbox.c.notification_id == notification_id)
        ).first()
        if exists:
            return False
        conn.execute(
            event_inbox.insert().values(
                notification_id=notification_id,
                event_type=event_type,
                subject=subject_of(event),
                event=event.model_dump_json(),
                status="pending",
                received_at=datetime.now(UTC),
            )
        )
        return True


def pending(engine: Engine, event_type: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    query = (
        sa.select(event_inbox).where(event_inbox.c.status == "pending").order_by(event_inbox.c.received_at)
    )
    if event_type:
        query = query.where(event_inbox.c.event_type == event_type)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query.limit(limit))]


def mark_handled(engine: Engine, notification_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            event_inbox.update()
            .where(event_inbox.c.notification_id == notification_id)
            .values(status="handled", handled_at=datetime.now(UTC))
        )


def counts(engine: Engine) -> dict[tuple[str, str], int]:
    query = sa.select(event_inbox.c.event_type, event_inbox.c.status, sa.func.count()).group_by(
        event_inbox.c.event_type, event_inbox.c.status
    )
    with engine.connect() as conn:
        return {(t, s): int(n) for t, s, n in conn.execute(query)}
