"""Simulated deliveries: delivery lines (MWS411MI), picking lists (MWS420MI), packages (MWS410MI,
MWS423MI), and the seller's warehouse shipping an order (the control plane's `deliver`).

What the integration needs from them: which delivery (DLIX) and picking list (PLSX) a line's open
quantity sits on, so that MHS850MI can report it picked; and a place for the carrier's tracking
number (a package's ETRN, "external tracking number"). The rows come from the simulator's own
tables (`deliveries`, `delivered`, `order_lines`, `packages`):

- a delivery line per (delivery, order line): PLQT = quantity released to that picking list
  (delivered from it + still allocated on it), TRQT = quantity reported (delivered) from it;
- one picking list per delivery (PLSX 1; a split delivery gets its own);
- packages are numbered `{DLIX}-{n}` when MWS423MI AddPackage is not given a PANR.

`ship_order` is the warehouse of a seller-fulfilled order at work: it delivers whole orders or
given line quantities from their picking lists, with a package carrying carrier and tracking, in
one transaction, leaving one SyncShipment event per delivery; what a parcel did not hold is
backordered to a new delivery, so a later parcel gets a shipment id of its own.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from decimal import Decimal
from typing import Any

from m3amazon.canonical import Package
from m3amazon.sim.m3.mi import Call, Row, SimMIError, handles, not_exist, number
from m3amazon.sim.m3.stock import after_delivery, backorder_rest, deliver, is_stocked

#: Reference order category of customer orders (RORC), the only one simulated.
CUSTOMER_ORDER = "3"


def _delivery(db: sqlite3.Connection, dlix: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM deliveries WHERE dlix = ?", (int(dlix),)).fetchone()
    if row is None:
        raise not_exist("Delivery number", dlix, "WDL0203", "DLIX")
    return row


@handles("MWS411MI", "LstDelLnByOrd")
def list_delivery_lines(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """The delivery lines of an order (RIDN), optionally of one line (RIDL), by delivery and line."""
    if rec.get("RORC", CUSTOMER_ORDER) != CUSTOMER_ORDER or not rec.get("RIDN"):
        return []
    orno = rec["RIDN"]
    released: dict[tuple[int, int], Decimal] = defaultdict(Decimal)  # PLQT
    reported: dict[tuple[int, int], Decimal] = defaultdict(Decimal)  # TRQT
    for row in db.execute("SELECT dlix, ponr, qty FROM delivered WHERE orno = ?", (orno,)):
        released[(row["dlix"], row["ponr"])] += Decimal(row["qty"])
        reported[(row["dlix"], row["ponr"])] += Decimal(row["qty"])
    lines = {row["ponr"]: row for row in db.execute("SELECT * FROM order_lines WHERE orno = ?", (orno,))}
    for line in lines.values():
        if line["dlix"] is not None and Decimal(line["alqt"]) > 0:
            released[(line["dlix"], line["ponr"])] += Decimal(line["alqt"])
    rows = []
    for (dlix, ponr), plqt in sorted(released.items()):
        trqt = reported[(dlix, ponr)]
        if rec.get("RIDL") and int(rec["RIDL"]) != ponr:
            continue
        line = lines[ponr]
        rows.append(
            {
                "DLIX": str(dlix),
                "RORC": CUSTOMER_ORDER,
                "RIDN": orno,
                "RIDL": str(ponr),
                "RIDX": "0",
                "ITNO": line["itno"],
                "TRQT": number(trqt),
                "PLQT": number(plqt),
                "STCD": "1" if is_stocked(db, line["itno"]) else "0",
            }
        )
    return rows


@handles("MWS420MI", "LstPickHeader")
def list_pick_headers(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    delivery = _delivery(db, rec["DLIX"])
    if rec.get("PLSX") and int(rec["PLSX"]) != delivery["plsx"]:
        return []
    return [{"CONO": call.cono, "DLIX": str(delivery["dlix"]), "PLSX": str(delivery["plsx"])}]


def _package_row(row: sqlite3.Row) -> Row:
    return {
        "DLIX": str(row["dlix"]),
        "PANR": row["panr"],
        "ETRN": row["etrn"],
        "DLRM": row["dlrm"],
        "PACO": "1",
    }


@handles("MWS410MI", "LstPackages")
def list_packages(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    if not rec.get("DLIX"):
        raise SimMIError("Mandatory input field DLIX is missing", code="XFL0003", field="DLIX")
    _delivery(db, rec["DLIX"])
    rows = db.execute("SELECT * FROM packages WHERE dlix = ? ORDER BY panr", (int(rec["DLIX"]),))
    return [_package_row(row) for row in rows]


def add_package(db: sqlite3.Connection, dlix: int, *, panr: str = "", etrn: str = "", dlrm: str = "") -> str:
    count = db.execute("SELECT COUNT(*) FROM packages WHERE dlix = ?", (dlix,)).fetchone()[0]
    panr = panr or f"{dlix}-{count + 1}"
    if db.execute("SELECT 1 FROM packages WHERE dlix = ? AND panr = ?", (dlix, panr)).fetchone():
        raise SimMIError(f"Package {panr} already exists", code="WPA0201", field="PANR")
    db.execute("INSERT INTO packages VALUES (?, ?, ?, ?)", (dlix, panr, etrn, dlrm))
    return panr


@handles("MWS423MI", "AddPackage")
def add_package_to_delivery(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    delivery = _delivery(db, rec["DLIX"])
    panr = add_package(
        db, delivery["dlix"], panr=rec.get("PANR", ""), etrn=rec.get("ETRN", ""), dlrm=rec.get("DLRM", "")
    )
    return [{"PANR": panr}]


# -- the seller's warehouse (control plane) ------------------------------------------------------


def find_order(db: sqlite3.Connection, reference: str) -> sqlite3.Row:
    """An order by its number, or by its CUOR when that is unambiguous."""
    order = db.execute("SELECT * FROM orders WHERE orno = ?", (reference,)).fetchone()
    if order is not None:
        return order
    rows = db.execute("SELECT * FROM orders WHERE cuor = ?", (reference,)).fetchall()
    if len(rows) != 1:
        what = "no order" if not rows else f"{len(rows)} orders"
        raise SimMIError(f"{what} with number or CUOR {reference}", code="WOR0203", field="ORNO")
    return rows[0]


def _wanted(
    db: sqlite3.Connection, orno: str, lines: list[dict[str, Any]] | None
) -> dict[int, Decimal | None]:
    """PONR -> quantity to ship (None: everything on its picking list)."""
    if not lines:
        rows = db.execute(
            "SELECT ponr FROM order_lines WHERE orno = ? AND dlix IS NOT NULL AND CAST(alqt AS REAL) > 0",
            (orno,),
        )
        return {row[0]: None for row in rows}
    wanted: dict[int, Decimal | None] = {}
    for entry in lines:
        if "ponr" in entry:
            ponr = int(entry["ponr"])
        else:
            row = db.execute(
                "SELECT ponr FROM order_lines WHERE orno = ? AND cuor = ?", (orno, str(entry.get("cuor")))
            ).fetchone()
            if row is None:
                raise SimMIError(
                    f"Order {orno} has no line {entry.get('cuor')}", code="WPO0203", field="CUOR"
                )
            ponr = row[0]
        quantity = entry.get("quantity")
        wanted[ponr] = Decimal(str(quantity)) if quantity is not None else None
    return wanted


def ship_order(
    db: sqlite3.Connection,
    call: Call,
    reference: str,
    lines: list[dict[str, Any]] | None = None,
    *,
    carrier: str | None = None,
    tracking: str | None = None,
    shipped_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Deliver an order (all it has on picking lists, or the given lines and quantities).

    Service lines (charges entered as order lines) on the same picking lists go with the first
    shipment. Every delivery touched is completed: what it still held moves to a delivery split
    from it (a backorder), so each delivery stands for one parcel and its SyncShipment event - with
    a package carrying the carrier and tracking number - has a shipment id (the DLIX) of its own.
    Invoicing follows as configured.
    """
    order = find_order(db, reference)
    orno = order["orno"]
    wanted = _wanted(db, orno, lines)
    by_delivery: dict[int, list[tuple[sqlite3.Row, Decimal]]] = {}
    for ponr, quantity in sorted(wanted.items()):
        line = db.execute("SELECT * FROM order_lines WHERE orno = ? AND ponr = ?", (orno, ponr)).fetchone()
        if line is None:
            raise not_exist("Order line", str(ponr), "WPO0203", "PONR")
        allocated = Decimal(line["alqt"])
        if line["dlix"] is None or allocated <= 0:
            raise SimMIError(
                f"Line {ponr} is not on a picking list (status {line['orst']})", code="WPL0203", field="PONR"
            )
        quantity = allocated if quantity is None else quantity
        if quantity <= 0 or quantity > allocated:
            raise SimMIError(
                f"Line {ponr}: quantity {number(quantity)} is not between 1 and {number(allocated)}",
                code="WQT0110",
                field="QTYP",
            )
        by_delivery.setdefault(line["dlix"], []).append((line, quantity))
    for dlix, picked in by_delivery.items():
        chosen = {line["ponr"] for line, _ in picked}
        for line in db.execute(
            "SELECT * FROM order_lines WHERE dlix = ? AND CAST(alqt AS REAL) > 0 ORDER BY ponr", (dlix,)
        ).fetchall():
            if line["ponr"] not in chosen and not is_stocked(db, line["itno"]):
                picked.append((line, Decimal(line["alqt"])))
    shipments = []
    for dlix, picked in sorted(by_delivery.items()):
        for line, quantity in picked:
            deliver(db, call, line, quantity)
        backorder_rest(db, dlix)  # the parcel left: what it did not hold goes to a split delivery
        package = Package(carrier=carrier, tracking_number=tracking)
        panr = add_package(db, dlix, etrn=(tracking or "")[:30], dlrm=(carrier or "")[:40])
        after_delivery(
            db,
            call,
            dlix,
            orno,
            picked,
            packages=(package,) if carrier or tracking else (),
            shipped_at=shipped_at,
        )
        shipments.append(
            {
                "dlix": dlix,
                "package": panr,
                "lines": {str(line["ponr"]): number(quantity) for line, quantity in picked},
            }
        )
    return {"orno": orno, "cuor": order["cuor"], "shipments": shipments}
