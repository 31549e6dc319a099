"""The product's own tables and the database engine they live in.

The durable engine (DBOS) and these tables share one database: a SQLite file by default,
PostgreSQL for scale-out. SQLite connections get WAL, `synchronous=NORMAL`, a busy timeout and
`BEGIN IMMEDIATE` transactions (several threads write at once; a deferred transaction that later
needs the write lock would fail instead of waiting).

Tables are prefixed `m3a_` so they never collide with the engine's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

metadata = sa.MetaData()

#: The trail of each Amazon order: where it stands and which M3 order it became.
order_trail = sa.Table(
    "m3a_order_trail",
    metadata,
    sa.Column("amazon_order_id", sa.String(40), primary_key=True),
    sa.Column("marketplace_id", sa.String(20)),
    sa.Column("channel", sa.String(10)),
    sa.Column("amazon_status", sa.String(30)),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("m3_customer", sa.String(10)),
    sa.Column("m3_order_number", sa.String(10)),
    sa.Column("workflow_id", sa.String(100)),
    sa.Column("detail", sa.Text),
    #: Amazon's amounts, for comparing with what M3 invoices (Decimal as text, exact)
    sa.Column("currency", sa.String(3)),
    sa.Column("goods_total", sa.String(30)),
    sa.Column("order_total", sa.String(30)),
    sa.Column("m3_invoiced_total", sa.String(30)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: The timeline of each Amazon order: events received, M3 order, deliveries, shipments confirmed,
#: invoices, incidents, retries. `key` makes each entry idempotent (a re-run step adds nothing).
order_events = sa.Table(
    "m3a_order_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("amazon_order_id", sa.String(40), nullable=False, index=True),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("workflow_id", sa.String(150)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("amazon_order_id", "key", name="uq_m3a_order_events_key"),
)

#: The dead-letter store: everything that could not be processed, with the original payload.
incidents = sa.Table(
    "m3a_incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("reason_code", sa.String(60), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("subject", sa.String(100)),
    sa.Column("payload", sa.Text),
    sa.Column("actions", sa.Text),
    sa.Column("status", sa.String(20), nullable=False, server_default="open"),
    #: How it ended: "retried: order created", "discarded: <operator's reason>", ...
    sa.Column("resolution", sa.Text),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: The audit log: every operator action (retry, discard, accepted suggestion), who did it, why, and
#: the state of its subject before and after. Written in the same transaction as the change.
audit = sa.Table(
    "m3a_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False, index=True),
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
    sa.Column("reason", sa.Text),
)

#: Every notification taken from SQS, once per NotificationId (duplicates are counted, not redone).
intake_log = sa.Table(
    "m3a_intake_log",
    metadata,
    sa.Column("notification_id", sa.String(100), primary_key=True),
    sa.Column("notification_type", sa.String(60), nullable=False),
    sa.Column("subject", sa.String(100)),
    sa.Column("workflow_id", sa.String(100)),
    sa.Column("deliveries", sa.Integer, nullable=False, server_default="1"),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

#: The rate governor's token buckets when workers share PostgreSQL (amazon/governor.py): one row
#: per (selling partner, operation), refilled and taken in one statement under its row lock.
rate_buckets = sa.Table(
    "m3a_rate_buckets",
    metadata,
    sa.Column("seller_id", sa.String(40), primary_key=True),
    sa.Column("operation", sa.String(80), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("rate", sa.Float, nullable=False),
    sa.Column("burst", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: Where the catch-up poll stands (amazon/poll.py): the end of the last complete poll, and which
#: worker holds the current one (so the workers of a fleet take turns instead of all polling).
poll_cursors = sa.Table(
    "m3a_poll_cursors",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("cursor", sa.DateTime(timezone=True)),
    sa.Column("last_finished_at", sa.DateTime(timezone=True)),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    sa.Column("last_orders", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


#: BODs that ION delivered to our IMS endpoint, once per messageId and once per BODID. A row is
#: committed before the endpoint answers 2xx; `status` is "received" until the BOD's handling was
#: enqueued (the endpoint's `on_bod` returned), then "enqueued".
bod_inbox = sa.Table(
    "m3a_bod_inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(250), nullable=False, unique=True),
    sa.Column("bod_id", sa.String(500), nullable=False, unique=True),
    sa.Column("document_name", sa.String(100), nullable=False),
    sa.Column("noun", sa.String(60), nullable=False),
    sa.Column("verb", sa.String(30), nullable=False),
    sa.Column("from_logical_id", sa.String(250)),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("deliveries", sa.Integer, nullable=False, server_default="1"),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("enqueued_at", sa.DateTime(timezone=True)),
)

#: Amazon events that have no flow of their own yet (FBA inventory, MCF status, report and feed
#: completion, listing quantities): stored durably once per NotificationId, with the canonical
#: event as JSON, until the flow that consumes them takes them ("pending" -> "handled").
event_inbox = sa.Table(
    "m3a_event_inbox",
    metadata,
    sa.Column("notification_id", sa.String(100), primary_key=True),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("subject", sa.String(100)),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("handled_at", sa.DateTime(timezone=True)),
)

#: Console and admin API users (ops/users.py): argon2 password hashes, one role each.
users = sa.Table(
    "m3a_users",
    metadata,
    sa.Column("username", sa.String(100), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_login_at", sa.DateTime(timezone=True)),
)

#: Bearer tokens for the admin API, each acting as its user; only a SHA-256 of the token is kept.
api_tokens = sa.Table(
    "m3a_api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("username", sa.String(100), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

#: Console sessions: the cookie holds a random id, the table its SHA-256 and the session's CSRF token.
sessions = sa.Table(
    "m3a_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(100), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

#: Failed logins, per user name and per client address, for login throttling (shared by workers).
login_failures = sa.Table(
    "m3a_login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


#: The latest M3 balance we know of per item and warehouse (flows/inventory.py). `version` is M3's
#: change time in microseconds since the epoch: a row only ever moves to a newer version, so events
#: that arrive late or twice cannot bring an older balance back. `dirty`: the item's Amazon
#: quantity must be computed again.
inventory_balances = sa.Table(
    "m3a_inventory_balances",
    metadata,
    sa.Column("item_number", sa.String(15), primary_key=True),
    sa.Column("warehouse", sa.String(3), primary_key=True),
    sa.Column("on_hand", sa.String(30), nullable=False),
    sa.Column("allocated", sa.String(30), nullable=False),
    sa.Column("reserved", sa.String(30), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("dirty", sa.Boolean, nullable=False, index=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: Per Amazon SKU, the last quantity sent and the stock version it was computed from: a quantity
#: is sent only with a newer version, so an older one never follows a newer one. `feed_id` is set
#: while the quantity travels in a feed Amazon has not finished (no patch may overtake it).
inventory_pushed = sa.Table(
    "m3a_inventory_pushed",
    metadata,
    sa.Column("sku", sa.String(40), primary_key=True),
    sa.Column("item_number", sa.String(15)),
    sa.Column("quantity", sa.Integer),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("product_type", sa.String(80)),
    sa.Column("feed_id", sa.String(40), index=True),
    sa.Column("channel", sa.String(10)),
    sa.Column("pushed_at", sa.DateTime(timezone=True)),
)

#: JSON_LISTINGS_FEEDs of quantities: what was sent (`updates`: JSON [[sku, quantity, version]])
#: and how it ended.
inventory_feeds = sa.Table(
    "m3a_inventory_feeds",
    metadata,
    sa.Column("feed_id", sa.String(40), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("messages", sa.Integer, nullable=False),
    sa.Column("updates", sa.Text, nullable=False),
    sa.Column("accepted", sa.Integer),
    sa.Column("failed", sa.Integer),
    sa.Column("alerted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)

#: The trail of each M3 order Amazon ships from FBA (Multi-Channel Fulfillment, flows/mcf.py):
#: its fulfillment order at Amazon, where it stands there and in M3, and the latest outcome.
mcf_orders = sa.Table(
    "m3a_mcf_orders",
    metadata,
    sa.Column("m3_order_number", sa.String(10), primary_key=True),
    sa.Column("request_id", sa.String(40), nullable=False, unique=True),
    #: the other channel's order reference (M3's CUOR): M3's shipment BODs name the order by it
    sa.Column("cuor", sa.String(20), index=True),
    sa.Column("outcome", sa.String(20), nullable=False),
    #: Amazon's fulfillmentOrderStatus as last seen, and when the order was created there
    sa.Column("amazon_status", sa.String(30)),
    sa.Column("created_at_amazon", sa.DateTime(timezone=True)),
    #: M3's lowest and highest line status as last seen ("4444", "7777", ...)
    sa.Column("m3_status", sa.String(4)),
    sa.Column("carrier", sa.String(60)),
    sa.Column("tracking_number", sa.String(60)),
    #: an incident that a later run may clear by itself (M3 or Amazon was unavailable)
    sa.Column("retryable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("m3_invoiced_total", sa.String(30)),
    sa.Column("workflow_id", sa.String(150)),
    sa.Column("detail", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


#: Settlement files as received (the message store of the settlement flow), once per content hash;
#: gzip-compressed unless they came compressed. `source`: "file:<name>" or "report:<reportId>".
settlement_files = sa.Table(
    "m3a_settlement_files",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("settlement_id", sa.String(40), index=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

#: One row per Amazon settlement: where it stands (received, invalid, unmapped, posted, failed),
#: its figures (Decimal as text, exact), the GL batches it became and its reconciliation report.
settlements = sa.Table(
    "m3a_settlements",
    metadata,
    sa.Column("settlement_id", sa.String(40), primary_key=True),
    sa.Column("file_sha256", sa.String(64)),
    sa.Column("report_id", sa.String(40)),
    sa.Column("marketplace", sa.String(40)),
    sa.Column("currency", sa.String(3)),
    sa.Column("total_amount", sa.String(30)),
    sa.Column("sum_of_lines", sa.String(30)),
    sa.Column("lines", sa.Integer),
    sa.Column("start_date", sa.DateTime(timezone=True)),
    sa.Column("end_date", sa.DateTime(timezone=True)),
    sa.Column("deposit_date", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("mapping_version", sa.String(20)),
    sa.Column("batches", sa.Text),
    sa.Column("reconciliation", sa.Text),
    sa.Column("detail", sa.Text),
    sa.Column("workflow_id", sa.String(150)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


#: The fleet's workers (ops/workers.py): each records a heartbeat here every few seconds. A worker
#: whose heartbeat is too old is dead; the live worker that claims its row (status "recovering",
#: `lease_until`) hands its unfinished workflows to the queues, then marks it "taken_over".
workers = sa.Table(
    "m3a_workers",
    metadata,
    sa.Column("executor_id", sa.String(100), primary_key=True),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("version", sa.String(40)),
    #: running, stopped (a clean stop), recovering (being taken over), taken_over
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("taken_over_by", sa.String(100)),
    sa.Column("taken_over_at", sa.DateTime(timezone=True)),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    sa.Column("recovered", sa.Integer, nullable=False, server_default="0"),
)


def sqlalchemy_url(database_url: str) -> str:
    """The settings URL as SQLAlchemy wants it (psycopg 3 as the PostgreSQL driver)."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def ensure_sqlite_directory(database_url: str) -> None:
    url = make_url(database_url)
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()
    # Python's sqlite3 then opens each transaction with BEGIN IMMEDIATE.
    dbapi_conn.isolation_level = "IMMEDIATE"


def create_engine(database_url: str, *, pool_size: int = 10) -> Engine:
    """An engine with the settings this product relies on (see module docstring)."""
    ensure_sqlite_directory(database_url)
    url = sqlalchemy_url(database_url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=20,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


#: PostgreSQL advisory lock taken while the tables are created: workers of a fleet that start at
#: the same moment would otherwise race on CREATE TABLE (a unique violation in pg_type).
CREATE_TABLES_LOCK = 0x6D3A_7462


def create_tables(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CREATE_TABLES_LOCK})
            metadata.create_all(conn)
        return
    metadata.create_all(engine)
