"""The simulator's MI building blocks: M3-style errors, the transaction registry and shared checks.

Each handler module (`orders`, `masterdata`, `stock`, `invoicing`, `ledger`) registers its
transactions here with `@handles(program, transaction)`; `programs` runs them behind the MI layer.
A handler receives the SQLite connection inside the transaction's own SQLite transaction, the
record as the MI layer accepted it (blanks dropped) and a `Call` with who runs it and where to put
the events it causes (BODs the simulator sends after the transaction commits).

Error codes: M3's MI layer errors use the error types MandatoryInputFieldNotFound,
InputFieldTooLong, TransactionNotFound and ServerReturnedNOK; the codes used here (W<field>0203 for
a record that does not exist, X... for MI-layer checks) are the simulator's convention in M3's
message-id format, not a copy of a tenant's message file.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

NOK = "ServerReturnedNOK"


class SimMIError(Exception):
    """An MI error as M3 reports it.

    The transaction's changes are rolled back; `keep`, when given, then runs in a transaction of
    its own, for what M3 keeps although it answers NOK (an error recorded against a batch order,
    a batch order's rejected status).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        field: str | None = None,
        error_type: str = NOK,
        keep: Callable[[sqlite3.Connection, SimMIError], None] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.error_type = error_type
        self.keep = keep


Keep = Callable[[sqlite3.Connection, SimMIError], None] | None


@dataclass(frozen=True)
class SimEvent:
    """A state change the simulator tells ION about (as a BOD) once its transaction committed."""

    verb: str
    noun: str
    #: The document id (DLIX, invoice number, ...), part of the BODID.
    document_id: str
    #: Canonical object(s) the BOD carries.
    documents: tuple[Any, ...]
    #: Facts about the document an ION document flow can filter on (e.g. ("ORTP", "MCF")).
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass
class Call:
    """Who runs the transaction, in which company/division, and the events it causes."""

    user: str
    cono: str = "100"
    divi: str = "AAA"
    #: Invoice delivered lines in the transaction that delivers them (else: on /_sim/invoice).
    invoice_on_delivery: bool = True
    events: list[SimEvent] = field(default_factory=list)


Row = dict[str, str]
Handler = Callable[[sqlite3.Connection, dict[str, str], Call], list[Row]]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(program: str, transaction: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[(program, transaction)] = handler
        return handler

    return register


def served_transactions() -> list[tuple[str, str]]:
    return sorted(HANDLERS)


# -- shared checks ----------------------------------------------------------------------------


def not_exist(what: str, value: str, code: str, field: str, keep: Keep = None) -> SimMIError:
    return SimMIError(f"{what} {value} does not exist", code=code, field=field, keep=keep)


def customer(db: sqlite3.Connection, cuno: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM customers WHERE cuno = ?", (cuno,)).fetchone()
    if row is None:
        raise not_exist("Customer number", cuno, "WCU0203", "CUNO")
    return row


def item(db: sqlite3.Connection, itno: str, keep: Keep = None) -> sqlite3.Row:
    row = db.execute("SELECT * FROM items WHERE itno = ?", (itno,)).fetchone()
    if row is None:
        raise not_exist("Item number", itno, "WIT0203", "ITNO", keep)
    return row


def warehouse(db: sqlite3.Connection, whlo: str, keep: Keep = None) -> sqlite3.Row:
    row = db.execute("SELECT * FROM warehouses WHERE whlo = ?", (whlo,)).fetchone()
    if row is None:
        raise SimMIError(f"Warehouse {whlo} does not exist", code="WWH0203", field="WHLO", keep=keep)
    return row


def date(value: str | None, field: str, keep: Keep = None) -> str:
    """A YYYYMMDD date as M3 takes it ('' when not given)."""
    if not value:
        return ""
    try:
        dt.datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise SimMIError(f"Date {value} is invalid", code="WDT0101", field=field, keep=keep) from None
    return value


def decimal(value: str, field: str, label: str, keep: Keep = None) -> Decimal:
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise SimMIError(f"{label} {value} is not a number", code="WNU0101", field=field, keep=keep) from None
    if not result.is_finite():
        raise SimMIError(f"{label} {value} is not a number", code="WNU0101", field=field, keep=keep)
    return result


def positive(value: str | None, field: str, label: str, keep: Keep = None) -> Decimal:
    quantity = decimal(value or "0", field, label, keep)
    if quantity <= 0:
        raise SimMIError(f"{label} must be greater than zero", code="WQT0105", field=field, keep=keep)
    return quantity


def narrowed(query: str, args: list[object], *conditions: tuple[str, object]) -> tuple[str, list[object]]:
    """`query` with " AND <condition>" for each condition whose value is given (a List filter)."""
    for condition, value in conditions:
        if value not in (None, ""):
            query += f" AND {condition}"
            args.append(value)
    return query, args


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d")


def number(value: Decimal) -> str:
    """A quantity or amount the way MI returns it: plain digits, no exponent, no trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")
