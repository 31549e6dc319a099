"""The M3 simulator's state: master data, stock, orders, invoices, GL and counters, in SQLite.

SQLite because the simulator is a product: a file keeps a demo's orders across restarts and can
be inspected with any SQLite tool, and WAL lets the control plane read while orders are entered.
Uvicorn runs the MI endpoints in a thread pool, so one connection is shared under a lock and each
MI transaction is one SQLite transaction (as in M3, a bulk call is *not* atomic).

The counters are what the tests and benchmarks assert on: orders per CUOR (M3 accepts a second
order with the same customer order number, so duplicates are counted, not refused), GL batches
posted per key (a key can be used again once its batch is posted), calls per program/transaction
and HTTP requests.

Events: a transaction that delivers, invoices or changes a balance leaves `SimEvent`s on its
`Call`; once it committed, `publish` hands them to the listeners (the IMS emitter sends them to
ION as BODs).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from m3amazon.sim.catalog import CatalogItem, Marketplace
from m3amazon.sim.m3.mi import SimEvent

log = logging.getLogger(__name__)

#: Warehouses, facilities and order types every simulated company has.
DEFAULT_WAREHOUSES = {"100": "A01", "FBA": "A01"}
DEFAULT_ORDER_TYPES = ("AMZ", "AFN", "MFN", "MCF")
#: On-hand balance each catalog item gets in each warehouse when seeded.
DEFAULT_ON_HAND = Decimal(1000)
#: A small chart of accounts (AITP 1) for the GL interface: account -> (name, class).
DEFAULT_ACCOUNTS = {
    "1510": "Accounts receivable",
    "1580": "Amazon clearing",
    "1920": "Bank",
    "2610": "Output VAT",
    "3010": "Sales",
    "3020": "Sales returns",
    "3050": "Shipping income",
    "3090": "Amazon reimbursements",
    "1590": "Amazon reserve",
    "6590": "Storage fees",
    "6600": "Advertising",
    "6570": "Marketplace fees",
    "6580": "Fulfilment fees",
    "7990": "Rounding",
}
#: Charge types (OIS030) every simulated company has: CRID -> description.
DEFAULT_CHARGES = {
    "SHIP": "Shipping",
    "GIFT": "Gift wrap",
    "PROMO": "Promotion",
    "TAX": "Sales tax",
}
#: Non-stocked service items (no balance, no allocation) for charges entered as order lines.
DEFAULT_SERVICE_ITEMS = {
    "SRV-SHIPPING": "Shipping charge",
    "SRV-GIFTWRAP": "Gift wrap charge",
    "SRV-TAX": "Sales tax",
}
#: Number series (10-digit order numbers, 9-digit invoice numbers, ...): name -> first number.
SERIES_START = {
    "temp": 5_000_000_000,
    "order": 1_000_000_000,
    "delivery": 3_000_000,
    "invoice": 100_000_000,
    "voucher": 10_000_000,
    "message": 700_000_000,
    "customer": 10_000,
}
#: Kept for callers of the first version.
TEMP_SERIES_START = SERIES_START["temp"]
ORDER_SERIES_START = SERIES_START["order"]
#: Bump when the schema changes: an older simulator file is then rebuilt (it is test state).
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (cuno TEXT PRIMARY KEY, cunm TEXT, cua1 TEXT, cua2 TEXT,
    cua3 TEXT, cua4 TEXT, town TEXT, pono TEXT, cscd TEXT, ecar TEXT, phno TEXT, mail TEXT,
    stat TEXT, cucd TEXT, ortp TEXT, whlo TEXT, yref TEXT, rgdt TEXT, lmdt TEXT, lmts INTEGER,
    blcd TEXT DEFAULT '0', stop_reason TEXT DEFAULT '');
CREATE TABLE IF NOT EXISTS customer_addresses (cuno TEXT, adrt TEXT, adid TEXT, cunm TEXT,
    cua1 TEXT, cua2 TEXT, cua3 TEXT, cua4 TEXT, town TEXT, pono TEXT, cscd TEXT, ecar TEXT,
    phno TEXT, PRIMARY KEY (cuno, adrt, adid));
CREATE TABLE IF NOT EXISTS items (itno TEXT PRIMARY KEY, itds TEXT, stat TEXT, unms TEXT,
    lmdt TEXT, stocked INTEGER DEFAULT 1);
CREATE TABLE IF NOT EXISTS charge_types (crid TEXT PRIMARY KEY, crd0 TEXT);
CREATE TABLE IF NOT EXISTS aliases (alwt TEXT, alwq TEXT, popn TEXT, itno TEXT, rgdt TEXT,
    lmts INTEGER DEFAULT 0, PRIMARY KEY (alwt, alwq, popn, itno));
CREATE TABLE IF NOT EXISTS warehouses (whlo TEXT PRIMARY KEY, faci TEXT);
CREATE TABLE IF NOT EXISTS order_types (ortp TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS series (name TEXT PRIMARY KEY, next INTEGER);
CREATE TABLE IF NOT EXISTS balances (whlo TEXT, itno TEXT, stqt TEXT, alqt TEXT, iddt TEXT,
    oddt TEXT, lmts INTEGER, PRIMARY KEY (whlo, itno));
CREATE INDEX IF NOT EXISTS balances_lmts ON balances (lmts);
CREATE TABLE IF NOT EXISTS batch_heads (orno TEXT PRIMARY KEY, cuno TEXT, cuor TEXT, ortp TEXT,
    whlo TEXT, faci TEXT, cucd TEXT, ordt TEXT, rldt TEXT, yref TEXT, stat TEXT, ornr TEXT,
    fields TEXT);
CREATE INDEX IF NOT EXISTS batch_heads_cuno ON batch_heads (cuno);
CREATE TABLE IF NOT EXISTS batch_addresses (orno TEXT, adrt TEXT, fields TEXT, PRIMARY KEY (orno, adrt));
CREATE TABLE IF NOT EXISTS batch_lines (orno TEXT, ponr INTEGER, itno TEXT, orqt TEXT, sapr TEXT,
    whlo TEXT, cuor TEXT, fields TEXT, PRIMARY KEY (orno, ponr));
CREATE TABLE IF NOT EXISTS batch_charges (orno TEXT, crid TEXT, cram TEXT, cucd TEXT, crd0 TEXT,
    PRIMARY KEY (orno, crid));
CREATE TABLE IF NOT EXISTS batch_errors (orno TEXT, seq INTEGER, levl TEXT, msid TEXT, tx60 TEXT,
    mdta TEXT, PRIMARY KEY (orno, seq));
CREATE TABLE IF NOT EXISTS orders (orno TEXT PRIMARY KEY, batch TEXT, cuno TEXT, cuor TEXT,
    ortp TEXT, whlo TEXT, faci TEXT, cucd TEXT, ordt TEXT, rldt TEXT, yref TEXT, stat TEXT,
    orsl TEXT, orst TEXT, ntam TEXT);
CREATE INDEX IF NOT EXISTS orders_cuor ON orders (cuor);
CREATE INDEX IF NOT EXISTS orders_cuno ON orders (cuno);
CREATE TABLE IF NOT EXISTS order_lines (orno TEXT, ponr INTEGER, itno TEXT, orqt TEXT, sapr TEXT,
    whlo TEXT, cuor TEXT, orst TEXT, alqt TEXT, dlqt TEXT, ivqt TEXT, dlix INTEGER, plsx INTEGER,
    disc TEXT DEFAULT '{}', orq0 TEXT, PRIMARY KEY (orno, ponr));
CREATE TABLE IF NOT EXISTS order_charges (orno TEXT, crid TEXT, crd0 TEXT, amount TEXT, cucd TEXT,
    dlix INTEGER, PRIMARY KEY (orno, crid));
CREATE TABLE IF NOT EXISTS order_addresses (orno TEXT, adrt TEXT, fields TEXT, PRIMARY KEY (orno, adrt));
CREATE TABLE IF NOT EXISTS deliveries (dlix INTEGER PRIMARY KEY, orno TEXT, whlo TEXT, plsx INTEGER,
    pgrs TEXT, dldt TEXT, olix INTEGER);
CREATE TABLE IF NOT EXISTS packages (dlix INTEGER, panr TEXT, etrn TEXT, dlrm TEXT,
    PRIMARY KEY (dlix, panr));
CREATE TABLE IF NOT EXISTS delivered (dlix INTEGER, orno TEXT, ponr INTEGER, itno TEXT, qty TEXT,
    invoiced INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS invoices (yea4 TEXT, ivno TEXT, orno TEXT, dlix INTEGER, cuno TEXT,
    cucd TEXT, ivdt TEXT, dudt TEXT, amount TEXT, inst TEXT, vono TEXT, gross TEXT,
    PRIMARY KEY (yea4, ivno));
CREATE INDEX IF NOT EXISTS invoices_orno ON invoices (orno);
CREATE TABLE IF NOT EXISTS invoice_lines (yea4 TEXT, ivno TEXT, ponr INTEGER, itno TEXT,
    qty TEXT, amount TEXT, cuor TEXT, crid TEXT DEFAULT '');
CREATE TABLE IF NOT EXISTS accounts (aitp TEXT, aitm TEXT, tx40 TEXT, PRIMARY KEY (aitp, aitm));
CREATE TABLE IF NOT EXISTS gl_batches (key1 TEXT PRIMARY KEY, intn TEXT, descr TEXT, divi TEXT,
    stat TEXT);
CREATE TABLE IF NOT EXISTS gl_batch_lines (key1 TEXT, line INTEGER, fields TEXT,
    PRIMARY KEY (key1, line));
CREATE TABLE IF NOT EXISTS gl_posted (key1 TEXT, intn TEXT, vouchers INTEGER, posted_at TEXT);
CREATE TABLE IF NOT EXISTS gl_vouchers (divi TEXT, yea4 TEXT, vono TEXT, vser TEXT, acdt TEXT,
    cucd TEXT, key1 TEXT, dsum TEXT, csum TEXT, PRIMARY KEY (divi, yea4, vono));
CREATE TABLE IF NOT EXISTS gl_voucher_lines (divi TEXT, yea4 TEXT, vono TEXT, jrno INTEGER,
    jsno INTEGER, fields TEXT, PRIMARY KEY (divi, yea4, vono, jsno));
CREATE TABLE IF NOT EXISTS stock_messages (msnr TEXT, kind TEXT, fields TEXT);
"""

_STATE_TABLES = (
    "batch_heads",
    "batch_addresses",
    "batch_lines",
    "batch_charges",
    "batch_errors",
    "orders",
    "order_lines",
    "order_addresses",
    "order_charges",
    "deliveries",
    "packages",
    "delivered",
    "invoices",
    "invoice_lines",
    "gl_batches",
    "gl_batch_lines",
    "gl_posted",
    "gl_vouchers",
    "gl_voucher_lines",
    "stock_messages",
    "series",
)

Listener = Callable[[list[SimEvent]], None]


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
        self._upgrade()
        self._db.executescript(_SCHEMA)
        self._calls: Counter[str] = Counter()
        self._http_requests = 0
        self._listeners: list[Listener] = []
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO warehouses VALUES (?, ?)", DEFAULT_WAREHOUSES.items())
            db.executemany(
                "INSERT OR IGNORE INTO order_types VALUES (?)", [(t,) for t in DEFAULT_ORDER_TYPES]
            )
            db.executemany("INSERT OR IGNORE INTO accounts VALUES ('1', ?, ?)", DEFAULT_ACCOUNTS.items())
            db.executemany("INSERT OR IGNORE INTO charge_types VALUES (?, ?)", DEFAULT_CHARGES.items())

    def _upgrade(self) -> None:
        """A file of an older simulator version is rebuilt: it holds test state, not business data."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        tables = [r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            self._db.execute(f'DROP TABLE IF EXISTS "{table}"')
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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

    def is_empty(self) -> bool:
        """No master data yet (a new file): the CLI seeds it."""
        with self.transaction() as db:
            return db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0

    # -- events ---------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def publish(self, events: list[SimEvent]) -> None:
        """Hand committed events to the listeners (a failing listener never fails the transaction)."""
        if not events:
            return
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(events)
            except Exception:
                log.exception("an M3 simulator event listener failed")

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
            lmts = self.next_lmts(db)
            db.execute(
                "INSERT OR REPLACE INTO customers (cuno, cunm, cua1, cua2, cua3, cua4, town, pono, cscd,"
                " ecar, phno, mail, stat, cucd, ortp, whlo, yref, rgdt, lmdt, lmts)"
                " VALUES (?, ?, ?, '', '', '', ?, ?, ?, '', '', '', ?, ?, ?, ?, '', ?, ?, ?)",
                (cuno, cunm, cua1, town, pono, cscd, stat, cucd, ortp, whlo, _today(), _today(), lmts),
            )

    def add_item(
        self, itno: str, itds: str, *, stat: str = "20", unms: str = "PCS", stocked: bool = True
    ) -> None:
        """An item; `stocked=False` makes a service item (no balance, never short of stock)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO items (itno, itds, stat, unms, lmdt, stocked)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (itno, itds, stat, unms, _today(), int(stocked)),
            )

    def stop_customer(self, cuno: str, code: str = "1", reason: str = "") -> bool:
        """Set (code "1".."9") or lift ("0") the customer stop (CRS610 BLCD); False if no such customer.

        A stopped customer's batch orders are rejected at Confirm with status 15 and the reason as
        the batch's error message, as M3 refuses orders of a customer on credit stop.
        """
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE customers SET blcd = ?, stop_reason = ? WHERE cuno = ?",
                (code, reason if code != "0" else "", cuno),
            ).rowcount
        return bool(changed)

    def add_charge_type(self, crid: str, description: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO charge_types VALUES (?, ?)", (crid, description))

    def set_item_status(self, itno: str, stat: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE items SET stat = ? WHERE itno = ?", (stat, itno))

    def add_alias(self, alwt: str, popn: str, itno: str, alwq: str = "") -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO aliases VALUES (?, ?, ?, ?, ?, ?)",
                (normalise_alwt(alwt), alwq, popn, itno, _today(), self.next_lmts(db)),
            )

    def add_warehouse(self, whlo: str, faci: str = "A01") -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO warehouses VALUES (?, ?)", (whlo, faci))

    def set_balance(self, whlo: str, itno: str, on_hand: Decimal | int | str) -> None:
        """Set the approved on-hand balance of an item in a warehouse (allocations are kept)."""
        with self.transaction() as db:
            lmts = self.next_lmts(db)
            db.execute(
                "INSERT INTO balances VALUES (?, ?, ?, '0', '', '', ?) ON CONFLICT (whlo, itno)"
                " DO UPDATE SET stqt = excluded.stqt, lmts = excluded.lmts",
                (whlo, itno, str(Decimal(on_hand)), lmts),
            )

    def balance(self, whlo: str, itno: str) -> dict[str, Decimal] | None:
        with self.transaction() as db:
            row = db.execute("SELECT * FROM balances WHERE whlo = ? AND itno = ?", (whlo, itno)).fetchone()
        if row is None:
            return None
        return {"on_hand": Decimal(row["stqt"]), "allocated": Decimal(row["alqt"])}

    def seed_from_catalog(
        self,
        catalog: Iterable[CatalogItem],
        marketplaces: Mapping[str, Marketplace],
        *,
        alias_category: str = "03",
        alias_qualifier: str = "AMZN",
        skip_skus: Iterable[str] = (),
        on_hand: Decimal | int = DEFAULT_ON_HAND,
    ) -> None:
        """One customer per marketplace, an item with a SKU alias per catalog entry, and its stock;
        plus the service items of `DEFAULT_SERVICE_ITEMS` (charges entered as order lines).

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
        for itno, name in DEFAULT_SERVICE_ITEMS.items():
            self.add_item(itno, name, stocked=False)
        for entry in catalog:
            if entry.sku in skipped:
                continue
            self.add_item(entry.item_number, (entry.item_name or entry.title)[:60])
            self.add_alias(alias_category, entry.sku, entry.item_number, alias_qualifier)
            for whlo in DEFAULT_WAREHOUSES:
                self.set_balance(whlo, entry.item_number, on_hand)

    # -- number series and timestamps -----------------------------------------------------------

    @staticmethod
    def next_number(db: sqlite3.Connection, series: str) -> str:
        """Next number of a series, as M3 shows it (10-digit order numbers, 9-digit invoices, ...)."""
        start = SERIES_START[series]
        db.execute("INSERT OR IGNORE INTO series VALUES (?, ?)", (series, start + 1))
        value = db.execute("SELECT next FROM series WHERE name = ?", (series,)).fetchone()[0]
        db.execute("UPDATE series SET next = next + 1 WHERE name = ?", (series,))
        width = {"temp": 10, "order": 10}.get(series, 0)
        return f"{value:0{width}d}"

    @staticmethod
    def next_lmts(db: sqlite3.Connection) -> int:
        """M3's change timestamp (LMTS, YYYYMMDDHHMMSSmmm), strictly increasing within the store."""
        now = int(dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")[:17])
        row = db.execute("SELECT next FROM series WHERE name = 'lmts'").fetchone()
        value = max(now, (row[0] + 1) if row else now)
        db.execute("INSERT OR REPLACE INTO series VALUES ('lmts', ?)", (value,))
        return value

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

    def gl_batches_by_key(self) -> dict[str, int]:
        """How many times each GL batch key was posted (UpdBatch); more than once is a duplicate."""
        with self.transaction() as db:
            rows = db.execute("SELECT key1, COUNT(*) FROM gl_posted GROUP BY key1").fetchall()
        return {row[0]: row[1] for row in rows}

    def duplicate_orders(self) -> int:
        """How many CUORs have more than one confirmed customer order."""
        return sum(1 for count in self.orders_by_cuor().values() if count > 1)

    def orders_total(self) -> int:
        with self.transaction() as db:
            return int(db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])

    def stats(self) -> dict[str, Any]:
        by_cuor = self.orders_by_cuor()
        gl = self.gl_batches_by_key()
        with self.transaction() as db:
            open_batches = db.execute("SELECT COUNT(*) FROM batch_heads WHERE stat != '90'").fetchone()[0]
            invoices = db.execute("SELECT COUNT(*) FROM invoices").fetchone()[0]
            deliveries = db.execute("SELECT COUNT(DISTINCT dlix) FROM delivered").fetchone()[0]
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
            "deliveries": deliveries,
            "invoices": invoices,
            "gl_batches_posted": sum(gl.values()),
            "duplicate_gl_batches": sorted(key for key, count in gl.items() if count > 1)[:50],
            "calls": calls,
            "http_requests": http_requests,
        }

    def orders(self) -> list[dict[str, Any]]:
        """Every customer order with its lines and charges (the control plane's /_sim/orders)."""
        with self.transaction() as db:
            heads = [dict(row) for row in db.execute("SELECT * FROM orders ORDER BY orno")]
            lines: dict[str, list[dict[str, Any]]] = {}
            for row in db.execute("SELECT * FROM order_lines ORDER BY orno, ponr"):
                line = dict(row)
                lines.setdefault(line.pop("orno"), []).append(line)
            charges: dict[str, list[dict[str, Any]]] = {}
            for row in db.execute("SELECT * FROM order_charges ORDER BY orno, crid"):
                charge = dict(row)
                charges.setdefault(charge.pop("orno"), []).append(charge)
        for head in heads:
            head["lines"] = lines.get(head["orno"], [])
            head["charges"] = charges.get(head["orno"], [])
        return heads

    def invoices(self) -> list[dict[str, Any]]:
        with self.transaction() as db:
            return [dict(row) for row in db.execute("SELECT * FROM invoices ORDER BY yea4, ivno")]

    def reset(self) -> None:
        """Forget orders, deliveries, invoices, GL batches, number series and counters, lift customer
        stops; keep master data."""
        with self.transaction() as db:
            for table in _STATE_TABLES:
                db.execute(f"DELETE FROM {table}")
            db.execute("UPDATE balances SET alqt = '0'")
            db.execute("UPDATE customers SET blcd = '0', stop_reason = ''")
        with self._lock:
            self._calls.clear()
            self._http_requests = 0


def _today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d")


def normalise_alwt(value: str) -> str:
    """Alias category is numeric in MI (ALWT number 2): "3" and "03" are the same category."""
    return f"{int(value):02d}" if value.strip().isdigit() else value


def dumps(fields: Mapping[str, str]) -> str:
    return json.dumps(dict(fields), sort_keys=True)
