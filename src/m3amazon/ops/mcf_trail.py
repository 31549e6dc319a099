"""The trail of M3 orders that Amazon ships from FBA (Multi-Channel Fulfillment).

One row per M3 order (`m3a_mcf_orders`): its sellerFulfillmentOrderId, the latest outcome of the
MCF flow, Amazon's status and M3's line statuses as last seen (the poll compares those with what
M3 shows now to find changes a lost BOD did not announce), carrier and tracking. The timeline of
each order is kept in the order-events table under its request id, so `order show M3-...` and the
console show it like an Amazon order's.

Outcomes: submitted (Amazon has the fulfillment order), delivered (M3 lines at 66 with carrier and
tracking), invoiced (M3 invoiced it), cancelled, incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m3amazon.ops.db import mcf_orders

#: Outcomes after which nothing more happens to the order unless M3 changes it.
FINAL_OUTCOMES = frozenset({"delivered", "invoiced", "cancelled"})


@dataclass(frozen=True)
class McfEntry:
    m3_order_number: str
    request_id: str
    outcome: str
    cuor: str | None = None
    amazon_status: str | None = None
    created_at_amazon: datetime | None = None
    m3_status: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    retryable: bool = False
    workflow_id: str | None = None
    detail: str | None = None


def record(engine: Engine, entry: McfEntry) -> None:
    """Upsert the order's row; empty fields keep what an earlier run recorded."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        k: v for k, v in entry.__dict__.items() if v is not None and k != "m3_order_number"
    }
    values["detail"] = entry.detail
    with engine.begin() as conn:
        current = conn.execute(
            sa.select(mcf_orders.c.outcome).where(mcf_orders.c.m3_order_number == entry.m3_order_number)
        ).scalar_one_or_none()
        if current == "invoiced" and entry.outcome == "delivered":
            values["outcome"] = current  # a late echo of the delivery after the invoice
        updated = conn.execute(
            mcf_orders.update()
            .where(mcf_orders.c.m3_order_number == entry.m3_order_number)
            .values(**values, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(
                mcf_orders.insert().values(
                    m3_order_number=entry.m3_order_number, **values, created_at=now, updated_at=now
                )
            )


def _update(engine: Engine, m3_order_number: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            mcf_orders.update()
            .where(mcf_orders.c.m3_order_number == m3_order_number)
            .values(**values, updated_at=datetime.now(UTC))
        )


def note_amazon_status(engine: Engine, m3_order_number: str, status: str) -> None:
    """Amazon reported a status that needs no work (Received, Planning, Processing)."""
    _update(engine, m3_order_number, amazon_status=status)


def note_m3_status(engine: Engine, m3_order_number: str, status: str) -> None:
    """M3's line statuses right after the flow changed them (so the poll does not take its own
    change for someone else's)."""
    _update(engine, m3_order_number, m3_status=status)


def set_invoiced(engine: Engine, m3_order_number: str, total: str) -> None:
    """An invoice of the order: the latest total on the row; a delivered order becomes invoiced."""
    outcome = sa.case((mcf_orders.c.outcome == "delivered", "invoiced"), else_=mcf_orders.c.outcome)
    _update(engine, m3_order_number, m3_invoiced_total=total, outcome=outcome)


def get(engine: Engine, m3_order_number: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(mcf_orders).where(mcf_orders.c.m3_order_number == m3_order_number)
        ).first()
    return dict(row._mapping) if row else None


def known(engine: Engine, m3_order_numbers: list[str]) -> dict[str, dict[str, Any]]:
    """The rows of these orders (those the trail has), by order number."""
    found: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for start in range(0, len(m3_order_numbers), 500):
            chunk = m3_order_numbers[start : start + 500]
            for row in conn.execute(sa.select(mcf_orders).where(mcf_orders.c.m3_order_number.in_(chunk))):
                found[row.m3_order_number] = dict(row._mapping)
    return found


def order_number_for(engine: Engine, reference: str) -> str | None:
    """The M3 order number of an MCF order named by its number or its CUOR (None: not an MCF order)."""
    query = sa.select(mcf_orders.c.m3_order_number).where(
        sa.or_(mcf_orders.c.m3_order_number == reference, mcf_orders.c.cuor == reference)
    )
    with engine.connect() as conn:
        return conn.execute(query.limit(1)).scalar_one_or_none()


def outcome_counts(engine: Engine) -> dict[str, int]:
    query = sa.select(mcf_orders.c.outcome, sa.func.count()).group_by(mcf_orders.c.outcome)
    with engine.connect() as conn:
        return {outcome: int(n) for outcome, n in conn.execute(query)}


def created_at_amazon_count(engine: Engine) -> int:
    """How many M3 orders have a fulfillment order at Amazon."""
    query = (
        sa.select(sa.func.count()).select_from(mcf_orders).where(mcf_orders.c.created_at_amazon.is_not(None))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
