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


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)
