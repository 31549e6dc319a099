"""Simulated customer orders: OIS100MI batch order entry, order reads and changes, OIS275MI.

Batch order entry follows OIS100MI: AddBatchHead opens a batch order (temporary number),
AddBatchAddress/AddBatchLine fill it, Confirm releases it into a customer order (batch status 90)
whose lines are then allocated (see `stock`). A refused address or line is recorded against the
batch (LstErrMsgOrder) and Confirm then rejects the batch (status 15 for header errors, 25 for line
errors) instead of creating a partial order; how a real tenant treats such a batch is UNVERIFIED
(OIS275 shows rejected batches with statuses 15-55). A customer with a customer stop (CRS610
BLCD, set through the control plane) has its batch orders rejected at Confirm with status 15 and
the stop's reason as the batch's error message (M3's credit check; the exact status a tenant uses
for it is UNVERIFIED). Like M3, the simulator does *not* refuse a second order with the same CUOR:
that is the integration's job.

Money: AddBatchHeadChg adds a charge (freight, gift wrap, ...; one per charge type CRID of OIS030)
to the batch head, AddBatchLine's DIA1..DIA6 are discount amounts for the whole line. The order's
net amount (NTAM) is the lines' net amounts (quantity x price less discounts, rounded half-up to
cents) plus the charges; invoices bill the same amounts (see `invoicing`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from m3amazon.sim.m3.mi import (
    Call,
    Keep,
    Row,
    SimMIError,
    customer,
    date,
    decimal,
    handles,
    money,
    narrowed,
    not_exist,
    number,
    warehouse,
)
from m3amazon.sim.m3.sales_orders import sales_order_event
from m3amazon.sim.m3.stock import (
    FINAL_LINE_STATUSES,
    allocate_order,
    refresh_order_status,
    release_allocation,
    update_line,
)
from m3amazon.sim.m3.store import SimStore, dumps

_SEARCH_TERM = re.compile(r'\s*(?:AND\s+)?([A-Z][A-Z0-9]{3}):(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))')
_SEARCHABLE = {"CUOR": "cuor", "CUNO": "cuno", "ORNO": "orno", "ORTP": "ortp"}


def batch_error(orno: str, *, header: bool = False) -> Callable[[sqlite3.Connection, SimMIError], None]:
    """Record the error against batch order `orno` (LstErrMsgOrder); Confirm then rejects the batch."""

    def record(db: sqlite3.Connection, exc: SimMIError) -> None:
        seq = db.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM batch_errors WHERE orno = ?", (orno,)
        ).fetchone()[0]
        db.execute(
            "INSERT INTO batch_errors VALUES (?, ?, ?, ?, ?, ?)",
            (orno, seq, "1" if header else "2", exc.code, exc.message[:60], exc.message[:132]),
        )

    return record


def open_batch(db: sqlite3.Connection, orno: str) -> sqlite3.Row:
    head = db.execute("SELECT * FROM batch_heads WHERE orno = ?", (orno,)).fetchone()
    if head is None:
        raise not_exist("Batch order", orno, "WOR0203", "ORNO")
    if head["stat"] == "90":
        raise SimMIError(
            f"Batch order {orno} is already released as order {head['ornr']}", code="WOR0601", field="ORNO"
        )
    return head


# -- OIS100MI batch order entry -----------------------------------------------------------------


@handles("OIS100MI", "AddBatchHead")
def add_batch_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    buyer = customer(db, rec["CUNO"])
    if buyer["stat"] != "20":
        raise SimMIError(f"Customer {rec['CUNO']} has status {buyer['stat']}", code="WCU0124", field="CUNO")
    ortp = rec.get("ORTP", buyer["ortp"])
    if db.execute("SELECT 1 FROM order_types WHERE ortp = ?", (ortp,)).fetchone() is None:
        raise SimMIError(f"Order type {ortp} does not exist", code="WOT0203", field="ORTP")
    whlo = rec.get("WHLO", buyer["whlo"])
    warehouse(db, whlo)
    faci = rec.get("FACI", "A01")
    if db.execute("SELECT 1 FROM warehouses WHERE faci = ?", (faci,)).fetchone() is None:
        raise SimMIError(f"Facility {faci} does not exist", code="WFA0203", field="FACI")
    cucd = rec.get("CUCD", buyer["cucd"])
    if not re.fullmatch(r"[A-Z]{3}", cucd):
        raise SimMIError(f"Currency {cucd} is invalid", code="WCU0501", field="CUCD")
    ordt = date(rec.get("ORDT"), "ORDT") or dt.date.today().strftime("%Y%m%d")
    rldt = date(rec.get("RLDT"), "RLDT")
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
    open_batch(db, orno)
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
    head = open_batch(db, orno)
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
    warehouse(db, whlo, keep=batch_error(orno))
    quantity = decimal(rec.get("ORQT", "0"), "ORQT", "Ordered quantity", batch_error(orno))
    if quantity <= 0:
        raise SimMIError(
            "Ordered quantity must be greater than zero", code="WOR0105", field="ORQT", keep=batch_error(orno)
        )
    price = decimal(rec.get("SAPR", "0"), "SAPR", "Sales price", batch_error(orno))
    if price < 0:
        raise SimMIError(
            "Sales price must not be negative", code="WSA0105", field="SAPR", keep=batch_error(orno)
        )
    date(rec.get("DWDT"), "DWDT", keep=batch_error(orno))
    discount = sum(_discounts(rec, batch_error(orno)).values(), Decimal(0))
    if discount > quantity * price:
        raise SimMIError(
            f"Discount {number(discount)} exceeds the line amount {number(quantity * price)}",
            code="WDI0105",
            field="DIA1",
            keep=batch_error(orno),
        )
    ponr = db.execute(
        "SELECT COALESCE(MAX(ponr), 0) + 1 FROM batch_lines WHERE orno = ?", (orno,)
    ).fetchone()[0]
    db.execute(
        "INSERT INTO batch_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (orno, ponr, rec["ITNO"], str(quantity), str(price), whlo, rec.get("CUOR", ""), dumps(rec)),
    )
    return [{"PONR": str(ponr), "POSX": "0"}]


_DISCOUNT_FIELDS = ("DIA1", "DIA2", "DIA3", "DIA4", "DIA5", "DIA6")


def _discounts(rec: dict[str, str], keep: Keep = None) -> dict[str, Decimal]:
    """The line's discount amounts (DIA1..DIA6: amounts for the whole line, never negative)."""
    out: dict[str, Decimal] = {}
    for name in _DISCOUNT_FIELDS:
        if rec.get(name):
            amount = decimal(rec[name], name, "Discount amount", keep)
            if amount < 0:
                raise SimMIError(
                    "Discount amount must not be negative", code="WDI0105", field=name, keep=keep
                )
            out[name] = amount
    return out


def line_discounts(line: sqlite3.Row) -> dict[str, Decimal]:
    """A confirmed line's discount amounts by field (DIA1..DIA6)."""
    return {name: Decimal(value) for name, value in json.loads(line["disc"] or "{}").items()}


def line_net(quantity: Decimal, price: Decimal, discount: Decimal, ordered: Decimal) -> Decimal:
    """Net amount of `quantity` of a line of `ordered`: price x quantity less its share of the discount.

    Cumulative, so that invoicing a line in parts adds up to exactly the line's net amount.
    """
    share = discount * quantity / ordered if ordered else Decimal(0)
    return (quantity * price - share).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _customer_stop(buyer: sqlite3.Row) -> str | None:
    code = buyer["blcd"] or "0"
    if code == "0":
        return None
    return f"Customer {buyer['cuno']} is stopped: {buyer['stop_reason'] or f'customer stop {code}'}"


@handles("OIS100MI", "Confirm")
def confirm(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    orno = rec["ORNO"]
    head = open_batch(db, orno)
    errors = db.execute("SELECT levl FROM batch_errors WHERE orno = ?", (orno,)).fetchall()
    lines = db.execute("SELECT * FROM batch_lines WHERE orno = ? ORDER BY ponr", (orno,)).fetchall()
    stopped = _customer_stop(customer(db, head["cuno"]))
    if errors or not lines or stopped:
        status = "15" if stopped or any(row["levl"] == "1" for row in errors) else "25"
        reason = "has errors" if errors or stopped else "has no lines"

        def reject(db: sqlite3.Connection, exc: SimMIError) -> None:
            if stopped:
                batch_error(orno, header=True)(db, SimMIError(stopped, code="WCU0130", field="CUNO"))
            db.execute("UPDATE batch_heads SET stat = ? WHERE orno = ?", (status, orno))

        raise SimMIError(
            f"Batch order {orno} {reason}, not released (status {status})",
            code="WOR0610",
            field="ORNO",
            keep=reject,
        )
    number = SimStore.next_number(db, "order")
    discounts = {line["ponr"]: _discounts(json.loads(line["fields"])) for line in lines}
    charges = db.execute("SELECT * FROM batch_charges WHERE orno = ? ORDER BY crid", (orno,)).fetchall()
    total = sum(
        (
            line_net(
                Decimal(line["orqt"]),
                Decimal(line["sapr"]),
                sum(discounts[line["ponr"]].values(), Decimal(0)),
                Decimal(line["orqt"]),
            )
            for line in lines
        ),
        Decimal(0),
    ) + sum((Decimal(charge["cram"]) for charge in charges), Decimal(0))
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
        "INSERT INTO order_lines (orno, ponr, itno, orqt, sapr, whlo, cuor, orst, alqt, dlqt, ivqt, disc,"
        " orq0) VALUES (?, ?, ?, ?, ?, ?, ?, '22', '0', '0', '0', ?, ?)",
        [
            (
                number,
                line["ponr"],
                line["itno"],
                line["orqt"],
                line["sapr"],
                line["whlo"],
                line["cuor"],
                json.dumps({k: str(v) for k, v in discounts[line["ponr"]].items()}),
                line["orqt"],
            )
            for line in lines
        ],
    )
    db.executemany(
        "INSERT INTO order_charges VALUES (?, ?, ?, ?, ?, NULL)",
        [(number, c["crid"], c["crd0"], c["cram"], c["cucd"] or head["cucd"]) for c in charges],
    )
    db.execute(
        "INSERT INTO order_addresses SELECT ?, adrt, fields FROM batch_addresses WHERE orno = ?",
        (number, orno),
    )
    db.execute("UPDATE batch_heads SET stat = '90', ornr = ? WHERE orno = ?", (number, orno))
    allocate_order(db, number, call)
    call.events.append(sales_order_event(db, number))
    return [{"ORNO": number, "STAT": "90"}]


@handles("OIS100MI", "DelBatchHead")
def delete_batch_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    orno = rec["ORNO"]
    head = db.execute("SELECT stat FROM batch_heads WHERE orno = ?", (orno,)).fetchone()
    if head is None:
        raise not_exist("Batch order", orno, "WOR0203", "ORNO")
    if head["stat"] == "90":
        raise SimMIError(
            f"Batch order {orno} is released and cannot be deleted", code="WOR0603", field="ORNO"
        )
    for table in ("batch_heads", "batch_addresses", "batch_lines", "batch_errors"):
        db.execute(f"DELETE FROM {table} WHERE orno = ?", (orno,))
    return []


@handles("OIS100MI", "AddBatchHeadChg")
def add_batch_head_charge(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """A charge on the batch order's head (freight, gift wrap, ...): one per charge type (CRID)."""
    orno = rec["ORNO"]
    head = open_batch(db, orno)
    keep = batch_error(orno, header=True)
    charge = db.execute("SELECT * FROM charge_types WHERE crid = ?", (rec["CRID"],)).fetchone()
    if charge is None:
        raise SimMIError(f"Charge {rec['CRID']} does not exist", code="WCR0203", field="CRID", keep=keep)
    amount = decimal(rec.get("CRAM", "0"), "CRAM", "Charge amount", keep)
    currency = rec.get("CUCD", head["cucd"])
    if currency != head["cucd"]:
        raise SimMIError(
            f"Currency {currency} differs from the order's {head['cucd']}",
            code="WCU0502",
            field="CUCD",
            keep=keep,
        )
    if db.execute("SELECT 1 FROM batch_charges WHERE orno = ? AND crid = ?", (orno, rec["CRID"])).fetchone():
        raise SimMIError(
            f"Charge {rec['CRID']} already exists for {orno}", code="WCR0201", field="CRID", keep=keep
        )
    db.execute(
        "INSERT INTO batch_charges VALUES (?, ?, ?, ?, ?)",
        (orno, rec["CRID"], str(amount), currency, rec.get("CRD0", charge["crd0"])),
    )
    return []


@handles("OIS100MI", "LstOrderCharge")
def list_order_charges(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    _order(db, rec["ORNO"])
    query, args = narrowed(
        "SELECT * FROM order_charges WHERE orno = ?", [rec["ORNO"]], ("crid = ?", rec.get("CRID"))
    )
    return [
        {
            "ORNO": row["orno"],
            "CRID": row["crid"],
            "CRD0": row["crd0"][:30],
            "PBAM": money(Decimal(row["amount"])),
            "CUCD": row["cucd"],
            "DLIX": str(row["dlix"] or ""),
        }
        for row in db.execute(query + " ORDER BY crid", args)
    ]


@handles("OIS100MI", "GetBatchHead")
def get_batch_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    head = db.execute("SELECT * FROM batch_heads WHERE orno = ?", (rec["ORNO"],)).fetchone()
    if head is None:
        raise not_exist("Batch order", rec["ORNO"], "WOR0203", "ORNO")
    return [_batch_row(head)]


@handles("OIS100MI", "LstBatchHead")
def list_batch_heads(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    customer(db, rec["CUNO"])
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
        raise not_exist("Batch order", rec["ORNO"], "WOR0203", "ORNO")
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
        raise not_exist("Order number", rec["ORNO"], "WOR0203", "ORNO")
    return [
        {
            **_order_row(order),
            "CUOR": order["cuor"],
            "WHLO": order["whlo"],
            "STAT": order["stat"],
            "RLDT": order["rldt"],
            "YREF": order["yref"],
            "DIVI": call.divi,
            "EXAM": money(_charges_total(db, order["orno"])),
        }
    ]


def _charges_total(db: sqlite3.Connection, orno: str) -> Decimal:
    rows = db.execute("SELECT amount FROM order_charges WHERE orno = ?", (orno,)).fetchall()
    return sum((Decimal(row[0]) for row in rows), Decimal(0))


@handles("OIS100MI", "LstLine")
def list_lines(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    _order(db, rec["ORNO"])
    query, args = narrowed(
        "SELECT * FROM order_lines WHERE orno = ?",
        [rec["ORNO"]],
        ("orst = ?", rec.get("ORST")),
        ("itno = ?", rec.get("ITNO")),
    )
    rows = db.execute(query + " ORDER BY ponr", args).fetchall()
    return [{k: v for k, v in _line_row(r).items() if k != "ORNO"} for r in rows]


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


@handles("OIS100MI", "GetLine")
def get_line(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    line = _order_line(db, rec["ORNO"], rec["PONR"])
    row = {k: v for k, v in _line_row(line).items() if k not in ("ORNO", "PONR", "POSX")}
    return [{**row, "CUCD": _order(db, rec["ORNO"])["cucd"]}]


@handles("OIS100MI", "LstHead")
def list_heads(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """The customer's orders, optionally only those with lowest status >= ORSL and highest <= ORST."""
    customer(db, rec["CUNO"])
    query, args = narrowed(
        "SELECT * FROM orders WHERE cuno = ?",
        [rec["CUNO"]],
        ("orsl >= ?", rec.get("ORSL")),
        ("orst <= ?", rec.get("ORST")),
    )
    return [
        {
            "ORNO": o["orno"],
            "CUOR": o["cuor"],
            "ORTP": o["ortp"],
            "FACI": o["faci"],
            "ORDT": o["ordt"],
            "RLDT": o["rldt"],
            "YREF": o["yref"],
            "STAT": o["stat"],
            "ORSL": o["orsl"],
            "ORST": o["orst"],
        }
        for o in db.execute(query + " ORDER BY orno", args)
    ]


@handles("OIS100MI", "CloLine")
def close_line(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """Close the undelivered rest of a line: its allocation is released, ordered = delivered."""
    if not rec.get("ORNO") or not rec.get("PONR"):
        field = "ORNO" if not rec.get("ORNO") else "PONR"
        raise SimMIError(f"Mandatory input field {field} is missing", code="XFL0003", field=field)
    line = _order_line(db, rec["ORNO"], rec["PONR"])
    if line["orst"] in FINAL_LINE_STATUSES:
        raise SimMIError(
            f"Line {rec['PONR']} is already closed (status {line['orst']})", code="WPO0601", field="PONR"
        )
    if Decimal(line["dlqt"]) == Decimal(line["orqt"]):
        raise SimMIError(f"Line {rec['PONR']} is fully delivered", code="WPO0602", field="PONR")
    release_allocation(db, call, line)
    delivered = Decimal(line["dlqt"])
    status = "99" if delivered == 0 else None
    db.execute(
        "UPDATE order_lines SET orqt = ?, orst = COALESCE(?, orst),"
        " dlix = CASE WHEN ? THEN NULL ELSE dlix END WHERE orno = ? AND ponr = ?",
        (str(delivered), status, delivered == 0, line["orno"], line["ponr"]),
    )
    if status is None:
        update_line(db, line["orno"], line["ponr"])
    refresh_order_status(db, line["orno"])
    call.events.append(sales_order_event(db, line["orno"]))
    return []


@handles("OIS100MI", "DelLine")
def delete_line(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """Delete a line that is neither on a picking list nor delivered (status 90)."""
    line = _order_line(db, rec["ORNO"], rec["PONR"])
    if line["orst"] in FINAL_LINE_STATUSES or line["dlix"] is not None or Decimal(line["dlqt"]) > 0:
        raise SimMIError(
            f"Line {rec['PONR']} has status {line['orst']} and cannot be deleted",
            code="WPO0603",
            field="PONR",
        )
    release_allocation(db, call, line)
    db.execute("UPDATE order_lines SET orst = '90' WHERE orno = ? AND ponr = ?", (line["orno"], line["ponr"]))
    refresh_order_status(db, line["orno"])
    call.events.append(sales_order_event(db, line["orno"]))
    return []


@handles("OIS275MI", "GetTmpOrderStat")
def get_batch_status(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    head = db.execute("SELECT * FROM batch_heads WHERE orno = ?", (rec["ORNO"],)).fetchone()
    if head is None:
        raise not_exist("Batch order", rec["ORNO"], "WOR0203", "ORNO")
    return [{"ORNO": head["orno"], "ORNR": head["ornr"], "STAT": head["stat"]}]


def _order(db: sqlite3.Connection, orno: str) -> sqlite3.Row:
    order = db.execute("SELECT * FROM orders WHERE orno = ?", (orno,)).fetchone()
    if order is None:
        raise not_exist("Order number", orno, "WOR0203", "ORNO")
    return order


def _order_line(db: sqlite3.Connection, orno: str, ponr: str) -> sqlite3.Row:
    _order(db, orno)
    line = db.execute("SELECT * FROM order_lines WHERE orno = ? AND ponr = ?", (orno, int(ponr))).fetchone()
    if line is None:
        raise not_exist("Order line", ponr, "WPO0203", "PONR")
    return line


def _line_row(r: sqlite3.Row) -> Row:
    discounts = line_discounts(r)
    ordered = Decimal(r["orq0"] or r["orqt"])
    return {
        "ORNO": r["orno"],
        "PONR": str(r["ponr"]),
        "POSX": "0",
        "ITNO": r["itno"],
        "ORQT": r["orqt"],
        "SAPR": r["sapr"],
        "WHLO": r["whlo"],
        "CUOR": r["cuor"],
        "ORST": r["orst"],
        "ALQT": r["alqt"],
        "DLQT": r["dlqt"],
        "IVQT": r["ivqt"],
        **{name: money(amount) for name, amount in discounts.items()},
        "NLAM": money(
            line_net(Decimal(r["orqt"]), Decimal(r["sapr"]), sum(discounts.values(), Decimal(0)), ordered)
        ),
    }
