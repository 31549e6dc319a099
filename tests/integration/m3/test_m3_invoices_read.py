"""list_invoices over loopback: what M3 billed, as canonical invoices whose totals add up exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from m3_sim_support import Sim, order_plan, run_with_client

from m3amazon.canonical import Money
from m3amazon.m3 import lifecycle
from m3amazon.m3.client import MIClient
from m3amazon.m3.orders import ensure_customer_order

SHIPPED = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SHIP = {"CRID": "SHIP", "CRAM": "4.99", "CUCD": "USD"}


def _plan(sim: Sim, cuor: str):  # type: ignore[no-untyped-def]
    plan = order_plan(sim, cuor, lines=3, fba=True, charges=[SHIP])
    lines = [dict(line) for line in plan.lines]
    lines[2]["DIA1"] = "1.00"  # 3 units: a discount that does not split into equal cents
    return plan.model_copy(update={"lines": lines})


def test_nothing_before_delivery_then_invoices_that_add_up_to_the_order(sim: Sim) -> None:
    plan = _plan(sim, "111-7000001-0000001")

    async def scenario(client: MIClient) -> tuple:
        orno = (await ensure_customer_order(client, plan)).order_number
        before = await lifecycle.list_invoices(client, orno)
        await lifecycle.ensure_delivery_reported(client, orno, {"00003": 1}, shipped_at=SHIPPED)
        await lifecycle.ensure_delivery_reported(
            client, orno, {"00001": 1, "00002": 2, "00003": 3}, shipped_at=SHIPPED
        )
        return (
            before,
            await lifecycle.list_invoices(client, orno),
            await lifecycle.get_order_head(client, orno),
        )

    before, invoices, head = run_with_client(sim, scenario)
    assert before == []
    assert len(invoices) == 3  # the first partial delivery, the rest of it, its split
    expected = sum(
        (Decimal(line["SAPR"]) * Decimal(line["ORQT"]) for line in plan.lines),
        Decimal("4.99") - Decimal("1.00"),
    )
    assert head.net_amount == Money(expected.quantize(Decimal("0.01")), "USD")
    assert Money.sum((invoice.net_total for invoice in invoices), "USD") == head.net_amount
    first = invoices[0]
    price = Decimal(plan.lines[2]["SAPR"])
    assert first.net_total == Money(
        price - Decimal("0.33") + Decimal("4.99"), "USD"
    )  # charges: first invoice
    for invoice in invoices:
        assert (
            invoice.currency == "USD" and invoice.order_id == plan.cuor and invoice.customer_number == "AMZUS"
        )
        assert invoice.total == invoice.net_total and invoice.tax_total == Money.zero("USD")
        assert invoice.issued_on == dt.datetime.now(dt.UTC).date() and invoice.due_on is not None
        assert invoice.seller_order_number == head.order_number and invoice.delivery_number
    assert len({invoice.invoice_number for invoice in invoices}) == 3
