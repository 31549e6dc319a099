"""Invoice (Sync) <-> canonical Invoice.

InvoiceHeader: DocumentID/ID = `invoice_number`, DocumentDateTime = `issued_on`, ExtendedAmount =
net total, TotalAmount = total, Tax/Amount = tax total, PaymentTerm/DueDateTime = `due_on`,
CustomerParty/PartyIDs/ID = customer, SalesOrderReference/DocumentID/ID = M3 order number,
CustomerPurchaseOrderReference/DocumentID/ID = `order_id` (CUOR), ShipmentReference/DocumentID/ID =
delivery number. InvoiceLine: LineNumber, Item/ItemID/ID, Item/CustomerItemID/ID, Quantity,
ExtendedAmount (net line amount).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree
from pydantic import ValidationError

from m3amazon.canonical import Invoice, InvoiceLine
from m3amazon.m3.ion import bod
from m3amazon.m3.ion.xml import (
    BodError,
    amount,
    day,
    decimal,
    find,
    find_all,
    money,
    optional,
    required,
    sub,
    sub_path,
    text,
)


def encode(data: etree._Element, invoices: list[Any]) -> None:
    for invoice in invoices:
        assert isinstance(invoice, Invoice)
        noun = sub(data, "Invoice")
        header = sub(noun, "InvoiceHeader")
        sub_path(header, "DocumentID/ID", invoice.invoice_number)
        sub(header, "DocumentDateTime", invoice.issued_on)
        amount(header, "ExtendedAmount", invoice.net_total)
        amount(header, "TotalAmount", invoice.total)
        amount(header, "Tax/Amount", invoice.tax_total)
        optional(header, "PaymentTerm/DueDateTime", invoice.due_on)
        optional(header, "CustomerParty/PartyIDs/ID", invoice.customer_number)
        optional(header, "SalesOrderReference/DocumentID/ID", invoice.seller_order_number)
        optional(header, "CustomerPurchaseOrderReference/DocumentID/ID", invoice.order_id)
        optional(header, "ShipmentReference/DocumentID/ID", invoice.delivery_number)
        for line in invoice.lines:
            node = sub(noun, "InvoiceLine")
            optional(node, "LineNumber", line.line_id)
            item = sub(node, "Item")
            optional(item, "ItemID/ID", line.item_number)
            optional(item, "CustomerItemID/ID", line.sku)
            sub(node, "Quantity", line.quantity, unitCode="EA")
            amount(node, "ExtendedAmount", line.net_amount)


def decode(noun: etree._Element) -> Sequence[Invoice]:
    header = find(noun, "InvoiceHeader")
    if header is None:
        raise BodError("BOD_INVALID", "Invoice: InvoiceHeader is missing")
    number = required(header, "DocumentID/ID", "InvoiceHeader")
    where = f"Invoice {number}"
    total = money(header, "TotalAmount", where)
    if total is None:
        raise BodError("BOD_INVALID", f"{where}: TotalAmount is missing")
    lines = []
    for index, node in enumerate(find_all(noun, "InvoiceLine"), start=1):
        here = f"{where} line {index}"
        net = money(node, "ExtendedAmount", here)
        if net is None:
            raise BodError("BOD_INVALID", f"{here}: ExtendedAmount is missing")
        lines.append(
            InvoiceLine(
                line_id=text(node, "LineNumber"),
                item_number=text(node, "Item/ItemID/ID"),
                sku=text(node, "Item/CustomerItemID/ID"),
                quantity=decimal(required(node, "Quantity", here), f"{here}: Quantity"),
                net_amount=net,
            )
        )
    issued = day(required(header, "DocumentDateTime", where), f"{where}: DocumentDateTime")
    assert issued is not None
    try:
        invoice = Invoice(
            invoice_number=number,
            issued_on=issued,
            currency=total.currency,
            order_id=text(header, "CustomerPurchaseOrderReference/DocumentID/ID"),
            seller_order_number=text(header, "SalesOrderReference/DocumentID/ID"),
            customer_number=text(header, "CustomerParty/PartyIDs/ID"),
            delivery_number=text(header, "ShipmentReference/DocumentID/ID"),
            due_on=day(text(header, "PaymentTerm/DueDateTime"), f"{where}: DueDateTime"),
            lines=tuple(lines),
            net_total=money(header, "ExtendedAmount", where) or total,
            tax_total=money(header, "Tax/Amount", where),
            total=total,
        )
    except ValidationError as exc:
        raise BodError("BOD_INVALID", f"{where}: {exc.errors()[0]['msg']}") from None
    return [invoice]


bod.register(
    bod.NounCodec(
        noun="Invoice",
        verbs=("Sync",),
        model=Invoice,
        decode=decode,
        encode=encode,
        document_id=lambda invoice: invoice.invoice_number,
    )
)
