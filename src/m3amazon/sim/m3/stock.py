"""Simulated stock: warehouse balances, allocation, picking/delivery reporting and adjustments.

The model, kept as small as the integration needs and as strict as M3 on what it checks:

- A balance per item and warehouse: approved on-hand (STQT) and allocated (ALQT); AV01 (allocatable
  net) is STQT - ALQT. Each change moves the balance's LMTS, so OIS100MI LstNewBalances serves a
  delta feed, and leaves a SyncInventoryCount event.
- A confirmed order line is allocated against its warehouse's AV01: fully (the line goes to a
  delivery with one picking list, PLSX 1, at once: status 44, as a warehouse with automatic release
  does), partly (23: the rest waits) or not at all (22). Lines are not re-allocated later.
- MHS850MI AddCOPick reports one picked line (delivered at once: 66). A short pick (less than the
  line has on the picking list) either flags the line completed (OEND 1: the rest is released, 26)
  or leaves the rest allocated and moves it to a new delivery (split delivery: the line is then 46
  and its rest can be picked later, e.g. for Amazon's next partial shipment). AddCfmPickList
  confirms what is left on a picking list at the allocated quantities. Delivering issues the stock,
  leaves a SyncShipment event, and - when the simulator invoices on delivery - invoices the
  delivery (77). RPDT (reporting date) is the delivery date.
- Service items (not stocked: charges entered as order lines) are allocated without a balance and
  delivered like any other line, without stock movements.
- MMS850MI AddAdjust changes an on-hand balance by a signed quantity, never below what is allocated.

Line status digits (M3): 2 left to allocate, 3 allocated, 4 on a picking list, 6 delivered,
7 invoiced; first digit = least progressed part of the line, second = most progressed; 90 deleted,
99 closed without delivery.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

from m3amazon.canonical import InventoryPosition, Package, Shipment, ShipmentLine
from m3amazon.sim.m3.mi import (
    Call,
    Row,
    SimEvent,
    SimMIError,
    customer,
    date,
    decimal,
    handles,
    item,
    not_exist,
    number,
    positive,
    today,
    warehouse,
)
from m3amazon.sim.m3.store import SimStore, normalise_alwt

#: Line statuses that no longer change.
FINAL_LINE_STATUSES = ("90", "99")


def line_status(
    orqt: Decimal, alqt: Decimal, dlqt: Decimal, ivqt: Decimal, *, on_pick_list: bool = True
) -> str:
    """The two-digit line status from the quantities in each state."""
    parts = {
        "2": orqt - dlqt - alqt,
        "4" if on_pick_list else "3": alqt,
        "6": dlqt - ivqt,
        "7": ivqt,
    }
    present = sorted(digit for digit, qty in parts.items() if qty > 0)
    if not present:
        return "99"
    return present[0] + present[-1]


def refresh_order_status(db: sqlite3.Connection, orno: str) -> None:
    """ORSL/ORST = lowest/highest status of the order's lines (90 when none is left)."""
    statuses = [
        row[0] for row in db.execute("SELECT orst FROM order_lines WHERE orno = ? AND orst != '90'", (orno,))
    ]
    low, high = (min(statuses), max(statuses)) if statuses else ("90", "90")
    db.execute("UPDATE orders SET orsl = ?, orst = ? WHERE orno = ?", (low, high, orno))


def update_line(db: sqlite3.Connection, orno: str, ponr: int) -> None:
    line = db.execute("SELECT * FROM order_lines WHERE orno = ? AND ponr = ?", (orno, ponr)).fetchone()
    if line["orst"] in FINAL_LINE_STATUSES:
        return
    status = line_status(
        *(Decimal(line[k]) for k in ("orqt", "alqt", "dlqt", "ivqt")), on_pick_list=line["dlix"] is not None
    )
    db.execute("UPDATE order_lines SET orst = ? WHERE orno = ? AND ponr = ?", (status, orno, ponr))


# -- balances ---------------------------------------------------------------------------------


def _balance(db: sqlite3.Connection, whlo: str, itno: str) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM balances WHERE whlo = ? AND itno = ?", (whlo, itno)).fetchone()


def is_stocked(db: sqlite3.Connection, itno: str) -> bool:
    row = db.execute("SELECT stocked FROM items WHERE itno = ?", (itno,)).fetchone()
    return row is None or bool(row[0])


def change_balance(
    db: sqlite3.Connection,
    call: Call,
    whlo: str,
    itno: str,
    *,
    on_hand: Decimal = Decimal(0),
    allocated: Decimal = Decimal(0),
    issued: bool = False,
) -> None:
    """Apply deltas to a balance (creating it), move its LMTS and note an inventory event.

    Service items have no balance: nothing happens for them."""
    if not is_stocked(db, itno):
        return
    row = _balance(db, whlo, itno)
    stqt = (Decimal(row["stqt"]) if row else Decimal(0)) + on_hand
    alqt = (Decimal(row["alqt"]) if row else Decimal(0)) + allocated
    lmts = SimStore.next_lmts(db)
    db.execute(
        "INSERT INTO balances VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (whlo, itno) DO UPDATE SET"
        " stqt = excluded.stqt, alqt = excluded.alqt, lmts = excluded.lmts,"
        " iddt = CASE WHEN ? THEN excluded.iddt ELSE balances.iddt END,"
        " oddt = CASE WHEN ? THEN excluded.oddt ELSE balances.oddt END",
        (
            whlo,
            itno,
            str(stqt),
            str(alqt),
            today() if on_hand > 0 else "",
            today() if issued else "",
            lmts,
            on_hand > 0,
            issued,
        ),
    )
    position = InventoryPosition(
        sku=sku_of(db, itno),
        item_number=itno,
        location=whlo,
        on_hand=stqt,
        allocated=alqt,
        as_of=dt.datetime.now(dt.UTC),
        source="m3",
    )
    # One SyncInventoryCount per transaction, with the latest position of each balance it changed.
    for index, event in enumerate(call.events):
        if event.noun == "InventoryCount":
            others = tuple(p for p in event.documents if (p.location, p.item_number) != (whlo, itno))
            call.events[index] = SimEvent("Sync", "InventoryCount", event.document_id, (*others, position))
            return
    call.events.append(SimEvent("Sync", "InventoryCount", f"{whlo}-{lmts}", (position,)))


def sku_of(db: sqlite3.Connection, itno: str) -> str | None:
    """The item's alias in category 03 (where the integration keeps Amazon SKUs), if any."""
    row = db.execute(
        "SELECT popn FROM aliases WHERE itno = ? AND alwt = '03' ORDER BY alwq, popn LIMIT 1", (itno,)
    ).fetchone()
    return row[0] if row else None


def allocate_order(db: sqlite3.Connection, orno: str, call: Call) -> None:
    """Allocate every line of a new order against its warehouse balance (see the module docstring)."""
    lines = db.execute("SELECT * FROM order_lines WHERE orno = ? ORDER BY ponr", (orno,)).fetchall()
    delivery: dict[str, int] = {}
    for line in lines:
        balance = _balance(db, line["whlo"], line["itno"])
        available = Decimal(balance["stqt"]) - Decimal(balance["alqt"]) if balance else Decimal(0)
        wanted = Decimal(line["orqt"])
        if not is_stocked(db, line["itno"]):
            available = wanted
        allocated = min(wanted, max(Decimal(0), available))
        if allocated > 0:
            change_balance(db, call, line["whlo"], line["itno"], allocated=allocated)
        dlix = None
        plsx = None
        if allocated == wanted:
            if line["whlo"] not in delivery:
                delivery[line["whlo"]] = new_delivery(db, orno, line["whlo"])
            dlix, plsx = delivery[line["whlo"]], 1
            db.execute(
                "UPDATE order_lines SET alqt = ?, dlix = ?, plsx = ? WHERE orno = ? AND ponr = ?",
                (str(allocated), dlix, plsx, orno, line["ponr"]),
            )
            update_line(db, orno, line["ponr"])
        else:
            # Part allocated (23) or nothing (22); the allocated part waits for the rest.
            db.execute(
                "UPDATE order_lines SET alqt = ?, orst = ? WHERE orno = ? AND ponr = ?",
                (str(allocated), "23" if allocated > 0 else "22", orno, line["ponr"]),
            )
    refresh_order_status(db, orno)


def new_delivery(db: sqlite3.Connection, orno: str, whlo: str, *, split_from: int | None = None) -> int:
    """A new delivery (DLIX) with one picking list (PLSX 1), released for picking (44)."""
    dlix = int(SimStore.next_number(db, "delivery"))
    db.execute(
        "INSERT INTO deliveries (dlix, orno, whlo, plsx, pgrs, dldt, olix) VALUES (?, ?, ?, 1, '44', ?, ?)",
        (dlix, orno, whlo, today(), split_from),
    )
    return dlix


def release_allocation(db: sqlite3.Connection, call: Call, line: sqlite3.Row) -> None:
    allocated = Decimal(line["alqt"])
    if allocated > 0:
        change_balance(db, call, line["whlo"], line["itno"], allocated=-allocated)
        db.execute(
            "UPDATE order_lines SET alqt = '0' WHERE orno = ? AND ponr = ?", (line["orno"], line["ponr"])
        )


# -- delivery ---------------------------------------------------------------------------------


def split_delivery(db: sqlite3.Connection, line: sqlite3.Row) -> int:
    """The open delivery split from the line's delivery (created when there is none yet)."""
    split = db.execute(
        "SELECT dlix FROM deliveries WHERE olix = ? AND pgrs = '44' ORDER BY dlix LIMIT 1", (line["dlix"],)
    ).fetchone()
    return int(split[0]) if split else new_delivery(db, line["orno"], line["whlo"], split_from=line["dlix"])


def backorder_rest(db: sqlite3.Connection, dlix: int) -> None:
    """Move what is still allocated on delivery `dlix` to its split delivery, completing `dlix`."""
    for line in db.execute(
        "SELECT * FROM order_lines WHERE dlix = ? AND CAST(alqt AS REAL) > 0", (dlix,)
    ).fetchall():
        db.execute(
            "UPDATE order_lines SET dlix = ?, plsx = 1 WHERE orno = ? AND ponr = ?",
            (split_delivery(db, line), line["orno"], line["ponr"]),
        )


def deliver(
    db: sqlite3.Connection, call: Call, line: sqlite3.Row, quantity: Decimal, *, complete: bool = False
) -> None:
    """Issue `quantity` of a line on a picking list.

    The rest of its allocation is released when the line is `complete` (or nothing is left);
    otherwise it stays allocated and moves to a new delivery split from this one (see the module
    docstring), so that it can be picked later.
    """
    allocated = Decimal(line["alqt"])
    rest = allocated - quantity
    keep = rest if rest > 0 and not complete else Decimal(0)
    change_balance(
        db, call, line["whlo"], line["itno"], on_hand=-quantity, allocated=-(allocated - keep), issued=True
    )
    dlix = split_delivery(db, line) if keep else line["dlix"]
    db.execute(
        "UPDATE order_lines SET alqt = ?, dlqt = ?, dlix = ?, plsx = ? WHERE orno = ? AND ponr = ?",
        (
            str(keep),
            str(Decimal(line["dlqt"]) + quantity),
            dlix if keep else line["dlix"],
            1 if keep else line["plsx"],
            line["orno"],
            line["ponr"],
        ),
    )
    db.execute(
        "INSERT INTO delivered VALUES (?, ?, ?, ?, ?, 0)",
        (line["dlix"], line["orno"], line["ponr"], line["itno"], str(quantity)),
    )
    update_line(db, line["orno"], line["ponr"])


def after_delivery(
    db: sqlite3.Connection,
    call: Call,
    dlix: int,
    orno: str,
    lines: list[tuple],
    *,
    packages: tuple[Package, ...] = (),
    shipped_at: dt.datetime | None = None,
) -> None:
    """Header status, the SyncShipment event, and invoicing when it follows delivery at once."""
    from m3amazon.sim.m3.invoicing import invoice_delivery

    refresh_order_status(db, orno)
    order = db.execute("SELECT * FROM orders WHERE orno = ?", (orno,)).fetchone()
    remaining = db.execute(
        "SELECT COUNT(*) FROM order_lines WHERE dlix = ? AND CAST(alqt AS REAL) > 0", (dlix,)
    ).fetchone()[0]
    when = shipped_at or dt.datetime.now(dt.UTC)
    if remaining == 0:
        db.execute(
            "UPDATE deliveries SET pgrs = '90', dldt = ? WHERE dlix = ?", (when.strftime("%Y%m%d"), dlix)
        )
    shipment = Shipment(
        shipment_id=str(dlix),
        order_id=order["cuor"] or orno,
        source="m3",
        shipped_at=when,
        packages=packages,
        lines=tuple(
            ShipmentLine(
                line_id=line["cuor"] or str(line["ponr"]),
                sku=sku_of(db, line["itno"]) or line["itno"],
                quantity=int(quantity),
                item_number=line["itno"],
            )
            for line, quantity in lines
        ),
    )
    call.events.append(SimEvent("Sync", "Shipment", str(dlix), (shipment,)))
    if call.invoice_on_delivery:
        invoice_delivery(db, call, dlix)


def _picking_line(db: sqlite3.Connection, rec: dict[str, str]) -> sqlite3.Row:
    order = db.execute("SELECT * FROM orders WHERE orno = ?", (rec["RIDN"],)).fetchone()
    if order is None:
        raise not_exist("Order number", rec["RIDN"], "WOR0203", "RIDN")
    customer(db, rec["CUNO"])
    if order["cuno"] != rec["CUNO"]:
        raise SimMIError(
            f"Order {rec['RIDN']} is not an order of customer {rec['CUNO']}", code="WCU0204", field="CUNO"
        )
    line = db.execute(
        "SELECT * FROM order_lines WHERE orno = ? AND ponr = ?", (rec["RIDN"], int(rec["RIDL"]))
    ).fetchone()
    if line is None:
        raise not_exist("Order line", rec["RIDL"], "WPO0203", "RIDL")
    if line["whlo"] != rec["WHLO"]:
        raise SimMIError(
            f"Line {rec['RIDL']} is not in warehouse {rec['WHLO']}", code="WWH0204", field="WHLO"
        )
    if rec.get("ITNO") and rec["ITNO"] != line["itno"]:
        raise SimMIError(f"Line {rec['RIDL']} is for item {line['itno']}", code="WIT0204", field="ITNO")
    if line["dlix"] is None or Decimal(line["alqt"]) <= 0:
        raise SimMIError(
            f"Line {rec['RIDL']} is not on a picking list (status {line['orst']})",
            code="WPL0203",
            field="RIDL",
        )
    if str(line["plsx"]) != rec["PLSX"].lstrip("0") or (rec.get("DLIX") and int(rec["DLIX"]) != line["dlix"]):
        raise SimMIError(
            f"Picking list {rec.get('DLIX', line['dlix'])}/{rec['PLSX']} does not exist",
            code="WPL0203",
            field="PLSX",
        )
    return line


def _partner(rec: dict[str, str]) -> None:
    # Partner and message type (MHS850/MMS850 set-up) must be given; the simulator accepts any.
    for name in ("E0PA", "E065"):
        if not rec.get(name):
            raise SimMIError(f"Mandatory input field {name} is missing", code="XFL0003", field=name)


def reported_at(rec: dict[str, str]) -> dt.datetime | None:
    """The reporting date and time (RPDT, RPTM) of a warehouse message, when given."""
    if not rec.get("RPDT"):
        return None
    day = dt.datetime.strptime(date(rec["RPDT"], "RPDT"), "%Y%m%d")
    clock = rec.get("RPTM", "0").zfill(6)
    try:
        return day.replace(hour=int(clock[:2]), minute=int(clock[2:4]), second=int(clock[4:6]), tzinfo=dt.UTC)
    except ValueError:
        raise SimMIError(f"Time {rec['RPTM']} is invalid", code="WTM0101", field="RPTM") from None


@handles("MHS850MI", "AddCOPick")
def add_co_pick(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    _partner(rec)
    warehouse(db, rec["WHLO"])
    line = _picking_line(db, rec)
    allocated = Decimal(line["alqt"])
    quantity = positive(rec.get("QTYP") or str(allocated), "QTYP", "Picked quantity")
    if quantity > allocated:
        raise SimMIError(
            f"Picked quantity {number(quantity)} exceeds allocated {number(allocated)}",
            code="WQT0110",
            field="QTYP",
        )
    if rec.get("OEND", "0") not in ("0", "1"):
        raise SimMIError(f"Flag {rec['OEND']} is invalid, 0 or 1", code="WFL0102", field="OEND")
    when = reported_at(rec)
    deliver(db, call, line, quantity, complete=rec.get("OEND") == "1")
    after_delivery(db, call, line["dlix"], line["orno"], [(line, quantity)], shipped_at=when)
    return [{"CONO": call.cono, "MSGN": SimStore.next_number(db, "message")}]


@handles("MHS850MI", "AddCfmPickList")
def add_confirm_pick_list(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    _partner(rec)
    warehouse(db, rec["WHLO"])
    delivery = db.execute("SELECT * FROM deliveries WHERE dlix = ?", (int(rec["DLIX"]),)).fetchone()
    if delivery is None or delivery["whlo"] != rec["WHLO"]:
        raise not_exist("Delivery number", rec["DLIX"], "WDL0203", "DLIX")
    if str(delivery["plsx"]) != rec["PLSX"].lstrip("0"):
        raise SimMIError(
            f"Picking list {rec['DLIX']}/{rec['PLSX']} does not exist", code="WPL0203", field="PLSX"
        )
    lines = db.execute(
        "SELECT * FROM order_lines WHERE dlix = ? AND CAST(alqt AS REAL) > 0 ORDER BY ponr",
        (delivery["dlix"],),
    ).fetchall()
    if not lines:
        raise SimMIError(
            f"Picking list {rec['DLIX']}/{rec['PLSX']} is already reported", code="WPL0601", field="DLIX"
        )
    when = reported_at(rec)
    reported = []
    for line in lines:
        quantity = Decimal(line["alqt"])
        deliver(db, call, line, quantity)
        reported.append((line, quantity))
    after_delivery(db, call, delivery["dlix"], delivery["orno"], reported, shipped_at=when)
    return [{"CONO": call.cono, "MSGN": SimStore.next_number(db, "message")}]


# -- balances over MI -------------------------------------------------------------------------


@handles("MMS200MI", "GetItmWhsBal")
def get_item_warehouse_balance(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    item(db, rec["ITNO"])
    site = warehouse(db, rec["WHLO"])
    row = _balance(db, rec["WHLO"], rec["ITNO"])
    if row is None:
        raise SimMIError(
            f"Item {rec['ITNO']} does not exist in warehouse {rec['WHLO']}", code="WIT0203", field="ITNO"
        )
    stqt, alqt = Decimal(row["stqt"]), Decimal(row["alqt"])
    return [
        {
            "CONO": call.cono,
            "WHLO": row["whlo"],
            "ITNO": row["itno"],
            "FACI": site["faci"],
            "STQT": number(stqt),
            "QUQT": "0",
            "RJQT": "0",
            "ALQT": number(alqt),
            "AV01": number(stqt - alqt),
            "AVAL": number(stqt),
            "AV02": number(stqt),
            "PLQT": number(alqt),
            "REQT": "0",
            "IDDT": row["iddt"],
            "ODDT": row["oddt"],
        }
    ]


@handles("OIS100MI", "LstNewBalances")
def list_new_balances(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """Balances changed after LMTS (all without it), oldest change first: a delta feed for stock."""
    since = int(rec["LMTS"]) if rec.get("LMTS") else -1
    rows = db.execute("SELECT * FROM balances WHERE lmts > ? ORDER BY lmts", (since,)).fetchall()
    return [
        {
            "WHLO": r["whlo"],
            "ITNO": r["itno"],
            "AV01": number(Decimal(r["stqt"]) - Decimal(r["alqt"])),
            "AV02": number(Decimal(r["stqt"])),
        }
        for r in rows
    ]


@handles("MMS850MI", "AddAdjust")
def add_adjust(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    _partner(rec)
    warehouse(db, rec["WHLO"])
    if rec.get("ITNO"):
        itno = item(db, rec["ITNO"])["itno"]
    elif rec.get("POPN") and rec.get("ALWT"):
        row = db.execute(
            "SELECT itno FROM aliases WHERE alwt = ? AND alwq = ? AND popn = ? ORDER BY itno LIMIT 1",
            (normalise_alwt(rec["ALWT"]), rec.get("ALWQ", ""), rec["POPN"]),
        ).fetchone()
        if row is None:
            raise not_exist("Alias number", rec["POPN"], "WPO0203", "POPN")
        itno = row["itno"]
    else:
        raise SimMIError("Item number or alias must be given", code="XFL0003", field="ITNO")
    if not rec.get("QLQT"):
        raise SimMIError("Mandatory input field QLQT is missing", code="XFL0003", field="QLQT")
    delta = decimal(rec["QLQT"], "QLQT", "Quantity")
    if delta == 0:
        raise SimMIError("Quantity must not be zero", code="WQT0105", field="QLQT")
    balance = _balance(db, rec["WHLO"], itno)
    on_hand = Decimal(balance["stqt"]) if balance else Decimal(0)
    allocated = Decimal(balance["alqt"]) if balance else Decimal(0)
    if on_hand + delta < allocated:
        raise SimMIError(
            f"On-hand balance {number(on_hand + delta)} would be less than allocated {number(allocated)}",
            code="WQT0112",
            field="QLQT",
        )
    change_balance(db, call, rec["WHLO"], itno, on_hand=delta)
    msnr = SimStore.next_number(db, "message")
    db.execute(
        "INSERT INTO stock_messages VALUES (?, 'AddAdjust', ?)",
        (msnr, f"{rec['WHLO']}|{itno}|{delta}|{rec.get('RSCD', '')}"),
    )
    return [{"CONO": call.cono, "MSNR": msnr, "MSLN": "1", "MSGS": "1"}]
