"""The simulator's warehouse ships seller-fulfilled orders (POST /_sim/orders/{orno}/deliver): lines
to 66/77, a SyncShipment BOD with package, carrier and tracking to the IMS target, invoicing as
configured; plus the money rules behind charges and line discounts."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from m3_ims_support import TOKEN, Receiver
from m3_sim_support import Sim, order_plan, run_with_client, set_option

from m3amazon.canonical import Invoice, Shipment
from m3amazon.m3 import lifecycle
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError
from m3amazon.m3.ion import bod
from m3amazon.m3.orders import ensure_customer_order


def _deliver(sim: Sim, reference: str, **body: object) -> httpx.Response:
    return httpx.post(f"{sim.url}/_sim/orders/{reference}/deliver", json=body, timeout=10)


def test_a_partial_then_full_shipment_sends_bods_with_carrier_and_tracking(
    sim: Sim, receiver: Receiver
) -> None:
    httpx.post(f"{sim.url}/_sim/ims", json={"url": receiver.url, "token": TOKEN}).raise_for_status()
    plan = order_plan(sim, "111-9000001-0000001", lines=2)
    orno = run_with_client(sim, lambda client: ensure_customer_order(client, plan)).order_number

    part = _deliver(
        sim, plan.cuor, lines=[{"cuor": "00002", "quantity": 1}], carrier="UPS", tracking="1ZPART"
    )
    assert part.status_code == 200, part.text
    rest = _deliver(sim, orno, carrier="FedEx", tracking="7712")
    assert rest.status_code == 200, rest.text
    assert [s["lines"] for s in part.json()["shipments"]] == [{"2": "1"}]
    assert sorted(line for s in rest.json()["shipments"] for line in s["lines"]) == ["1", "2"]

    assert httpx.post(f"{sim.url}/_sim/ims/wait", timeout=15).json() == {"idle": True}
    stored = receiver.wait_for(7)  # inventory counts (allocation, 2 issues), 2 shipments, 2 invoices
    shipments = [
        bod.decode(s.payload.encode()).documents[0] for s in stored if s.document_name == "SyncShipment"
    ]
    invoices = [
        bod.decode(s.payload.encode()).documents[0] for s in stored if s.document_name == "SyncInvoice"
    ]
    assert all(isinstance(s, Shipment) for s in shipments) and all(isinstance(i, Invoice) for i in invoices)
    assert [(s.packages[0].carrier, s.packages[0].tracking_number) for s in shipments] == [
        ("UPS", "1ZPART"),
        ("FedEx", "7712"),
    ]
    assert [[(line.line_id, line.quantity) for line in s.lines] for s in shipments] == [
        [("00002", 1)],
        [("00001", 1), ("00002", 1)],
    ]
    assert len({s.shipment_id for s in shipments}) == 2 and all(s.order_id == plan.cuor for s in shipments)
    lines = run_with_client(sim, lambda client: lifecycle.get_order_lines(client, orno))
    assert [line.status for line in lines] == ["77", "77"]
    assert sum((i.net_total.amount for i in invoices), Decimal(0)) == sum(
        (Decimal(line["SAPR"]) * Decimal(line["ORQT"]) for line in plan.lines), Decimal(0)
    )


def test_delivered_lines_wait_for_the_invoicing_run_when_asked(sim: Sim) -> None:
    set_option(sim, invoice_on_delivery=False)
    plan = order_plan(sim, "111-9000002-0000002", lines=1)
    orno = run_with_client(sim, lambda client: ensure_customer_order(client, plan)).order_number
    assert _deliver(sim, orno).status_code == 200
    assert run_with_client(sim, lambda client: lifecycle.get_order_head(client, orno)).lowest_status == "66"
    assert len(httpx.post(f"{sim.url}/_sim/invoice").json()["invoices"]) == 1


def test_what_cannot_be_shipped_is_refused_with_a_reason(sim: Sim) -> None:
    sim.store.set_balance("100", sim.catalog[0].item_number, 0)
    plan = order_plan(sim, "111-9000003-0000003", lines=2)
    orno = run_with_client(sim, lambda client: ensure_customer_order(client, plan)).order_number
    not_picked = _deliver(sim, orno, lines=[{"ponr": 1}])
    assert not_picked.status_code == 409 and "not on a picking list" in not_picked.json()["error"]
    too_many = _deliver(sim, orno, lines=[{"ponr": 2, "quantity": 3}])
    assert too_many.status_code == 409 and "between 1 and 2" in too_many.json()["error"]
    assert _deliver(sim, "NOSUCH").status_code == 409
    assert _deliver(sim, orno, lines="all").status_code == 422
    assert _deliver(sim, orno, wrong=True).status_code == 422
    balance = httpx.post(f"{sim.url}/_sim/balances", json={"whlo": "100", "itno": "X1", "on_hand": "5"})
    assert balance.json() == {"whlo": "100", "itno": "X1", "on_hand": "5"}
    assert httpx.post(f"{sim.url}/_sim/balances", json={"whlo": "100"}).status_code == 422


def test_discounts_and_charges_follow_m3s_rules(sim: Sim) -> None:
    plan = order_plan(sim, "111-9000004-0000004", lines=1)
    line = {**plan.lines[0], "DIA2": "0.50"}

    async def scenario(client: MIClient) -> tuple:
        batch = (await client.execute("OIS100MI", "AddBatchHead", {"CUNO": "AMZUS", "CUOR": plan.cuor}))[0][
            "ORNO"
        ]
        with pytest.raises(MIError) as too_big:
            await client.execute("OIS100MI", "AddBatchLine", {**line, "ORNO": batch, "DIA1": "100000"})
        with pytest.raises(MIError) as other_currency:
            await client.execute(
                "OIS100MI", "AddBatchHeadChg", {"ORNO": batch, "CRID": "SHIP", "CRAM": "1", "CUCD": "EUR"}
            )
        await client.execute("OIS100MI", "DelBatchHead", {"ORNO": batch})
        ensured = await ensure_customer_order(
            client,
            plan.model_copy(
                update={
                    "lines": [line],
                    "charges": [{"CRID": "GIFT", "CRAM": "2.00"}, {"CRID": "PROMO", "CRAM": "-1.25"}],
                }
            ),
        )
        rows = await client.execute("OIS100MI", "LstLine", {"ORNO": ensured.order_number})
        return (
            too_big.value,
            other_currency.value,
            rows[0],
            await lifecycle.get_order_head(client, ensured.order_number),
        )

    too_big, other_currency, row, head = run_with_client(sim, scenario)
    assert (too_big.code, too_big.field) == ("WDI0105", "DIA1")
    assert (other_currency.code, other_currency.field) == ("WCU0502", "CUCD")
    price = Decimal(line["SAPR"])
    assert row["DIA2"] == "0.50" and Decimal(row["NLAM"]) == price - Decimal("0.50")
    assert head.net_amount is not None and head.net_amount.amount == price - Decimal("0.50") + Decimal("0.75")
