"""Incidents: the dead-letter store. Bad input is never dropped and never kills a worker.

An incident keeps the original payload, a reason code a machine can group by, a sentence a person
can act on, and the actions that can resolve it. Opening the same incident twice (same key: a
retried step, a re-delivered message) counts an occurrence instead of adding a row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m3amazon.ops.db import incidents


@dataclass(frozen=True)
class Incident:
    key: str
    category: str
    reason_code: str
    message: str
    subject: str | None = None
    payload: Any = None
    actions: tuple[str, ...] = field(default=("retry", "discard"))


def _payload_text(payload: Any) -> str | None:
    if payload is None:
        return None
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, default=str, ensure_ascii=False, indent=1)


def open_incident(engine: Engine, incident: Incident) -> int:
    """Record the incident (or one more occurrence of it); returns its id."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        existing = conn.execute(
            sa.select(incidents.c.id).where(incidents.c.key == incident.key)
        ).scalar_one_or_none()
        if existing is not None:
            conn.execute(
                incidents.update()
                .where(incidents.c.id == existing)
                .values(occurrences=incidents.c.occurrences + 1, updated_at=now)
            )
            return int(existing)
        result = conn.execute(
            incidents.insert().values(
                key=incident.key,
                category=incident.category,
                reason_code=incident.reason_code,
                message=incident.message,
                subject=incident.subject,
                payload=_payload_text(incident.payload),
                actions=json.dumps(list(incident.actions)),
                status="open",
                occurrences=1,
                created_at=now,
                updated_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def list_incidents(engine: Engine, *, status: str | None = "open", limit: int = 200) -> list[dict[str, Any]]:
    query = sa.select(incidents).order_by(incidents.c.id.desc()).limit(limit)
    if status:
        query = query.where(incidents.c.status == status)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def count_incidents(engine: Engine, *, status: str | None = "open") -> int:
    query = sa.select(sa.func.count()).select_from(incidents)
    if status:
        query = query.where(incidents.c.status == status)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
