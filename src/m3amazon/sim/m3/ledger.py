"""Simulated general ledger: GLS840MI batches in, vouchers out (GLS200MI).

GLS840MI usage type 2 (field-based API): `AddBatchHead` opens a batch under a unique key (KEY1),
`AddBatchLineFld` adds accounting lines, `CtrlBatch` validates ("option 6"), `UpdBatch` posts
("option 9"). The simulator's rules:

- A batch is rejected at control unless every voucher balances: lines are grouped into vouchers by
  division, group number (GRNR) and accounting date, and each group's recorded amounts (ACAM) must
  sum to zero. Every AIT1 must be an account of the chart (CRS630, dimension 1).
- Posting turns each voucher into a GL voucher (8-digit number per year) readable with GLS200MI,
  and removes the batch from the interface files - so its key can be used again. A second posting
  under the same key is therefore *possible*, as in M3: the counter `gl_batches_by_key` makes such
  duplicates visible to the tests.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from decimal import Decimal

from m3amazon.sim.m3.mi import Call, Row, SimMIError, date, decimal, handles, money, not_exist, today
from m3amazon.sim.m3.store import SimStore, dumps

_LINE_FIELDS = (
    "DIVI", "GRNR", "ACDT", "AIT1", "AIT2", "AIT3", "AIT4", "AIT5", "AIT6", "AIT7", "ACAM", "CUAM",
    "CUCD", "DBCR", "VTXT", "VTCD", "ACQT", "VRNO", "INRI",
)  # fmt: skip


def _batch(db: sqlite3.Connection, key: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM gl_batches WHERE key1 = ?", (key,)).fetchone()
    if row is None:
        raise not_exist("Key value", key, "WKE0203", "KEY1")
    return row


@handles("GLS840MI", "AddBatchHead")
def add_gl_batch(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    if db.execute("SELECT 1 FROM gl_batches WHERE key1 = ?", (rec["KEY1"],)).fetchone():
        raise SimMIError(f"Key value {rec['KEY1']} already exists", code="WKE0201", field="KEY1")
    db.execute(
        "INSERT INTO gl_batches VALUES (?, ?, ?, ?, 'entered')",
        (rec["KEY1"], rec["INTN"], rec["DESC"], rec.get("DIVI", call.divi)),
    )
    return [{"CONO": call.cono}]


@handles("GLS840MI", "AddBatchLineFld")
def add_gl_line(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    batch = _batch(db, rec["KEY1"])
    if batch["stat"] != "entered":
        raise SimMIError(
            f"Batch {rec['KEY1']} is controlled and cannot be changed", code="WKE0601", field="KEY1"
        )
    line = int(rec["LINE"])
    if db.execute("SELECT 1 FROM gl_batch_lines WHERE key1 = ? AND line = ?", (rec["KEY1"], line)).fetchone():
        raise SimMIError(f"Line {line} already exists in batch {rec['KEY1']}", code="WLI0201", field="LINE")
    date(rec.get("ACDT"), "ACDT")
    for name in ("ACAM", "CUAM"):
        if rec.get(name):
            decimal(rec[name], name, "Amount")
    fields = {name: rec[name] for name in _LINE_FIELDS if rec.get(name)}
    db.execute("INSERT INTO gl_batch_lines VALUES (?, ?, ?)", (rec["KEY1"], line, dumps(fields)))
    return []


def _vouchers(
    db: sqlite3.Connection, key: str, call: Call
) -> dict[tuple[str, str, str], list[dict[str, str]]]:
    """Check the batch and group its lines into vouchers; SimMIError on the first problem."""
    rows = db.execute("SELECT * FROM gl_batch_lines WHERE key1 = ? ORDER BY line", (key,)).fetchall()
    if not rows:
        raise SimMIError(f"Batch {key} has no lines", code="WKE0602", field="KEY1")
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        fields = json.loads(row["fields"])
        where = f"line {row['line']}"
        account = fields.get("AIT1", "")
        if not account:
            raise SimMIError(f"{where}: account (AIT1) is missing", code="WAI0203", field="AIT1")
        if db.execute("SELECT 1 FROM accounts WHERE aitp = '1' AND aitm = ?", (account,)).fetchone() is None:
            raise SimMIError(f"{where}: account {account} does not exist", code="WAI0203", field="AIT1")
        if not fields.get("ACAM"):
            raise SimMIError(f"{where}: amount (ACAM) is missing", code="WAM0203", field="ACAM")
        if not fields.get("ACDT"):
            raise SimMIError(f"{where}: accounting date (ACDT) is missing", code="WDT0203", field="ACDT")
        groups[(fields.get("DIVI", call.divi), fields.get("GRNR", ""), fields["ACDT"])].append(
            {**fields, "LINE": str(row["line"])}
        )
    for (_, group, acdt), lines in groups.items():
        residue = sum((Decimal(line["ACAM"]) for line in lines), Decimal(0))
        if residue != 0:
            name = f"{group or '-'}/{acdt}"
            raise SimMIError(
                f"Voucher {name} does not balance (residue {money(residue)})", code="WVO0105", field="ACAM"
            )
    return groups


@handles("GLS840MI", "CtrlBatch")
def control_gl_batch(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    _batch(db, rec["KEY1"])
    _vouchers(db, rec["KEY1"], call)
    db.execute("UPDATE gl_batches SET stat = 'controlled' WHERE key1 = ?", (rec["KEY1"],))
    return [{"CONO": call.cono}]


@handles("GLS840MI", "UpdBatch")
def post_gl_batch(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    batch = _batch(db, rec["KEY1"])
    groups = _vouchers(db, rec["KEY1"], call)
    for (divi, _, acdt), lines in groups.items():
        vono = SimStore.next_number(db, "voucher")
        yea4 = acdt[:4]
        amounts = [Decimal(line["ACAM"]) for line in lines]
        db.execute(
            "INSERT INTO gl_vouchers VALUES (?, ?, ?, '', ?, ?, ?, ?, ?)",
            (
                divi,
                yea4,
                vono,
                acdt,
                lines[0].get("CUCD", ""),
                rec["KEY1"],
                str(sum((a for a in amounts if a > 0), Decimal(0))),
                str(sum((a for a in amounts if a < 0), Decimal(0))),
            ),
        )
        for seq, line in enumerate(lines, start=1):
            db.execute(
                "INSERT INTO gl_voucher_lines VALUES (?, ?, ?, 1, ?, ?)", (divi, yea4, vono, seq, dumps(line))
            )
    db.execute(
        "INSERT INTO gl_posted VALUES (?, ?, ?, ?)", (rec["KEY1"], batch["intn"], len(groups), today())
    )
    db.execute("DELETE FROM gl_batch_lines WHERE key1 = ?", (rec["KEY1"],))
    db.execute("DELETE FROM gl_batches WHERE key1 = ?", (rec["KEY1"],))
    return [{"CONO": call.cono}]


# -- GLS200MI ----------------------------------------------------------------------------------


def _voucher(db: sqlite3.Connection, rec: dict[str, str]) -> sqlite3.Row:
    row = db.execute(
        "SELECT * FROM gl_vouchers WHERE divi = ? AND yea4 = ? AND vono = ?",
        (rec["DIVI"], rec["YEA4"], rec["VONO"]),
    ).fetchone()
    if row is None:
        raise not_exist("Voucher number", rec["VONO"], "WVO0203", "VONO")
    return row


def _voucher_line(head: sqlite3.Row, row: sqlite3.Row, call: Call) -> Row:
    fields = json.loads(row["fields"])
    out = {
        "CONO": call.cono,
        "DIVI": head["divi"],
        "YEA4": head["yea4"],
        "VONO": head["vono"],
        "VSER": head["vser"],
        "JRNO": str(row["jrno"]),
        "JSNO": str(row["jsno"]),
        "ACDT": fields.get("ACDT", ""),
        "ACAM": money(Decimal(fields["ACAM"])),
        "CUCD": fields.get("CUCD", ""),
        "VTXT": fields.get("VTXT", ""),
        "DBCR": "D" if Decimal(fields["ACAM"]) >= 0 else "C",
    }
    for name in ("AIT1", "AIT2", "AIT3", "AIT4", "AIT5", "AIT6", "AIT7", "CUAM", "VTCD", "VRNO"):
        if fields.get(name):
            out[name] = fields[name]
    return out


@handles("GLS200MI", "GetVoucherHead")
def get_voucher_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    head = _voucher(db, rec)
    return [
        {
            "CONO": call.cono,
            "DIVI": head["divi"],
            "YEA4": head["yea4"],
            "VONO": head["vono"],
            "VSER": head["vser"],
            "CUCD": head["cucd"],
            "DSUM": money(Decimal(head["dsum"])),
            "CSUM": money(Decimal(head["csum"])),
        }
    ]


@handles("GLS200MI", "GetVoucherLine")
def get_voucher_line(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    head = _voucher(db, rec)
    row = db.execute(
        "SELECT * FROM gl_voucher_lines WHERE divi = ? AND yea4 = ? AND vono = ? AND jrno = ? AND jsno = ?",
        (head["divi"], head["yea4"], head["vono"], int(rec["JRNO"]), int(rec["JSNO"])),
    ).fetchone()
    if row is None:
        raise not_exist("Journal line", f"{rec['JRNO']}/{rec['JSNO']}", "WJS0203", "JSNO")
    return [_voucher_line(head, row, call)]


@handles("GLS200MI", "LstVoucherLines")
def list_voucher_lines(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    head = _voucher(db, rec)
    rows = db.execute(
        "SELECT * FROM gl_voucher_lines WHERE divi = ? AND yea4 = ? AND vono = ? ORDER BY jrno, jsno",
        (head["divi"], head["yea4"], head["vono"]),
    ).fetchall()
    return [_voucher_line(head, row, call) for row in rows]


@handles("GLS200MI", "LstVouchersByDt")
def list_vouchers_by_date(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """Voucher lines with an accounting date from FRDT to TODT (YYYYMMDD), of one division."""
    first, last = date(rec.get("FRDT"), "FRDT"), date(rec.get("TODT"), "TODT")
    divi = rec.get("DIVI") or call.divi
    heads = db.execute(
        "SELECT * FROM gl_vouchers WHERE divi = ? AND acdt >= ? AND acdt <= ? ORDER BY yea4, vono",
        (divi, first, last),
    ).fetchall()
    out: list[Row] = []
    for head in heads:
        rows = db.execute(
            "SELECT * FROM gl_voucher_lines WHERE divi = ? AND yea4 = ? AND vono = ? ORDER BY jrno, jsno",
            (head["divi"], head["yea4"], head["vono"]),
        ).fetchall()
        out.extend(_voucher_line(head, row, call) for row in rows)
    return out
