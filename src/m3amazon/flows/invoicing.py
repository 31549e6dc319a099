"""Invoices: M3 billed an Amazon order; check it against what Amazon charged.

M3 invoices delivered orders itself (its invoicing run, OIS180/OIS190); the invoice reaches the
product as a SyncInvoice BOD. This flow puts the invoice on the order's trail and compares the
invoiced net amount with the goods total of the Amazon order (unit prices x quantities, the
amounts the order flow sent to M3). Within the configured tolerance the order is `invoiced`; beyond
it an `amount_variance` incident says by how much, so finance sees it before the settlement. Only
goods are compared: charges (shipping, gift wrap) and taxes follow M3's own rules.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from dbos import DBOS

from m3amazon.bootstrap import runtime
from m3amazon.canonical import Invoice, Money, Order
from m3amazon.flows.order_to_cash import fetch_order
from m3amazon.flows.outcomes import INVOICE_CATEGORIES, Failure, OrderOutcome
from m3amazon.flows.records import record_outcome, report_incident
from m3amazon.flows.transient import flow_step
from m3amazon.m3.charges import amount_of
from m3amazon.mapping import Mappings
from m3amazon.mapping.tables import ChargeMode
from m3amazon.ops import trail


@DBOS.workflow()
async def m3_invoice_reported(invoice: Invoice) -> OrderOutcome:
    """M3 invoiced -> read the Amazon order -> compare the amounts -> record or raise a variance."""
    assert invoice.order_id is not None
    order = await fetch_order(invoice.order_id)
    if isinstance(order, Failure):
        return await report_incident(None, None, (order,), invoice.order_id)
    checked = await compare_amounts(order, invoice)
    if isinstance(checked, Failure):
        return await report_incident(None, order, (checked,), order.order_id)
    return await record_outcome(order, checked, None, INVOICE_CATEGORIES)


@flow_step()
async def compare_amounts(order: Order, invoice: Invoice) -> OrderOutcome | Failure:
    """This invoice's goods lines against Amazon's prices for the same items and quantities."""
    rt = runtime()
    tolerance = Money(rt.settings.invoicing.tolerance, order.currency)
    invoiced_quantities = await asyncio.to_thread(_note_invoice, order.order_id, invoice)
    if invoice.currency != order.currency:
        return Failure(
            "AMOUNT_VARIANCE",
            f"M3 invoiced order {order.order_id} in {invoice.currency}, Amazon charged in {order.currency}",
        )
    invoiced, expected = _compared_amounts(order, invoice, rt.mappings)
    difference = invoiced - expected
    if abs(difference) > tolerance:
        return Failure(
            "AMOUNT_VARIANCE",
            f"M3 invoice {invoice.invoice_number} bills {invoiced} (net) for order {order.order_id}; "
            f"at Amazon's prices the same items come to {expected}: a difference of {difference}, "
            f"beyond the tolerance of {tolerance}",
            details={
                "invoice": invoice.invoice_number,
                "invoiced": str(invoiced.amount),
                "expected": str(expected.amount),
                "difference": str(difference.amount),
            },
        )
    return OrderOutcome(
        order.order_id,
        "invoiced" if fully_invoiced(order, invoiced_quantities) else "part_invoiced",
        invoice.seller_order_number,
        detail=f"M3 invoice {invoice.invoice_number}, {invoiced} net",
    )


def _compared_amounts(order: Order, invoice: Invoice, mappings: Mappings) -> tuple[Money, Money]:
    """(invoiced, expected) net amounts for what this invoice bills.

    Goods lines carry Amazon's orderItemIds (M3's line CUOR): each is expected at the unit price
    sent to M3 (rounded to the minor unit) x the invoiced quantity, minus the item's promotion in
    proportion when promotions travel as line discounts; a partial invoice is compared only for
    what it bills. Any other line is a charge (shipping, gift wrap, ...), which M3 bills with the
    first invoice: when charge lines are there, Amazon's charges of the kinds sent to M3 are
    expected. Without any goods line the invoice's net total is compared with the whole order.
    """
    lines = {line.line_id: line for line in order.lines}
    currency = order.currency
    promotions = mappings.charges.promotion.mode is ChargeMode.LINE_DISCOUNT
    goods = [il for il in invoice.lines if il.line_id in lines]
    charges = [il for il in invoice.lines if il.line_id not in lines]
    expected_charges = _charges_sent(order, mappings)
    if not goods:
        expected = Money.sum((line.unit_price.rounded() * line.quantity for line in order.lines), currency)
        if promotions:
            expected -= Money.sum(
                (ln.promotion_discount for ln in order.lines if ln.promotion_discount), currency
            )
        return invoice.net_total, expected + expected_charges
    expected = Money.zero(currency)
    for il in goods:
        line = lines[il.line_id or ""]
        expected += line.unit_price.rounded() * il.quantity
        if promotions and line.promotion_discount and line.quantity:
            expected -= (line.promotion_discount * il.quantity * (Decimal(1) / line.quantity)).rounded()
    if charges:
        expected += expected_charges
    invoiced = Money.sum((il.net_amount for il in (*goods, *charges)), currency)
    return invoiced, expected


def _charges_sent(order: Order, mappings: Mappings) -> Money:
    """Amazon's charges of the kinds the order flow sent to M3 as head charges or order lines."""
    total = Money.zero(order.currency)
    for kind in ("shipping", "gift_wrap", "tax"):
        if getattr(mappings.charges, kind).mode in (ChargeMode.HEAD_CHARGE, ChargeMode.ORDER_LINE):
            for line in order.lines:
                for amount in amount_of(line, kind):
                    total += amount
    return total


def _note_invoice(order_id: str, invoice: Invoice) -> dict[str, Decimal]:
    """The invoice on the order's timeline and the running invoiced total on its trail; returns the
    quantities invoiced so far per Amazon item (over every invoice of the order)."""
    engine = runtime().engine
    detail = {
        "net": str(invoice.net_total.amount),
        "lines": {il.line_id: str(il.quantity) for il in invoice.lines if il.line_id},
    }
    trail.add_event(
        engine,
        order_id,
        "invoiced",
        f"M3 invoice {invoice.invoice_number}: net {invoice.net_total}, total {invoice.total}",
        key=f"invoice:{invoice.invoice_number}",
        detail=json.dumps(detail),
    )
    total, quantities = Decimal(0), dict[str, Decimal]()
    for event in trail.timeline(engine, order_id):
        if event["kind"] != "invoiced" or not event["detail"]:
            continue
        recorded = json.loads(event["detail"])
        total += Decimal(recorded["net"])
        for line_id, quantity in recorded["lines"].items():
            quantities[line_id] = quantities.get(line_id, Decimal(0)) + Decimal(quantity)
    trail.set_invoiced(engine, order_id, str(total))
    return quantities


def fully_invoiced(order: Order, quantities: dict[str, Decimal]) -> bool:
    """Every item of the order invoiced in full (an order shipped in parts is invoiced in parts)."""
    return all(
        quantities.get(line.line_id, Decimal(0)) >= line.quantity for line in order.lines if line.quantity
    )
