"""The BOD inbox: every BOD ION delivered, stored once, before its delivery is acknowledged.

ION delivers at least once and in no guaranteed order, and may deliver the same message again
(same messageId) or the same document in another message (same BODID). The inbox keeps one row per
BOD, unique on both; a repeated delivery counts `deliveries` instead of adding a row. The row is
written in one database transaction before the IMS endpoint answers, so an acknowledged BOD is
never lost; its handling is enqueued afterwards (`mark_enqueued`), and a row still "received" is
work a restarted process (or the next delivery) hands over again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from m3amazon.ops.crypto import seal, unseal
from m3amazon.ops.db import bod_inbox

RECEIVED = "received"
ENQUEUED = "enqueued"


@dataclass(frozen=True)
class StoredBod:
    """What `on_bod` gets: the stored row (the flows decode `payload` with `m3.ion.bod.decode`)."""

    inbox_id: int
    message_id: str
    bod_id: str
    document_name: str
    verb: str
    noun: str
    from_logical_id: str | None
    payload: str
    status: str
    received_at: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> StoredBod:
        return cls(
            inbox_id=int(row.id),
            message_id=row.message_id,
            bod_id=row.bod_id,
            document_name=row.document_name,
            verb=row.verb,
            noun=row.noun,
            from_logical_id=row.from_logical_id,
            payload=unseal(row.payload),  # encrypted at rest when PII keys are set
            status=row.status,
            received_at=row.received_at,
        )


def _existing(conn: sa.Connection, message_id: str, bod_id: str) -> Any:
    query = sa.select(bod_inbox).where(
        sa.or_(bod_inbox.c.message_id == message_id, bod_inbox.c.bod_id == bod_id)
    )
    return conn.execute(query.order_by(bod_inbox.c.id).limit(1)).first()


def record(
    engine: Engine,
    *,
    message_id: str,
    bod_id: str,
    verb: str,
    noun: str,
    from_logical_id: str | None,
    payload: str,
) -> tuple[StoredBod, bool]:
    """Store the BOD (True) or count one more delivery of the one already stored (False)."""
    now = dt.datetime.now(dt.UTC)
    for _ in range(2):  # a concurrent delivery may insert between our look and our insert
        try:
            with engine.begin() as conn:
                row = _existing(conn, message_id, bod_id)
                if row is not None:
                    conn.execute(
                        bod_inbox.update()
                        .where(bod_inbox.c.id == row.id)
                        .values(deliveries=bod_inbox.c.deliveries + 1)
                    )
                    return StoredBod.from_row(row), False
                result = conn.execute(
                    bod_inbox.insert().values(
                        message_id=message_id,
                        bod_id=bod_id,
                        document_name=verb + noun,
                        verb=verb,
                        noun=noun,
                        from_logical_id=from_logical_id,
                        payload=seal(payload),
                        status=RECEIVED,
                        deliveries=1,
                        received_at=now,
                    )
                )
                key = result.inserted_primary_key
                assert key is not None
                stored = conn.execute(sa.select(bod_inbox).where(bod_inbox.c.id == key[0])).one()
                return StoredBod.from_row(stored), True
        except IntegrityError:
            continue
    raise RuntimeError(f"could not store BOD {bod_id} (message {message_id})")


def mark_enqueued(engine: Engine, inbox_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            bod_inbox.update()
            .where(bod_inbox.c.id == inbox_id)
            .values(status=ENQUEUED, enqueued_at=dt.datetime.now(dt.UTC))
        )


def pending(engine: Engine, *, limit: int = 100) -> list[StoredBod]:
    """Stored BODs whose handling was not enqueued yet (for a dispatcher after a restart)."""
    query = sa.select(bod_inbox).where(bod_inbox.c.status == RECEIVED).order_by(bod_inbox.c.id).limit(limit)
    with engine.connect() as conn:
        return [StoredBod.from_row(row) for row in conn.execute(query)]


def counts(engine: Engine) -> dict[str, int]:
    """Rows and deliveries per status (duplicates show as deliveries > rows)."""
    query = sa.select(bod_inbox.c.status, sa.func.count(), sa.func.sum(bod_inbox.c.deliveries)).group_by(
        bod_inbox.c.status
    )
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for status, rows, deliveries in conn.execute(query):
            out[status] = int(rows)
            out[f"{status}_deliveries"] = int(deliveries or 0)
    return out
