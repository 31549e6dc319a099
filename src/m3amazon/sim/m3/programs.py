"""MI transactions of the M3 simulator, with M3's rules, over the SQLite store.

Strictness is the point: a test that passes here should pass against M3, so every transaction
takes and returns only the fields of the MI field table, refuses unknown, too long or missing
fields the way the MI layer does, and applies the business checks the integration relies on
(customer, item, warehouse and order type must exist; items must be in status 20; quantities must
be positive). Like M3, it does *not* refuse a second order with the same CUOR.

Batch order entry follows OIS100MI: AddBatchHead opens a batch order (temporary number),
AddBatchAddress/AddBatchLine fill it, Confirm releases it into a customer order (batch status 90,
lines 22). A refused address or line is recorded against the batch (LstErrMsgOrder) and Confirm
then rejects the batch (status 15 for header errors, 25 for line errors) instead of creating a
partial order; how a real tenant treats such a batch is UNVERIFIED (OIS275 shows rejected batches
with statuses 15-55).

Error codes: M3's MI layer errors use the error types MandatoryInputFieldNotFound,
InputFieldTooLong, TransactionNotFound and ServerReturnedNOK; the codes below (W<field>0203 for a
record that does not exist, X... for MI-layer checks) are the simulator's convention in M3's
message-id format, not a copy of a tenant's message file.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from m3amazon.m3.fields import FieldTable
from m3amazon.sim.m3.store import SimStore, dumps, normalise_alwt

NOK = "ServerReturnedNOK"
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_SEARCH_TERM = re.compile(r'\s*(?:AND\s+)?([A-Z][A-Z0-9]{3}):(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))')
_SEARCHABLE = {"CUOR": "cuor", "CUNO": "cuno", "ORNO": "orno", "ORTP": "ortp"}


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


def batch_error(orno: str, *, header: bool = False) -> Callable[[sqlite3.Connection, SimMIError], None]:
    """Record the error against batch order `orno` (LstErrMsgOrder); Confirm then rejects the batch."""

    def record(db: sqlite3.Connection, exc: SimMIError) -> None:
        seq = db.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM batch_errors WHERE orno = ?", (orno,)
        ).fetchone()[0]
        db.execute(
            "INSERT INTO batch_errors VALUES (?, ?, ?, ?, ?, ?)",
            (orno, seq, "1" if header else "2", exc.code, exc.message[:60], exc.field or ""),
        )

    return record


@dataclass(frozen=True)
class Call:
    """Who runs the transaction (GetCurrentUser answers with it)."""

    user: str


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


# -- the MI layer -----------------------------------------------------------------------------


def check_fields(table: FieldTable, program: str, transaction: str, record: dict[str, str]) -> dict[str, str]:
    """The record as M3's MI layer accepts it (blanks dropped), or the MI-layer error."""
    if not table.has(program, transaction) or (program, transaction) not in HANDLERS:
        raise SimMIError(
            f"Transaction {transaction} of program {program} is not available",
            code="XTR0001",
            error_type="TransactionNotFound",
        )
    fields = table.input_fields(program, transaction)
    given = {name: value for name, value in record.items() if value.strip() != ""}
    for name, value in given.items():
        spec = fields.get(name)
        if spec is None:
            raise SimMIError(
                f"Field {name} is not an input field of {transaction}", code="XFL0001", field=name
            )
        size = len(value)
        if spec.type == "number":
            if not _NUMBER.match(value.strip()):
                raise SimMIError(f"Field {name} must be numeric", code="XFL0004", field=name)
            size = sum(ch.isdigit() for ch in value)
        if spec.length is not None and size > spec.length:
            raise SimMIError(
                f"Input field {name} is too long, max length {spec.length}",
                code="XFL0002",
                field=name,
                error_type="InputFieldTooLong",
            )
    for name, spec in fields.items():
        if spec.required and name not in given:
            raise SimMIError(
                f"Mandatory input field {name} is missing",
                code="XFL0003",
                field=name,
                error_type="MandatoryInputFieldNotFound",
            )
    return {name: value.rstrip() for name, value in given.items()}


def run_transaction(
    store: SimStore,
    table: FieldTable,
    program: str,
    transaction: str,
    record: dict[str, str],
    *,
    user: str,
    maxrecs: int = 0,
) -> list[Row]:
    """Run one MI transaction against the store; rows as M3 returns them, or SimMIError."""
    store.count_call(program, transaction)
    given = check_fields(table, program, transaction, record)
    try:
        with store.transaction() as db:
            rows = HANDLERS[(program, transaction)](db, given, Call(user))
    except SimMIError as exc:
        if exc.keep is not None:
            with store.transaction() as db:
                exc.keep(db, exc)
        raise
    return rows[:maxrecs] if maxrecs > 0 else rows


# -- shared checks ----------------------------------------------------------------------------


def _not_exist(what: str, value: str, code: str, field: str) -> SimMIError:
    return SimMIError(f"{what} {value} does not exist", code=code, field=field)


def _customer(db: sqlite3.Connection, cuno: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM customers WHERE cuno = ?", (cuno,)).fetchone()
    if row is None:
        raise _not_exist("Customer number", cuno, "WCU0203", "CUNO")
    return row


Keep = Callable[[sqlite3.Connection, SimMIError], None] | None


def _warehouse(db: sqlite3.Connection, whlo: str, keep: Keep = None) -> None:
    if db.execute("SELECT 1 FROM warehouses WHERE whlo = ?", (whlo,)).fetchone() is None:
        raise SimMIError(f"Warehouse {whlo} does not exist", code="WWH0203", field="WHLO", keep=keep)


def _date(value: str | None, field: str, keep: Keep = None) -> str:
    if not value:
        return ""
    try:
        dt.datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise SimMIError(f"Date {value} is invalid", code="WDT0101", field=field, keep=keep) from None
    return value


def _decimal(value: str, field: str, label: str, keep: Keep) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise SimMIError(f"{label} {value} is not a number", code="WNU0101", field=field, keep=keep) from None


def _open_batch(db: sqlite3.Connection, orno: str) -> sqlite3.Row:
    head = db.execute("SELECT * FROM batch_heads WHERE orno = ?", (orno,)).fetchone()
    if head is None:
        raise _not_exist("Batch order", orno, "WOR0203", "ORNO")
    if head["stat"] == "90":
        raise SimMIError(
            f"Batch order {orno} is already released as order {head['ornr']}", code="WOR0601", field="ORNO"
        )
    return head


# -- CRS610MI, MMS200MI, MMS025MI ---------------------------------------------------------------


@handles("CRS610MI", "GetBasicData")
def get_basic_data(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    c = _customer(db, rec["CUNO"])
    return [
        {
            "CONO": "100",
            "CUNO": c["cuno"],
            "CUNM": c["cunm"],
            "CUA1": c["cua1"],
            "CUA2": c["cua2"],
            "TOWN": c["town"],
            "PONO": c["pono"],
            "CSCD": c["cscd"],
            "STAT": c["stat"],
            "CUCD": c["cucd"],
        }
    ]


@handles("MMS200MI", "Get")
def get_item(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    item = db.execute("SELECT * FROM items WHERE itno = ?", (rec["ITNO"],)).fetchone()
    if item is None:
        raise _not_exist("Item number", rec["ITNO"], "WIT0203", "ITNO")
    return [{"ITNO": item["itno"], "ITDS": item["itds"], "STAT": item["stat"], "UNMS": item["unms"]}]


@handles("MMS025MI", "GetItem")
def get_item_by_alias(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    alwt, alwq = normalise_alwt(rec["ALWT"]), rec.get("ALWQ", "")
    row = db.execute(
        "SELECT itno FROM aliases WHERE alwt = ? AND alwq = ? AND popn = ? ORDER BY itno LIMIT 1",
        (alwt, alwq, rec["POPN"]),
    ).fetchone()
    if row is None:
        raise _not_exist("Alias number", rec["POPN"], "WPO0203", "POPN")
    return [{"CONO": "100", "ITNO": row["itno"], "ALWT": alwt, "ALWQ": alwq, "POPN": rec["POPN"]}]


@handles("MMS025MI", "AddAlias")
def add_alias(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    if db.execute("SELECT 1 FROM items WHERE itno = ?", (rec["ITNO"],)).fetchone() is None:
        raise _not_exist("Item number", rec["ITNO"], "WIT0203", "ITNO")
    key = (normalise_alwt(rec["ALWT"]), rec.get("ALWQ", ""), rec["POPN"], rec["ITNO"])
    if db.execute(
        "SELECT 1 FROM aliases WHERE alwt = ? AND alwq = ? AND popn = ? AND itno = ?", key
    ).fetchone():
        raise SimMIError(f"Alias number {rec['POPN']} already exists", code="WPO0201", field="POPN")
    db.execute("INSERT INTO aliases VALUES (?, ?, ?, ?)", key)
    return []


# -- OIS100MI batch order entry -----------------------------------------------------------------


@handles("OIS100MI", "AddBatchHead")
def add_batch_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    customer = _customer(db, rec["CUNO"])
    if customer["stat"] != "20":
        raise SimMIError(
            f"Customer {rec['CUNO']} has status {customer['stat']}", code="WCU0124", field="CUNO"
        )
    ortp = rec.get("ORTP", customer["ortp"])
    if db.execute("SELECT 1 FROM order_types WHERE ortp = ?", (ortp,)).fetchone() is None:
        raise SimMIError(f"Order type {ortp} does not exist", code="WOT0203", field="ORTP")
    whlo = rec.get("WHLO", customer["whlo"])
    _warehouse(db, whlo)
    faci = rec.get("FACI", "A01")
    if db.execute("SELECT 1 FROM warehouses WHERE faci = ?", (faci,)).fetchone() is None:
        raise SimMIError(f"Facility {faci} does not exist", code="WFA0203", field="FACI")
    cucd = rec.get("CUCD", customer["cucd"])
    if not re.fullmatch(r"[A-Z]{3}", cucd):
        raise SimMIError(f"Currency {cucd} is invalid", code="WCU0501", field="CUCD")
    ordt = _date(rec.get("ORDT"), "ORDT") or dt.date.today().strftime("%Y%m%d")
    rldt = _date(rec.get("RLDT"), "RLDT")
    orno = SimStore.next_number(db, "temp")
    db.execute(
        "INSERT INTO batch_heads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '00', '', ?)",
        (
            orno,
            rec["CUNO"],
            rec.get("CUOR", ""),
            ortp,
            whlo,
            faci,
            cucd,
            ordt,
            rldt,
            rec.get("YREF", ""),
            dumps(rec),
        ),
    )
    return [{"ORNO": orno}]


@handles("OIS100MI", "AddBatchAddress")
def add_batch_address(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    orno = rec["ORNO"]
    _open_batch(db, orno)
    adrt = rec["ADRT"].lstrip("0") or "0"
    if adrt not in ("1", "2", "3", "4"):
        raise SimMIError(
            f"Address type {adrt} is invalid",
            code="WAD0102",
            field="ADRT",
            keep=batch_error(orno, header=True),
        )
    if rec.get("CSCD") and not re.fullmatch(r"[A-Z]{2,3}", rec["CSCD"]):
        raise SimMIError(
            f"Country {rec['CSCD']} is invalid",
            code="WCS0203",
            field="CSCD",
            keep=batch_error(orno, header=True),
        )
    if db.execute("SELECT 1 FROM batch_addresses WHERE orno = ? AND adrt = ?", (orno, adrt)).fetchone():
        raise SimMIError(
            f"Address type {adrt} already exists for {orno}",
            code="WAD0201",
            field="ADRT",
            keep=batch_error(orno, header=True),
        )
    db.execute("INSERT INTO batch_addresses VALUES (?, ?, ?)", (orno, adrt, dumps(rec)))
    return []


@handles("OIS100MI", "AddBatchLine")
def add_batch_line(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    orno = rec["ORNO"]
    head = _open_batch(db, orno)
    item = db.execute("SELECT * FROM items WHERE itno = ?", (rec["ITNO"],)).fetchone()
    if item is None:
        raise SimMIError(
            f"Item number {rec['ITNO']} does not exist", code="WIT0203", field="ITNO", keep=batch_error(orno)
        )
    if item["stat"] != "20":
        raise SimMIError(
            f"Item {rec['ITNO']} has status {item['stat']}, must be 20",
            code="WIT0124",
            field="ITNO",
            keep=batch_error(orno),
        )
    whlo = rec.get("WHLO", head["whlo"])
    _warehouse(db, whlo, keep=batch_error(orno))
    quantity = _decimal(rec.get("ORQT", "0"), "ORQT", "Ordered quantity", batch_error(orno))
    if quantity <= 0:
        raise SimMIError(
            "Ordered quantity must be greater than zero", code="WOR0105", field="ORQT", keep=batch_error(orno)
        )
    price = _decimal(rec.get("SAPR", "0"), "SAPR", "Sales price", batch_error(orno))
    if price < 0:
        raise SimMIError(
            "Sales price must not be negative", code="WSA0105", field="SAPR", keep=batch_error(orno)
        )
    _date(rec.get("DWDT"), "DWDT", keep=batch_error(orno))
    ponr = db.execute(
        "SELECT COALESCE(MAX(ponr), 0) + 1 FROM batch_lines WHERE orno = ?", (orno,)
    ).fetchone()[0]
    db.execute(
        "INSERT INTO batch_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (orno, ponr, rec["ITNO"], str(quantity), str(price), whlo, rec.get("CUOR", ""), dumps(rec)),
    )
    return [{"PONR": str(ponr), "POSX": "0"}]


@handles("OIS100MI", "Confirm")
def confirm(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    orno = rec["ORNO"]
    head = _open_batch(db, orno)
    errors = db.execute("SELECT levl FROM batch_errors WHERE orno = ?", (orno,)).fetchall()
    lines = db.execute("SELECT * FROM batch_lines WHERE orno = ? ORDER BY ponr", (orno,)).fetchall()
    if errors or not lines:
        status = "15" if any(row["levl"] == "1" for row in errors) else "25"
        reason = "has errors" if errors else "has no lines"

        def reject(db: sqlite3.Connection, exc: SimMIError) -> None:
            db.execute("UPDATE batch_heads SET stat = ? WHERE orno = ?", (status, orno))

        raise SimMIError(
            f"Batch order {orno} {reason}, not released (status {status})",
            code="WOR0610",
            field="ORNO",
            keep=reject,
        )
    number = SimStore.next_number(db, "order")
    total = sum((Decimal(line["orqt"]) * Decimal(line["sapr"]) for line in lines), Decimal(0))
    db.execute(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '20', '22', '22', ?)",
        (
            number,
            orno,
            head["cuno"],
            head["cuor"],
            head["ortp"],
            head["whlo"],
            head["faci"],
            head["cucd"],
            head["ordt"],
            head["rldt"],
            head["yref"],
            str(total.quantize(Decimal("0.01"))),
        ),
    )
    db.executemany(
        "INSERT INTO order_lines VALUES (?, ?, ?, ?, ?, ?, ?, '22')",
        [
            (number, line["ponr"], line["itno"], line["orqt"], line["sapr"], line["whlo"], line["cuor"])
            for line in lines
        ],
    )
    db.execute(
        "INSERT INTO order_addresses SELECT ?, adrt, fields FROM batch_addresses WHERE orno = ?",
        (number, orno),
    )
    db.execute("UPDATE batch_heads SET stat = '90', ornr = ? WHERE orno = ?", (number, orno))
    return [{"ORNO": number, "STAT": "90"}]


@handles("OIS100MI", "DelBatchHead")
def delete_batch_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    orno = rec["ORNO"]
    head = db.execute("SELECT stat FROM batch_heads WHERE orno = ?", (orno,)).fetchone()
    if head is None:
        raise _not_exist("Batch order", orno, "WOR0203", "ORNO")
    if head["stat"] == "90":
        raise SimMIError(
            f"Batch order {orno} is released and cannot be deleted", code="WOR0603", field="ORNO"
        )
    for table in ("batch_heads", "batch_addresses", "batch_lines", "batch_errors"):
        db.execute(f"DELETE FROM {table} WHERE orno = ?", (orno,))
    return []


@handles("OIS100MI", "GetBatchHead")
def get_batch_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    head = db.execute("SELECT * FROM batch_heads WHERE orno = ?", (rec["ORNO"],)).fetchone()
    if head is None:
        raise _not_exist("Batch order", rec["ORNO"], "WOR0203", "ORNO")
    return [_batch_row(head)]


@handles("OIS100MI", "LstBatchHead")
def list_batch_heads(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    _customer(db, rec["CUNO"])
    rows = db.execute("SELECT * FROM batch_heads WHERE cuno = ? ORDER BY orno", (rec["CUNO"],)).fetchall()
    return [{**_batch_row(row), "ORNR": row["ornr"]} for row in rows]


def _batch_row(head: sqlite3.Row) -> Row:
    return {
        "ORNO": head["orno"],
        "CUOR": head["cuor"],
        "ORTP": head["ortp"],
        "FACI": head["faci"],
        "ORDT": head["ordt"],
        "RLDT": head["rldt"],
        "YREF": head["yref"],
        "STAT": head["stat"],
    }


@handles("OIS100MI", "LstErrMsgOrder")
def list_batch_errors(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    rows = db.execute("SELECT * FROM batch_errors WHERE orno = ? ORDER BY seq", (rec["ORNO"],)).fetchall()
    return [{"LEVL": r["levl"], "MSID": r["msid"], "TX60": r["tx60"], "MDTA": r["mdta"]} for r in rows]


@handles("OIS100MI", "GetOrderNo")
def get_order_number(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    head = db.execute("SELECT ornr FROM batch_heads WHERE orno = ?", (rec["ORNO"],)).fetchone()
    if head is None:
        raise _not_exist("Batch order", rec["ORNO"], "WOR0203", "ORNO")
    return [{"ORNR": head["ornr"]}]


# -- OIS100MI customer orders -------------------------------------------------------------------


def _order_row(order: sqlite3.Row) -> Row:
    return {
        "ORNO": order["orno"],
        "CUNO": order["cuno"],
        "ORTP": order["ortp"],
        "FACI": order["faci"],
        "ORDT": order["ordt"],
        "ORSL": order["orsl"],
        "ORST": order["orst"],
        "NTAM": order["ntam"],
        "CUCD": order["cucd"],
    }


@handles("OIS100MI", "GetHead")
def get_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    order = db.execute("SELECT * FROM orders WHERE orno = ?", (rec["ORNO"],)).fetchone()
    if order is None:
        raise _not_exist("Order number", rec["ORNO"], "WOR0203", "ORNO")
    return [
        {
            **_order_row(order),
            "CUOR": order["cuor"],
            "WHLO": order["whlo"],
            "STAT": order["stat"],
            "RLDT": order["rldt"],
            "YREF": order["yref"],
            "DIVI": "AAA",
        }
    ]


@handles("OIS100MI", "LstLine")
def list_lines(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    if db.execute("SELECT 1 FROM orders WHERE orno = ?", (rec["ORNO"],)).fetchone() is None:
        raise _not_exist("Order number", rec["ORNO"], "WOR0203", "ORNO")
    rows = db.execute("SELECT * FROM order_lines WHERE orno = ? ORDER BY ponr", (rec["ORNO"],)).fetchall()
    return [
        {
            "PONR": str(r["ponr"]),
            "POSX": "0",
            "ITNO": r["itno"],
            "ORQT": r["orqt"],
            "SAPR": r["sapr"],
            "WHLO": r["whlo"],
            "CUOR": r["cuor"],
            "ORST": r["orst"],
        }
        for r in rows
    ]


def parse_search_query(query: str) -> list[tuple[str, str]]:
    """`FIELD:value` terms (value optionally double-quoted), joined by blanks or AND."""
    terms: list[tuple[str, str]] = []
    position = 0
    while position < len(query.rstrip()):
        match = _SEARCH_TERM.match(query, position)
        if match is None:
            raise SimMIError("Search query is invalid", code="XSQ0001", field="SQRY")
        name = match.group(1)
        if name not in _SEARCHABLE:
            raise SimMIError(f"Search field {name} is not supported", code="XSQ0002", field="SQRY")
        quoted = match.group(2)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3)
        terms.append((name, value))
        position = match.end()
    if not terms:
        raise SimMIError("Search query is empty", code="XSQ0001", field="SQRY")
    return terms


@handles("OIS100MI", "SearchHead")
def search_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    terms = parse_search_query(rec["SQRY"])
    where = " AND ".join(f"{_SEARCHABLE[name]} = ?" for name, _ in terms)
    rows = db.execute(f"SELECT * FROM orders WHERE {where} ORDER BY orno", [v for _, v in terms]).fetchall()
    return [_order_row(row) for row in rows]


# -- system transactions (every program has them; the client's ping uses OIS100MI's) -------------


@handles("OIS100MI", "GetCurrentUser")
def get_current_user(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    return [{"USER": call.user[:10]}]


@handles("OIS100MI", "GetServerTime")
def get_server_time(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    now = dt.datetime.now(dt.UTC)
    return [
        {
            "DATE": now.strftime("%Y%m%d"),
            "TIME": now.strftime("%H%M%S"),
            "LMTS": now.strftime("%Y%m%d%H%M%S%f")[:18],
        }
    ]
