"""What M3 invoiced for an order (OIS350MI), as canonical invoices.

The order flow compares the invoiced total with Amazon's order total, and records each invoice on
the order's trail. Two round trips: the order's invoice heads (LstInvHeadByCo, together with the
order head for its CUOR - in parallel, different programs), then every invoice's GetInvHead in one
bulk.

Amounts (field descriptions of the MI field table): LstInvHeadByCo AMT2 is the invoice's net
order value (lines after discounts, plus charges), GetInvHead AMT2 the invoice amount (IVAM: net
plus VAT); the tax total is their difference. Which of a tenant's amounts include rounding or
charges is UNVERIFIED beyond those descriptions. The invoice number is IVNO (unique per year:
`issued_on.year` is M3's YEA4); M3 sends the same number in its SyncInvoice BOD. Lines are not
read: OIS350MI has no quantities per invoice line, and the BOD carries them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal, InvalidOperation

from m3amazon.canonical import Invoice, Money
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError
from m3amazon.m3.order_lines import get_order_head

OIS350MI = "OIS350MI"


def _date(value: str | None, what: str) -> dt.date:
    digits = "".join(ch for ch in value or "" if ch.isdigit())
    try:
        return dt.datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        raise MIError(f"M3 returned {value!r} as {what}", program=OIS350MI) from None


def _money(value: str | None, currency: str, what: str) -> Money:
    try:
        return Money(Decimal((value or "0").strip() or "0"), currency)
    except (InvalidOperation, ValueError):
        raise MIError(f"M3 returned {value!r} as {what}", program=OIS350MI) from None


async def list_invoices(client: MIClient, orno: str) -> list[Invoice]:
    """Every invoice of customer order `orno`, oldest first (empty before M3 invoiced anything)."""
    heads, order = await asyncio.gather(
        client.execute(OIS350MI, "LstInvHeadByCo", {"ORNO": orno}, maxrecs=0),
        get_order_head(client, orno),
    )
    heads = [row for row in heads if row.get("IVNO") and row.get("YEA4")]
    if not heads:
        return []
    details = await client.bulk(
        OIS350MI, [("GetInvHead", {"YEA4": row["YEA4"], "IVNO": row["IVNO"]}) for row in heads], maxrecs=1
    )
    invoices = []
    for row, detail in zip(heads, details, strict=True):
        if detail.error is not None:
            raise detail.error
        extra = detail.records[0] if detail.records else {}
        currency = row.get("CUCD") or extra.get("CUCD") or order.currency or ""
        number = row["IVNO"]
        net = _money(row.get("AMT2"), currency, f"net value of invoice {number}")
        total = _money(extra.get("AMT2") or row.get("AMT2"), currency, f"amount of invoice {number}")
        invoices.append(
            Invoice(
                invoice_number=number,
                issued_on=_date(row.get("IVDT") or extra.get("IDAT"), f"date of invoice {number}"),
                currency=currency,
                order_id=order.cuor,
                seller_order_number=orno,
                customer_number=row.get("CUNO") or order.customer or None,
                delivery_number=row.get("DLIX") or None,
                due_on=_date(row["DUDT"], f"due date of invoice {number}") if row.get("DUDT") else None,
                net_total=net,
                tax_total=total - net,
                total=total,
            )
        )
    return sorted(invoices, key=lambda invoice: (invoice.issued_on, invoice.invoice_number))
