"""Simulated master data: customers (CRS610MI), items (MMS200MI), aliases (MMS025MI), accounts (CRS630MI).

The rules the integration relies on: a customer or item that does not exist is an error naming the
field; a customer created by the API gets a number when none is given; a change timestamp (LMTS)
moves on every change so `LstByNumber` can serve delta polling.
"""

from __future__ import annotations

import re
import sqlite3

from m3amazon.sim.m3.mi import Call, Row, SimMIError, customer, handles, item, narrowed, not_exist, today
from m3amazon.sim.m3.store import SimStore, normalise_alwt

_CUSTOMER_FIELDS = ("CUNM", "CUA1", "CUA2", "CUA3", "CUA4", "TOWN", "PONO", "CSCD", "ECAR", "PHNO", "MAIL")
_STATUSES = ("10", "20", "90")


def _customer_row(c: sqlite3.Row, call: Call) -> Row:
    return {
        "CONO": call.cono,
        "CUNO": c["cuno"],
        "CUNM": c["cunm"],
        "CUA1": c["cua1"],
        "CUA2": c["cua2"],
        "CUA3": c["cua3"],
        "CUA4": c["cua4"],
        "TOWN": c["town"],
        "PONO": c["pono"],
        "CSCD": c["cscd"],
        "ECAR": c["ecar"],
        "PHNO": c["phno"],
        "MAIL": c["mail"],
        "STAT": c["stat"],
        "CUCD": c["cucd"],
        "YREF": c["yref"],
    }


def _country(value: str | None) -> None:
    if value and not re.fullmatch(r"[A-Z]{2,3}", value):
        raise SimMIError(f"Country {value} is invalid", code="WCS0203", field="CSCD")


def _status(value: str | None) -> None:
    if value and value not in _STATUSES:
        raise SimMIError(f"Status {value} is invalid", code="WST0202", field="STAT")


@handles("CRS610MI", "GetBasicData")
def get_basic_data(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    c = customer(db, rec["CUNO"])
    return [{**_customer_row(c, call), "DIVI": call.divi, "LMDT": c["lmdt"], "RGDT": c["rgdt"]}]


@handles("CRS610MI", "Add")
def add_customer(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    template = rec["CUTM"]
    if db.execute("SELECT 1 FROM customers WHERE cuno = ?", (template,)).fetchone() is None:
        raise not_exist("Customer template", template, "WCU0203", "CUTM")
    base = customer(db, template)
    cuno = rec.get("CUNO") or f"C{SimStore.next_number(db, 'customer')}"
    if db.execute("SELECT 1 FROM customers WHERE cuno = ?", (cuno,)).fetchone():
        raise SimMIError(f"Customer number {cuno} already exists", code="WCU0201", field="CUNO")
    _country(rec.get("CSCD"))
    _status(rec.get("STAT"))
    values = {name.lower(): rec.get(name, "") for name in _CUSTOMER_FIELDS}
    db.execute(
        "INSERT INTO customers (cuno, cunm, cua1, cua2, cua3, cua4, town, pono, cscd, ecar, phno, mail,"
        " stat, cucd, ortp, whlo, yref, rgdt, lmdt, lmts)"
        " VALUES (:cuno, :cunm, :cua1, :cua2, :cua3, :cua4, :town, :pono, :cscd, :ecar, :phno, :mail,"
        " :stat, :cucd, :ortp, :whlo, :yref, :rgdt, :rgdt, :lmts)",
        {
            **values,
            "cuno": cuno,
            "cscd": values["cscd"] or base["cscd"],
            "stat": rec.get("STAT", "20"),
            "cucd": base["cucd"],
            "ortp": base["ortp"],
            "whlo": base["whlo"],
            "yref": rec.get("YREF", ""),
            "rgdt": today(),
            "lmts": SimStore.next_lmts(db),
        },
    )
    return [{"CUNO": cuno}]


@handles("CRS610MI", "ChgBasicData")
def change_customer(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    customer(db, rec["CUNO"])
    _country(rec.get("CSCD"))
    _status(rec.get("STAT"))
    changes = {name.lower(): rec[name] for name in (*_CUSTOMER_FIELDS, "STAT", "YREF") if name in rec}
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    db.execute(
        f"UPDATE customers SET {assignments + ', ' if assignments else ''}lmdt = :lmdt, lmts = :lmts"
        " WHERE cuno = :cuno",
        {**changes, "lmdt": today(), "lmts": SimStore.next_lmts(db), "cuno": rec["CUNO"]},
    )
    return [{"CUNO": rec["CUNO"]}]


@handles("CRS610MI", "LstByNumber")
def list_customers(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """Customers from CUNO on, in number order; with LMTS only those changed after that timestamp."""
    query, args = narrowed(
        "SELECT * FROM customers WHERE cuno >= ?",
        [rec.get("CUNO", "")],
        ("lmts > ?", int(rec["LMTS"]) if rec.get("LMTS") else None),
    )
    rows = db.execute(query + " ORDER BY cuno", args).fetchall()
    return [{**_customer_row(c, call), "DIVI": call.divi} for c in rows]


@handles("CRS610MI", "AddAddress")
def add_customer_address(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    customer(db, rec["CUNO"])
    adrt = rec["ADRT"].lstrip("0") or "0"
    if adrt not in ("1", "2", "3", "4"):
        raise SimMIError(f"Address type {rec['ADRT']} is invalid", code="WAD0102", field="ADRT")
    _country(rec.get("CSCD"))
    key = (rec["CUNO"], adrt, rec["ADID"])
    if db.execute(
        "SELECT 1 FROM customer_addresses WHERE cuno = ? AND adrt = ? AND adid = ?", key
    ).fetchone():
        raise SimMIError(f"Address {rec['ADID']} already exists", code="WAD0201", field="ADID")
    db.execute(
        "INSERT INTO customer_addresses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            *key,
            rec.get("CUNM", ""),
            rec["CUA1"],
            rec.get("CUA2", ""),
            rec.get("CUA3", ""),
            rec.get("CUA4", ""),
            rec["TOWN"],
            rec["PONO"],
            rec["CSCD"],
            rec.get("ECAR", ""),
            rec.get("PHNO", ""),
        ),
    )
    db.execute("UPDATE customers SET lmts = ? WHERE cuno = ?", (SimStore.next_lmts(db), rec["CUNO"]))
    return [{"CONO": call.cono, "CUNO": rec["CUNO"], "ADRT": adrt, "ADID": rec["ADID"]}]


# -- items -------------------------------------------------------------------------------------


def _item_row(i: sqlite3.Row, *, name_length: int) -> Row:
    return {
        "ITNO": i["itno"],
        "ITDS": i["itds"][:name_length],
        "STAT": i["stat"],
        "UNMS": i["unms"],
        "LMDT": i["lmdt"],
    }


@handles("MMS200MI", "Get")
def get_item(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    return [_item_row(item(db, rec["ITNO"]), name_length=60)]


@handles("MMS200MI", "GetItmBasic")
def get_item_basic(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    # GetItmBasic's ITDS is 30 characters in the field table (Get's is 60): M3 cuts the name.
    return [{**_item_row(item(db, rec["ITNO"]), name_length=30), "FUDS": ""}]


# -- aliases -----------------------------------------------------------------------------------


def _alias_row(row: sqlite3.Row, call: Call) -> Row:
    return {
        "CONO": call.cono,
        "ITNO": row["itno"],
        "ALWT": row["alwt"],
        "ALWQ": row["alwq"],
        "POPN": row["popn"],
        "RGDT": row["rgdt"],
    }


@handles("MMS025MI", "GetItem")
def get_item_by_alias(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    alwt, alwq = normalise_alwt(rec["ALWT"]), rec.get("ALWQ", "")
    row = db.execute(
        "SELECT * FROM aliases WHERE alwt = ? AND alwq = ? AND popn = ? ORDER BY itno LIMIT 1",
        (alwt, alwq, rec["POPN"]),
    ).fetchone()
    if row is None:
        raise not_exist("Alias number", rec["POPN"], "WPO0203", "POPN")
    return [_alias_row(row, call)]


@handles("MMS025MI", "AddAlias")
def add_alias(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    item(db, rec["ITNO"])
    alwt = normalise_alwt(rec["ALWT"])
    if alwt not in {f"{n:02d}" for n in range(1, 10)} | {"84", "85", "86", "87", "88"}:
        raise SimMIError(f"Alias category {rec['ALWT']} is invalid", code="WAL0202", field="ALWT")
    key = (alwt, rec.get("ALWQ", ""), rec["POPN"], rec["ITNO"])
    if db.execute(
        "SELECT 1 FROM aliases WHERE alwt = ? AND alwq = ? AND popn = ? AND itno = ?", key
    ).fetchone():
        raise SimMIError(f"Alias number {rec['POPN']} already exists", code="WPO0201", field="POPN")
    db.execute("INSERT INTO aliases VALUES (?, ?, ?, ?, ?, ?)", (*key, today(), SimStore.next_lmts(db)))
    return []


@handles("MMS025MI", "LstAlias")
def list_aliases(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    item(db, rec["ITNO"])
    query, args = narrowed(
        "SELECT * FROM aliases WHERE itno = ?",
        [rec["ITNO"]],
        ("alwt = ?", normalise_alwt(rec["ALWT"]) if rec.get("ALWT") else None),
    )
    return [_alias_row(row, call) for row in db.execute(query + " ORDER BY alwt, alwq, popn", args)]


@handles("MMS025MI", "LstAliasViaCat")
def list_aliases_of_category(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """Every alias of a category (and qualifier), optionally only those changed after LMTS."""
    query, args = narrowed(
        "SELECT * FROM aliases WHERE alwt = ?",
        [normalise_alwt(rec["ALWT"])],
        ("alwq = ?", rec.get("ALWQ")),
        ("lmts > ?", int(rec["LMTS"]) if rec.get("LMTS") else None),
    )
    return [_alias_row(row, call) for row in db.execute(query + " ORDER BY itno, alwq, popn", args)]


@handles("MMS200MI", "SelItem")
def select_items(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """Items in item number order from FRIT (inclusive) to TOIT, optionally changed since LMDT."""
    query, args = narrowed(
        "SELECT * FROM items WHERE itno >= ?",
        [rec.get("FRIT", "")],
        ("itno <= ?", rec.get("TOIT")),
        ("lmdt >= ?", rec.get("LMDT")),
    )
    return [
        {
            "CONO": call.cono,
            "ITNO": row["itno"],
            "ITDS": row["itds"][:60],
            "STAT": row["stat"],
            "UNMS": row["unms"],
        }
        for row in db.execute(query + " ORDER BY itno", args)
    ]


# -- chart of accounts -------------------------------------------------------------------------


@handles("CRS630MI", "GetAccountID")
def get_account(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    if rec["AITP"] not in "1234567":
        raise SimMIError(f"Accounting dimension {rec['AITP']} is invalid", code="WAI0202", field="AITP")
    row = db.execute(
        "SELECT * FROM accounts WHERE aitp = ? AND aitm = ?", (rec["AITP"], rec["AITM"])
    ).fetchone()
    if row is None:
        raise not_exist("Accounting identity", rec["AITM"], "WAI0203", "AITM")
    return [
        {
            "CONO": call.cono,
            "DIVI": rec.get("DIVI", call.divi),
            "AITP": row["aitp"],
            "AITM": row["aitm"],
            "TX40": row["tx40"][:40],
            "TX15": row["tx40"][:15],
        }
    ]
