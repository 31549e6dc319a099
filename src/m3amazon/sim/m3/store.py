"""The M3 simulator's state: master data, batch orders, customer orders and counters, in SQLite.

SQLite because the simulator is a product: a file keeps a demo's orders across restarts and can
be inspected with any SQLite tool, and WAL lets the control plane read while orders are entered.
Uvicorn runs the MI endpoints in a thread pool, so one connection is shared under a lock and each
MI transaction is one SQLite transaction (as in M3, a bulk call is *not* atomic).

The counters are what the tests and benchmarks assert on: orders per CUOR (M3 accepts a second
order with the same customer order number, so duplicates are counted, not refused), calls per
program/transaction and HTTP requests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from m3amazon.sim.catalog import CatalogItem, Marketplace

#: Warehouses, facilities and order types every simulated company has.
DEFAULT_WAREHOUSES = {"100": "A01", "FBA": "A01"}
DEFAULT_ORDER_TYPES = ("AMZ", "AFN", "MFN")
#: Number series: batch (temporary) order numbers and customer order numbers, 10 digits.
TEMP_SERIES_START = 5_000_000_000
ORDER_SERIES_START = 1_000_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (cuno TEXT PRIMARY KEY, cunm TEXT, cua1 TEXT, cua2 TEXT,
    town TEXT, pono TEXT, cscd TEXT, stat TEXT, cucd TEXT, ortp TEXT, whlo TEXT);
CREATE TABLE IF NOT EXISTS items (itno TEXT PRIMARY KEY, itds TEXT, stat TEXT, unms TEXT);
CREATE TABLE IF NOT EXISTS aliases (alwt TEXT, alwq TEXT, popn TEXT, itno TEXT,
    PRIMARY KEY (alwt, alwq, popn, itno));
CREATE TABLE IF NOT EXISTS warehouses (whlo TEXT PRIMARY KEY, faci TEXT);
CREATE TABLE IF NOT EXISTS order_types (ortp TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS series (name TEXT PRIMARY KEY, next INTEGER);
CREATE TABLE IF NOT EXISTS batch_heads (orno TEXT PRIMARY KEY, cuno TEXT, cuor TEXT, ortp TEXT,
    whlo TEXT, faci TEXT, cucd TEXT, ordt TEXT, rldt TEXT, yref TEXT, stat TEXT, ornr TEXT,
    fields TEXT);
CREATE INDEX IF NOT EXISTS batch_heads_cuno ON batch_heads (cuno);
CREATE TABLE IF NOT EXISTS batch_addresses (orno TEXT, adrt TEXT, fields TEXT, PRIMARY KEY (orno, adrt));
CREATE TABLE IF NOT EXISTS batch_lines (orno TEXT, ponr INTEGER, itno TEXT, orqt TEXT, sapr TEXT,
    whlo TEXT, cuor TEXT, fields TEXT, PRIMARY KEY (orno, ponr));
CREATE TABLE IF NOT EXISTS batch_errors (orno TEXT, seq INTEGER, levl TEXT, msid TEXT, tx60 TEXT,
    mdta TEXT, PRIMARY KEY (orno, seq));
CREATE TABLE IF NOT EXISTS orders (orno TEXT PRIMARY KEY, batch TEXT, cuno TEXT, cuor TEXT,
    ortp TEXT, whlo TEXT, faci TEXT, cucd TEXT, ordt TEXT, rldt TEXT, yref TEXT, stat TEXT,
    orsl TEXT, orst TEXT, ntam TEXT);
CREATE INDEX IF NOT EXISTS orders_cuor ON orders (cuor);
CREATE TABLE IF NOT EXISTS order_lines (orno TEXT, ponr INTEGER, itno TEXT, orqt TEXT, sapr TEXT,
    whlo TEXT, cuor TEXT, orst TEXT, PRIMARY KEY (orno, ponr));
CREATE TABLE IF NOT EXISTS order_addresses (orno TEXT, adrt TEXT, fields TEXT, PRIMARY KEY (orno, adrt));
"""

_ORDER_TABLES = (
    "batch_heads",
    "batch_addresses",
    "batch_lines",
    "batch_errors",
    "orders",
    "order_lines",
    "order_addresses",
    "series",
)


class SimStore:
    """Thread-safe SQLite state of one simulated M3 company."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 5000")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)
        self._calls: Counter[str] = Counter()
        self._http_requests = 0
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO warehouses VALUES (?, ?)", DEFAULT_WAREHOUSES.items())
            db.executemany(
                "INSERT OR IGNORE INTO order_types VALUES (?)", [(t,) for t in DEFAULT_ORDER_TYPES]
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, inside one SQLite transaction, holding the store's lock."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- master data ----------------------------------------------------------------------------

    def add_customer(
        self,
        cuno: str,
        cunm: str,
        *,
        cucd: str,
        stat: str = "20",
        ortp: str = "AMZ",
        whlo: str = "100",
        cua1: str = "",
        town: str = "",
        pono: str = "",
        cscd: str = "",
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO customers VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)",
                (cuno, cunm, cua1, town, pono, cscd, stat, cucd, ortp, whlo),
            )

    def add_item(self, itno: str, itds: str, *, stat: str = "20", unms: str = "PCS") -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)", (itno, itds, stat, unms))

    def set_item_status(self, itno: str, stat: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE items SET stat = ? WHERE itno = ?", (stat, itno))

    def add_alias(self, alwt: str, popn: str, itno: str, alwq: str = "") -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO aliases VALUES (?, ?, ?, ?)", (normalise_alwt(alwt), alwq, popn, itno)
            )

    def add_warehouse(self, whlo: str, faci: str = "A01") -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO warehouses VALUES (?, ?)", (whlo, faci))

    def seed_from_catalog(
        self,
        catalog: Iterable[CatalogItem],
        marketplaces: Mapping[str, Marketplace],
        *,
        alias_category: str = "03",
        alias_qualifier: str = "AMZN",
        skip_skus: Iterable[str] = (),
    ) -> None:
        """One customer per marketplace, and an item with a SKU alias per catalog entry.

        `skip_skus` leaves some SKUs without item and alias, so tests can order unknown SKUs.
        """
        skipped = set(skip_skus)
        for market in marketplaces.values():
            self.add_customer(
                market.customer_number,
                f"Amazon {market.name}"[:36],
                cucd=market.currency,
                cscd=market.country,
                town="Seattle" if market.country == "US" else "",
            )
        for item in catalog:
            if item.sku in skipped:
                continue
            self.add_item(item.item_number, (item.item_name or item.title)[:60])
            self.add_alias(alias_category, item.sku, item.item_number, alias_qualifier)

    # -- number series --------------------------------------------------------------------------

    @staticmethod
    def next_number(db: sqlite3.Connection, series: str) -> str:
        """Next number of a series ("temp" or "order"), as M3's 10-character order number."""
        start = TEMP_SERIES_START if series == "temp" else ORDER_SERIES_START
        db.execute("INSERT OR IGNORE INTO series VALUES (?, ?)", (series, start + 1))
        value = db.execute("SELECT next FROM series WHERE name = ?", (series,)).fetchone()[0]
        db.execute("UPDATE series SET next = next + 1 WHERE name = ?", (series,))
        return f"{value:010d}"

    # -- counters -------------------------------------------------------------------------------

    def count_call(self, program: str, transaction: str) -> None:
        with self._lock:
            self._calls[f"{program}/{transaction}"] += 1

    def count_http_request(self) -> None:
        with self._lock:
            self._http_requests += 1

    def orders_by_cuor(self) -> dict[str, int]:
        with self.transaction() as db:
            rows = db.execute("SELECT cuor, COUNT(*) FROM orders GROUP BY cuor").fetchall()
        return {row[0]: row[1] for row in rows}

    def duplicate_orders(self) -> int:
        """How many CUORs have more than one confirmed customer order."""
        return sum(1 for count in self.orders_by_cuor().values() if count > 1)

    def orders_total(self) -> int:
        with self.transaction() as db:
            return int(db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])

    def stats(self) -> dict[str, Any]:
        by_cuor = self.orders_by_cuor()
        with self.transaction() as db:
            open_batches = db.execute("SELECT COUNT(*) FROM batch_heads WHERE stat != '90'").fetchone()[0]
        with self._lock:
            calls = dict(sorted(self._calls.items()))
            http_requests = self._http_requests
        return {
            "orders_total": sum(by_cuor.values()),
            "duplicate_orders": sum(1 for count in by_cuor.values() if count > 1),
            "orders_by_cuor": {
                "distinct": len(by_cuor),
                "max": max(by_cuor.values(), default=0),
                "duplicated": sorted(cuor for cuor, count in by_cuor.items() if count > 1)[:50],
            },
            "open_batch_orders": open_batches,
            "calls": calls,
            "http_requests": http_requests,
        }

    def orders(self) -> list[dict[str, Any]]:
        """Every customer order with its lines (the control plane's /_sim/orders)."""
        with self.transaction() as db:
            heads = [dict(row) for row in db.execute("SELECT * FROM orders ORDER BY orno")]
            lines: dict[str, list[dict[str, Any]]] = {}
            for row in db.execute("SELECT * FROM order_lines ORDER BY orno, ponr"):
                line = dict(row)
                lines.setdefault(line.pop("orno"), []).append(line)
        for head in heads:
            head["lines"] = lines.get(head["orno"], [])
        return heads

    def reset(self) -> None:
        """Forget orders, batch orders, number series and counters; keep the master data."""
        with self.transaction() as db:
            for table in _ORDER_TABLES:
                db.execute(f"DELETE FROM {table}")
        with self._lock:
            self._calls.clear()
            self._http_requests = 0


def normalise_alwt(value: str) -> str:
    """Alias category is numeric in MI (ALWT number 2): "3" and "03" are the same category."""
    return f"{int(value):02d}" if value.strip().isdigit() else value


def dumps(fields: Mapping[str, str]) -> str:
    return json.dumps(dict(fields), sort_keys=True)
