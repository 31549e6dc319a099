"""The inventory tables' versioning rules, on SQLite and PostgreSQL alike: a balance only moves to a
newer version, a sent quantity is never replaced by an older one, and a balance that arrived while
a push was computing stays dirty."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from m3amazon.ops import db
from m3amazon.ops import inventory_store as store
from m3amazon.ops.inventory_store import BalanceRow


def row(item: str, on_hand: int, version: int, warehouse: str = "100") -> BalanceRow:
    return BalanceRow(item, warehouse, Decimal(on_hand), Decimal(0), Decimal(0), version)


def check_versioning(engine: Engine) -> None:
    store.record_balances(engine, [row("IT1", 10, 300), row("IT2", 5, 100)])
    store.record_balances(engine, [row("IT1", 99, 200), row("IT1", 10, 300)])  # late and repeated
    seen = store.balances_of(engine, ["IT1", "IT2"])
    assert seen["IT1"]["100"].on_hand == 10 and seen["IT1"]["100"].version == 300
    assert store.dirty_items(engine) == ["IT1", "IT2"]

    read = [seen["IT1"]["100"], seen["IT2"]["100"]]
    store.record_balances(engine, [row("IT2", 6, 101)])  # arrives while the push computes
    store.clear_dirty(engine, read)
    assert store.dirty_items(engine) == ["IT2"]

    store.record_pushed(engine, [("SKU1", "IT1", 10, 300)], "patch")
    store.record_pushed(engine, [("SKU1", "IT1", 99, 200)], "patch")  # older: ignored
    assert store.pushed_of(engine, ["SKU1"])["SKU1"].quantity == 10
    store.record_pushed(engine, [("SKU1", "IT1", 4, 301)], "feed", "F1")
    assert store.pushed_of(engine, ["SKU1"])["SKU1"].feed_id == "F1"
    store.add_feed(engine, "F1", [("SKU1", 4, 301)])
    store.finish_feed(engine, "F1", "DONE", 0, ["SKU1"])  # refused: unknown again, sent next time
    after = store.pushed_of(engine, ["SKU1"])["SKU1"]
    assert (after.quantity, after.version, after.feed_id) == (None, 0, None)
    assert store.open_feeds(engine) == []


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'inventory.sqlite'}")
    db.create_tables(engine)
    yield engine
    engine.dispose()


def test_versioning_on_sqlite(sqlite_engine: Engine) -> None:
    check_versioning(sqlite_engine)


@pytest.mark.postgres
def test_versioning_on_postgresql(pg_url: str) -> None:
    engine = db.create_engine(pg_url)
    db.create_tables(engine)
    try:
        check_versioning(engine)
    finally:
        engine.dispose()
