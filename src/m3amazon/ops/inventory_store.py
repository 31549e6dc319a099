"""The inventory sync's own tables: known M3 balances, what Amazon was sent, quantity feeds.

The rule that makes the sync safe under late, repeated and reordered events lives here, in SQL:
a balance row only moves to a newer `version` (M3's change time), and a SKU's sent quantity only
to a newer stock version. Both are single statements, so concurrent writers cannot interleave a
read and a write. Bulk reads and writes go in chunks (SQLite allows 32,766 parameters).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from m3amazon.ops.db import inventory_balances, inventory_feeds, inventory_pushed, poll_cursors

CHUNK = 5_000


def micros(moment: datetime) -> int:
    """A timestamp as the integer version the tables compare (microseconds since the epoch)."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


@dataclass(frozen=True)
class BalanceRow:
    item_number: str
    warehouse: str
    on_hand: Decimal
    allocated: Decimal
    reserved: Decimal
    version: int
    source: str = "bod"


@dataclass(frozen=True)
class Pushed:
    sku: str
    quantity: int | None
    version: int
    product_type: str | None
    feed_id: str | None


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _insert(conn: Connection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _upsert_newer(
    engine: Engine, table: sa.Table, keys: list[str], values: list[dict[str, Any]], *, strict: bool
) -> None:
    """Insert `values`, or update the existing rows with them when their version is newer
    (`strict`) or at least as new; one statement per chunk, so no reader sees half of it."""
    if not values:
        return
    with engine.begin() as conn:
        insert = _insert(conn, table)
        excluded = insert.excluded
        newer = excluded.version > table.c.version if strict else excluded.version >= table.c.version
        statement = insert.on_conflict_do_update(
            index_elements=keys,
            set_={name: excluded[name] for name in values[0] if name not in keys},
            where=newer,
        )
        for chunk in _chunks(values, 1_000):
            conn.execute(statement, list(chunk))


def record_balances(engine: Engine, rows: Iterable[BalanceRow]) -> None:
    """Keep each balance unless a newer version of it is already known; a kept one is dirty."""
    now = datetime.now(UTC)
    values = [
        {
            "item_number": r.item_number,
            "warehouse": r.warehouse,
            "on_hand": str(r.on_hand),
            "allocated": str(r.allocated),
            "reserved": str(r.reserved),
            "version": r.version,
            "source": r.source,
            "dirty": True,
            "updated_at": now,
        }
        for r in rows
    ]
    _upsert_newer(engine, inventory_balances, ["item_number", "warehouse"], values, strict=True)


def dirty_items(engine: Engine) -> list[str]:
    query = sa.select(inventory_balances.c.item_number).where(inventory_balances.c.dirty).distinct()
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def balances_of(engine: Engine, items: Sequence[str]) -> dict[str, dict[str, BalanceRow]]:
    """Every known balance of `items`: item -> warehouse -> balance."""
    found: dict[str, dict[str, BalanceRow]] = {}
    with engine.connect() as conn:
        for chunk in _chunks(sorted(set(items))):
            rows = conn.execute(
                sa.select(inventory_balances).where(inventory_balances.c.item_number.in_(chunk))
            )
            for r in rows:
                found.setdefault(r.item_number, {})[r.warehouse] = BalanceRow(
                    r.item_number,
                    r.warehouse,
                    Decimal(r.on_hand),
                    Decimal(r.allocated),
                    Decimal(r.reserved),
                    int(r.version),
                    r.source,
                )
    return found


def clear_dirty(engine: Engine, seen: Iterable[BalanceRow]) -> None:
    """Clean the balances as they were read: a newer one that arrived meanwhile stays dirty."""
    keys = [{"i": b.item_number, "w": b.warehouse, "v": b.version} for b in seen]
    if not keys:
        return
    c = inventory_balances.c
    statement = (
        inventory_balances.update()
        .where(c.item_number == sa.bindparam("i"), c.warehouse == sa.bindparam("w"))
        .where(c.version == sa.bindparam("v"))
        .values(dirty=False)
    )
    with engine.begin() as conn:
        for chunk in _chunks(keys, 1_000):
            conn.execute(statement, list(chunk))


def pushed_of(engine: Engine, skus: Sequence[str]) -> dict[str, Pushed]:
    found: dict[str, Pushed] = {}
    with engine.connect() as conn:
        for chunk in _chunks(sorted(set(skus))):
            for r in conn.execute(sa.select(inventory_pushed).where(inventory_pushed.c.sku.in_(chunk))):
                found[r.sku] = Pushed(r.sku, r.quantity, int(r.version), r.product_type, r.feed_id)
    return found


def all_pushed(engine: Engine) -> dict[str, Pushed]:
    with engine.connect() as conn:
        return {
            r.sku: Pushed(r.sku, r.quantity, int(r.version), r.product_type, r.feed_id)
            for r in conn.execute(sa.select(inventory_pushed))
        }


def pushed_count(engine: Engine) -> int:
    """SKUs Amazon got a quantity for (and did not refuse it)."""
    query = (
        sa.select(sa.func.count())
        .select_from(inventory_pushed)
        .where(inventory_pushed.c.quantity.is_not(None))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def remember_product_types(engine: Engine, types: dict[str, str]) -> None:
    """The product type of each SKU's listing (needed for every patch), learnt once."""
    if not types:
        return
    with engine.begin() as conn:
        insert = _insert(conn, inventory_pushed)
        statement = insert.on_conflict_do_update(
            index_elements=["sku"], set_={"product_type": insert.excluded.product_type}
        )
        for chunk in _chunks(list(types.items()), 1_000):
            conn.execute(statement, [{"sku": s, "product_type": t, "version": 0} for s, t in chunk])


def forget_product_type(engine: Engine, product_type: str) -> None:
    """Ask Amazon again for the SKUs remembered with `product_type` (e.g. "not listed")."""
    with engine.begin() as conn:
        conn.execute(
            inventory_pushed.update()
            .where(inventory_pushed.c.product_type == product_type)
            .values(product_type=None)
        )


def record_pushed(
    engine: Engine,
    sent: Iterable[tuple[str, str | None, int, int]],
    channel: str,
    feed_id: str | None = None,
) -> None:
    """(sku, item, quantity, version) now sent; never lowers a version already recorded."""
    now = datetime.now(UTC)
    values = [
        {
            "sku": sku,
            "item_number": item,
            "quantity": quantity,
            "version": version,
            "feed_id": feed_id,
            "channel": channel,
            "pushed_at": now,
        }
        for sku, item, quantity, version in sent
    ]
    _upsert_newer(engine, inventory_pushed, ["sku"], values, strict=False)


def add_feed(engine: Engine, feed_id: str, updates: Sequence[tuple[str, int, int]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            inventory_feeds.insert().values(
                feed_id=feed_id,
                status="IN_QUEUE",
                messages=len(updates),
                updates=json.dumps([list(u) for u in updates]),
                submitted_at=datetime.now(UTC),
            )
        )


@dataclass(frozen=True)
class OpenFeed:
    feed_id: str
    submitted_at: datetime
    updates: list[tuple[str, int, int]]
    alerted: bool


def open_feeds(engine: Engine) -> list[OpenFeed]:
    query = sa.select(inventory_feeds).where(inventory_feeds.c.finished_at.is_(None))
    with engine.connect() as conn:
        return [
            OpenFeed(
                r.feed_id,
                r.submitted_at if r.submitted_at.tzinfo else r.submitted_at.replace(tzinfo=UTC),
                [(s, int(q), int(v)) for s, q, v in json.loads(r.updates)],
                bool(r.alerted),
            )
            for r in conn.execute(query.order_by(inventory_feeds.c.submitted_at))
        ]


def finish_feed(engine: Engine, feed_id: str, status: str, accepted: int, failed: Sequence[str]) -> None:
    """The feed ended: its accepted SKUs are no longer in flight, its failed ones are unknown again."""
    with engine.begin() as conn:
        conn.execute(
            inventory_feeds.update()
            .where(inventory_feeds.c.feed_id == feed_id)
            .values(status=status, accepted=accepted, failed=len(failed), finished_at=datetime.now(UTC))
        )
        for chunk in _chunks(list(failed)):
            conn.execute(
                inventory_pushed.update()
                .where(inventory_pushed.c.sku.in_(chunk), inventory_pushed.c.feed_id == feed_id)
                .values(quantity=None, version=0)
            )
        conn.execute(
            inventory_pushed.update().where(inventory_pushed.c.feed_id == feed_id).values(feed_id=None)
        )


def set_feed_status(engine: Engine, feed_id: str, status: str, *, alerted: bool | None = None) -> None:
    values: dict[str, Any] = {"status": status}
    if alerted is not None:
        values["alerted"] = alerted
    with engine.begin() as conn:
        conn.execute(inventory_feeds.update().where(inventory_feeds.c.feed_id == feed_id).values(**values))


def feed_counts(engine: Engine) -> dict[str, int]:
    query = sa.select(inventory_feeds.c.status, sa.func.count()).group_by(inventory_feeds.c.status)
    with engine.connect() as conn:
        return {s: int(n) for s, n in conn.execute(query)}


# -- cursors (delta poll, last reconciliation) ----------------------------------------------------


def cursor(engine: Engine, name: str) -> datetime | None:
    with engine.connect() as conn:
        value = conn.execute(sa.select(poll_cursors.c.cursor).where(poll_cursors.c.name == name)).scalar()
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def set_cursor(engine: Engine, name: str, value: datetime) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        insert = _insert(conn, poll_cursors)
        conn.execute(
            insert.values(
                name=name, cursor=value, last_finished_at=now, last_orders=0, updated_at=now
            ).on_conflict_do_update(
                index_elements=["name"],
                set_={"cursor": value, "last_finished_at": now, "updated_at": now},
            )
        )
