"""Simulated customer invoicing: delivered lines become invoices (OIS350MI reads them).

M3 invoices a delivery in its invoicing run (OIS180/OIS190, not simulated as programs). The
simulator invoices each delivery either in the transaction that delivers it (`invoice_on_delivery`,
the default) or when the control plane asks (`POST /_sim/invoice`), which is the "configurable
trigger" tests use to look at delivered-but-not-invoiced orders (66). An invoice covers one
delivery: its lines move to 77 when fully invoiced; the invoice has a 9-digit number per year, a
net amount and a SyncInvoice event.

Amounts: a line's invoiced amount is quantity x sales price less the line's discounts (DIA1..6)
in proportion to the quantity, computed cumulatively (net of everything invoiced so far minus net
of what was invoiced before, each rounded half-up to cents), so a line invoiced in parts adds up
to exactly its net amount. The order's head charges are billed on its first invoice. The
simulator computes no VAT (M3 does, from its tax tables): net and total are equal.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

from m3amazon.canonical import Invoice, InvoiceLine, Money
from m3amazon.sim.m3.mi import Call, Row, SimEvent, SimMIError, handles, money, narrowed, not_exist
from m3amazon.sim.m3.orders import line_discounts, line_net
from m3amazon.sim.m3.stock import refresh_order_status, sku_of, update_line
from m3amazon.sim.m3.store import SimStore

#: Payment terms of every simulated invoice.
DUE_DAYS = 30


def invoice_delivery(db: sqlite3.Connection, call: Call, dlix: int) -> str | None:
    """Invoice what was delivered under `dlix` and not invoiced yet; the invoice number, or None."""
    rows = db.execute(
        "SELECT d.rowid AS rid, d.qty, d.ponr, d.orno, l.* FROM delivered d JOIN order_lines l"
        " ON l.orno = d.orno AND l.ponr = d.ponr WHERE d.dlix = ? AND d.invoiced = 0 ORDER BY d.ponr",
        (dlix,),
    ).fetchall()
    if not rows:
        return None
    orno = rows[0]["orno"]
    order = db.execute("SELECT * FROM orders WHERE orno = ?", (orno,)).fetchone()
    issued = dt.datetime.now(dt.UTC).date()
    ivno = SimStore.next_number(db, "invoice")
    yea4 = str(issued.year)
    total = gross = Decimal(0)
    lines = []
    for row in rows:
        quantity = Decimal(row["qty"])
        invoiced = Decimal(
            db.execute(
                "SELECT ivqt FROM order_lines WHERE orno = ? AND ponr = ?", (orno, row["ponr"])
            ).fetchone()[0]
        )
        price, ordered = Decimal(row["sapr"]), Decimal(row["orq0"] or row["orqt"])
        discount = sum(line_discounts(row).values(), Decimal(0))
        amount = line_net(invoiced + quantity, price, discount, ordered) - line_net(
            invoiced, price, discount, ordered
        )
        total += amount
        gross += (quantity * price).quantize(Decimal("0.01"))
        db.execute(
            "INSERT INTO invoice_lines VALUES (?, ?, ?, ?, ?, ?, ?, '')",
            (yea4, ivno, row["ponr"], row["itno"], str(quantity), str(amount), row["cuor"]),
        )
        db.execute(
            "UPDATE order_lines SET ivqt = ? WHERE orno = ? AND ponr = ?",
            (str(invoiced + quantity), orno, row["ponr"]),
        )
        db.execute("UPDATE delivered SET invoiced = 1 WHERE rowid = ?", (row["rid"],))
        update_line(db, orno, row["ponr"])
        lines.append(
            InvoiceLine(
                line_id=row["cuor"] or str(row["ponr"]),
                item_number=row["itno"],
                sku=sku_of(db, row["itno"]),
                quantity=quantity,
                net_amount=Money(amount, order["cucd"]),
            )
        )
    for charge in db.execute(
        "SELECT * FROM order_charges WHERE orno = ? AND dlix IS NULL ORDER BY crid", (orno,)
    ).fetchall():
        amount = Decimal(charge["amount"])
        total += amount
        gross += amount
        db.execute(
            "INSERT INTO invoice_lines VALUES (?, ?, 0, '', '1', ?, '', ?)",
            (yea4, ivno, str(amount), charge["crid"]),
        )
        db.execute(
            "UPDATE order_charges SET dlix = ? WHERE orno = ? AND crid = ?", (dlix, orno, charge["crid"])
        )
        lines.append(
            InvoiceLine(line_id=charge["crid"], quantity=Decimal(1), net_amount=Money(amount, order["cucd"]))
        )
    due = issued + dt.timedelta(days=DUE_DAYS)
    db.execute(
        "INSERT INTO invoices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '10', '', ?)",
        (
            yea4,
            ivno,
            orno,
            dlix,
            order["cuno"],
            order["cucd"],
            issued.strftime("%Y%m%d"),
            due.strftime("%Y%m%d"),
            str(total),
            str(gross),
        ),
    )
    refresh_order_status(db, orno)
    net = Money(total, order["cucd"])
    invoice = Invoice(
        invoice_number=ivno,
        issued_on=issued,
        currency=order["cucd"],
        order_id=order["cuor"] or None,
        seller_order_number=orno,
        customer_number=order["cuno"],
        delivery_number=str(dlix),
        due_on=due,
        lines=tuple(lines),
        net_total=net,
        total=net,
    )
    call.events.append(SimEvent("Sync", "Invoice", ivno, (invoice,)))
    return ivno


def invoice_pending(db: sqlite3.Connection, call: Call) -> list[str]:
    """Invoice every delivery that has uninvoiced lines (the control plane's invoicing run)."""
    deliveries = [
        row[0] for row in db.execute("SELECT DISTINCT dlix FROM delivered WHERE invoiced = 0 ORDER BY dlix")
    ]
    return [number for dlix in deliveries if (number := invoice_delivery(db, call, dlix))]


def _invoice_row(inv: sqlite3.Row) -> Row:
    # LstInvHeadByCo: AMT1 order value gross (before discounts), AMT2 net order value;
    # GetInvHead overrides AMT1/AMT2 with the invoice amount (IVAM: net + VAT, and VAT is 0 here).
    return {
        "IVNO": inv["ivno"],
        "YEA4": inv["yea4"],
        "IVDT": inv["ivdt"],
        "DUDT": inv["dudt"],
        "CUNO": inv["cuno"],
        "CUCD": inv["cucd"],
        "AMT1": money(Decimal(inv["gross"] or inv["amount"])),
        "AMT2": money(Decimal(inv["amount"])),
        "RAFC": money(Decimal(inv["amount"])),
        "EXIN": f"{inv['yea4']}{inv['ivno']}",
    }


@handles("OIS350MI", "LstInvHeadByCo")
def list_invoices_by_order(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    order = db.execute("SELECT * FROM orders WHERE orno = ?", (rec["ORNO"],)).fetchone()
    if order is None:
        raise not_exist("Order number", rec["ORNO"], "WOR0203", "ORNO")
    query, args = narrowed(
        "SELECT * FROM invoices WHERE orno = ?",
        [rec["ORNO"]],
        ("dlix = ?", int(rec["DLIX"]) if rec.get("DLIX") else None),
    )
    customer_name = db.execute("SELECT cunm FROM customers WHERE cuno = ?", (order["cuno"],)).fetchone()
    return [
        {
            **_invoice_row(inv),
            "ORNO": inv["orno"],
            "WHLO": order["whlo"],
            "DLIX": str(inv["dlix"]),
            "CUN1": customer_name[0] if customer_name else "",
            "ORST": order["orst"],
        }
        for inv in db.execute(query + " ORDER BY yea4, ivno", args)
    ]


@handles("OIS350MI", "GetInvHead")
def get_invoice_head(db: sqlite3.Connection, rec: dict[str, str], call: Call) -> list[Row]:
    inv = db.execute(
        "SELECT * FROM invoices WHERE yea4 = ? AND ivno = ?", (rec["YEA4"], rec["IVNO"])
    ).fetchone()
    if inv is None:
        raise not_exist("Invoice number", rec["IVNO"], "WIV0203", "IVNO")
    if rec.get("DIVI") and rec["DIVI"] != call.divi:
        raise SimMIError(f"Division {rec['DIVI']} does not exist", code="WDI0203", field="DIVI")
    name = db.execute("SELECT cunm FROM customers WHERE cuno = ?", (inv["cuno"],)).fetchone()
    row = _invoice_row(inv)
    row.pop("IVNO")
    row.pop("YEA4")
    row.pop("IVDT")
    return [
        {
            **row,
            "AMT1": money(Decimal(inv["amount"])),
            "AMT2": money(Decimal(inv["amount"])),
            "IDAT": inv["ivdt"],
            "ACDT": inv["ivdt"],
            "INST": inv["inst"],
            "VONO": inv["vono"],
            "CUNM": name[0] if name else "",
            "CUC1": inv["cucd"],
            "CUC2": inv["cucd"],
        }
    ]
