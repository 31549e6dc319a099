"""Customer orders as other channels enter them, and the SyncSalesOrder BODs M3 publishes.

Multi-Channel Fulfillment starts from M3 orders that did not come from Amazon (a web shop, EDI,
customer service): the simulator lets tests and the demo enter such an order the way those
channels do (OIS100MI batch order entry, through the same MI layer and rules) and close its lines
the way a customer-service user cancels it (OIS100MI CloLine). M3 publishes a SyncSalesOrder BOD
when an order is created or its lines change (research notes §4.2): `sales_order_event` builds it
from the order as stored, carrying the order type so the emitter can filter as an ION document
flow does. Also here: OIS100MI GetAddress, the order's delivery address.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from decimal import Decimal
from typing import Any

from m3amazon.canonical import Address, FulfillmentChannel, Money, Order, OrderLine, OrderStatus
from m3amazon.sim.m3.mi import Call, Row, SimEvent, SimMIError, handles, not_exist
from m3amazon.sim.m3.stock import FINAL_LINE_STATUSES, sku_of

#: Delivery address type of batch order entry (AddBatchAddress ADRT).
DELIVERY_ADDRESS = "1"
_ADDRESS_FIELDS = ("CUNM", "CUA1", "CUA2", "CUA3", "CUA4", "PONO", "PHNO", "CSCD", "TOWN", "ECAR", "YREF")


@handles("OIS100MI", "GetAddress")
def get_address(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    """The order's address of type ADRT, as batch order entry stored it."""
    orno, adrt = rec["ORNO"], rec["ADRT"].lstrip("0") or "0"
    if db.execute("SELECT 1 FROM orders WHERE orno = ?", (orno,)).fetchone() is None:
        raise not_exist("Order number", orno, "WOR0203", "ORNO")
    row = db.execute(
        "SELECT fields FROM order_addresses WHERE orno = ? AND adrt = ?", (orno, adrt)
    ).fetchone()
    if row is None:
        raise SimMIError(f"Address type {adrt} does not exist for order {orno}", code="WAD0203", field="ADRT")
    stored = json.loads(row[0])
    return [{name: stored[name] for name in _ADDRESS_FIELDS if stored.get(name)}]


def _status(lines: list[sqlite3.Row]) -> OrderStatus:
    live = [line for line in lines if line["orst"] not in FINAL_LINE_STATUSES]
    if not live:
        return OrderStatus.CANCELLED
    if all(line["orst"] >= "66" for line in live):
        return OrderStatus.SHIPPED
    if any(Decimal(line["dlqt"]) > 0 for line in live):
        return OrderStatus.PARTIALLY_SHIPPED
    return OrderStatus.UNSHIPPED


def _address(db: sqlite3.Connection, orno: str) -> Address | None:
    row = db.execute(
        "SELECT fields FROM order_addresses WHERE orno = ? AND adrt = ?", (orno, DELIVERY_ADDRESS)
    ).fetchone()
    if row is None:
        return None
    f = json.loads(row[0])
    return Address(
        name=f.get("CUNM") or None,
        line1=f.get("CUA1") or None,
        line2=f.get("CUA2") or None,
        line3=f.get("CUA3") or None,
        city=f.get("TOWN") or None,
        postal_code=f.get("PONO") or None,
        state=f.get("ECAR") or None,
        country_code=f.get("CSCD") or "US",
        phone=f.get("PHNO") or None,
    )


def sales_order_event(db: sqlite3.Connection, orno: str) -> SimEvent:
    """SyncSalesOrder of order `orno` as it stands now (its order type as the event's ORTP)."""
    head = db.execute("SELECT * FROM orders WHERE orno = ?", (orno,)).fetchone()
    lines = db.execute("SELECT * FROM order_lines WHERE orno = ? ORDER BY ponr", (orno,)).fetchall()
    now = dt.datetime.now(dt.UTC)
    created = dt.datetime.strptime(head["ordt"], "%Y%m%d").replace(tzinfo=dt.UTC) if head["ordt"] else now
    order = Order(
        source="m3",
        order_id=orno,
        marketplace_id=head["cuno"],
        status=_status(lines),
        channel=FulfillmentChannel.MERCHANT,
        created_at=created,
        updated_at=now,
        currency=head["cucd"],
        lines=tuple(
            OrderLine(
                line_id=str(line["ponr"]),
                sku=sku_of(db, line["itno"]) or line["itno"],
                quantity=int(Decimal(line["orqt"])),  # a closed line: what was delivered (often 0)
                unit_price=Money(Decimal(line["sapr"]), head["cucd"]),
            )
            for line in lines
        ),
        ship_to=_address(db, orno),
    )
    return SimEvent("Sync", "SalesOrder", orno, (order,), attributes=(("ORTP", head["ortp"]),))


def enter_order(run: Any, spec: dict[str, Any]) -> str:
    """Enter a customer order as another sales channel does (OIS100MI AddBatchHead, AddBatchAddress,
    AddBatchLine..., Confirm through `run(transaction, record)`); returns the order number.

    `spec`: {cuno, ortp?, whlo?, cuor?, address?: {CUNM, CUA1, TOWN, PONO, CSCD, ...},
    lines: [{itno, quantity, price?}]}.
    """
    head: dict[str, str] = {"CUNO": str(spec["cuno"])}
    for key, name in (("ortp", "ORTP"), ("whlo", "WHLO"), ("cuor", "CUOR"), ("yref", "YREF")):
        if spec.get(key):
            head[name] = str(spec[key])
    batch = run("AddBatchHead", head)[0]["ORNO"]
    address = spec.get("address")
    if address:
        run(
            "AddBatchAddress",
            {"ORNO": batch, "ADRT": DELIVERY_ADDRESS, **{k: str(v) for k, v in address.items()}},
        )
    for line in spec["lines"]:
        record = {"ORNO": batch, "ITNO": str(line["itno"]), "ORQT": str(line["quantity"])}
        if line.get("price") is not None:
            record["SAPR"] = str(line["price"])
        if spec.get("whlo"):
            record["WHLO"] = str(spec["whlo"])
        run("AddBatchLine", record)
    return str(run("Confirm", {"ORNO": batch})[0]["ORNO"])
