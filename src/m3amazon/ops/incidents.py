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

#: An incident's life: `open` (waiting for an operator), `retrying` (an operator's retry is queued:
#: the run resolves it when the order succeeds, or puts it back to `open` when it ends in an incident
#: again), `resolved` (its flow succeeded), `discarded` (an operator gave up on it, with a reason).
STATUSES = ("open", "retrying", "resolved", "discarded")
#: Statuses of incidents that still wait for something.
ACTIVE = ("open", "retrying")


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
            # The facts of the latest occurrence replace the earlier ones (an operator acts on what
            # is wrong now); a resolved incident that recurs is open again, a discarded one stays so.
            conn.execute(
                incidents.update()
                .where(incidents.c.id == existing)
                .values(
                    occurrences=incidents.c.occurrences + 1,
                    reason_code=incident.reason_code,
                    message=incident.message,
                    payload=_payload_text(incident.payload),
                    actions=json.dumps(list(incident.actions)),
                    status=sa.case((incidents.c.status == "resolved", "open"), else_=incidents.c.status),
                    updated_at=now,
                )
            )
            _retry_failed(conn, incident.subject, now)
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
        _retry_failed(conn, incident.subject, now)
        return int(key[0])


def exists(engine: Engine, key: str) -> bool:
    """Whether an incident with this key was ever opened (whatever its status now)."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(incidents.c.id).where(incidents.c.key == key)).first()
    return found is not None


def _retry_failed(conn: sa.Connection, subject: str | None, now: datetime) -> None:
    """A run about `subject` ended in an incident: its incidents being retried wait for an operator again."""
    if subject is not None:
        conn.execute(
            incidents.update()
            .where(incidents.c.subject == subject, incidents.c.status == "retrying")
            .values(status="open", resolution=None, updated_at=now)
        )


def transition(
    conn: sa.Connection, incident_id: int, *, from_statuses: tuple[str, ...], to: str, resolution: str | None
) -> bool:
    """Move one incident to `to` if it is in one of `from_statuses` (compare-and-set); else False."""
    assert to in STATUSES
    updated = conn.execute(
        incidents.update()
        .where(incidents.c.id == incident_id, incidents.c.status.in_(from_statuses))
        .values(status=to, resolution=resolution, updated_at=datetime.now(UTC))
    ).rowcount
    return bool(updated)


def list_incidents(
    engine: Engine,
    *,
    status: str | None = "open",
    limit: int = 200,
    category: str | None = None,
    subject: str | None = None,
) -> list[dict[str, Any]]:
    query = sa.select(incidents).order_by(incidents.c.id.desc()).limit(limit)
    if status:
        query = query.where(incidents.c.status == status)
    if category:
        query = query.where(incidents.c.category == category)
    if subject:
        query = query.where(incidents.c.subject == subject)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def count_incidents(engine: Engine, *, status: str | None = "open") -> int:
    query = sa.select(sa.func.count()).select_from(incidents)
    if status:
        query = query.where(incidents.c.status == status)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def resolve_for_subject(engine: Engine, subject: str, note: str) -> int:
    """Mark the open (or retrying) incidents about `subject` resolved (its flow has now succeeded)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        return int(
            conn.execute(
                incidents.update()
                .where(incidents.c.subject == subject, incidents.c.status.in_(ACTIVE))
                .values(status="resolved", resolution=note, updated_at=now)
            ).rowcount
        )


def get_incident(engine: Engine, incident_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
    return dict(row._mapping) if row else None


def resolve_categories(engine: Engine, subject: str, categories: set[str], note: str) -> int:
    """Resolve the open (or retrying) incidents about `subject` in `categories`: a later run checked
    those things again and found them in order."""
    if not categories:
        return 0
    with engine.begin() as conn:
        return int(
            conn.execute(
                incidents.update()
                .where(
                    incidents.c.subject == subject,
                    incidents.c.category.in_(sorted(categories)),
                    incidents.c.status.in_(("open", "retrying")),
                )
                .values(status="resolved", resolution=note, updated_at=datetime.now(UTC))
            ).rowcount
        )
