"""The audit log: who did what to which incident (or mapping), why, and what it looked like before and after.

Operators change the product's state by hand (retry, discard, accept a SKU suggestion); an
integration engineer must later be able to answer "who discarded this order, and why?" without
reading server logs. Every operator action in ops/actions.py writes one entry here, in the same
database transaction as the change it describes, so there is never a change without its entry.

Entries are only ever inserted. `before` and `after` are JSON snapshots of the subject (an
incident's status, resolution, occurrences, ...; never its payload, which may be large).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from m3amazon.ops.db import audit
from m3amazon.ops.views import json_ready

#: The longest actor name stored (an OS user, an API caller's name).
MAX_ACTOR = 100


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: Any
    after: Any
    reason: str | None


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    before: Any,
    after: Any,
    reason: str | None = None,
) -> int:
    """Append one entry inside the caller's transaction; returns its id."""
    if not actor.strip():
        raise ValueError("an audit entry needs an actor")
    result = conn.execute(
        audit.insert().values(
            at=datetime.now(UTC),
            actor=actor.strip()[:MAX_ACTOR],
            action=action,
            subject=subject,
            before=json_ready(before),
            after=json_ready(after),
            reason=reason,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def list_entries(
    engine: Engine,
    *,
    subject: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The newest entries first, optionally for one subject ("incident:12"), actor or action."""
    query = sa.select(audit).order_by(audit.c.id.desc()).limit(limit)
    if subject:
        query = query.where(audit.c.subject == subject)
    if actor:
        query = query.where(audit.c.actor == actor)
    if action:
        query = query.where(audit.c.action == action)
    with engine.connect() as conn:
        return [AuditEntry(**row._mapping) for row in conn.execute(query)]
