"""A batch order M3 refuses: the error says why (batch status and M3's messages), nothing is left
behind, and once the cause is fixed the same call creates the order."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from m3_sim_support import Sim, order_plan, run_with_client

from m3amazon.canonical import Money
from m3amazon.m3 import lifecycle
from m3amazon.m3.client import MIClient
from m3amazon.m3.orders import ensure_customer_order


def _stop(sim: Sim, cuno: str, **body: object) -> httpx.Response:
    return httpx.post(f"{sim.url}/_sim/customers/{cuno}/stop", json=body)


def test_a_customer_stop_rejects_the_order_with_a_readable_reason(sim: Sim) -> None:
    assert _stop(sim, "AMZUS", code="1", reason="credit limit exceeded").status_code == 200
    plan = order_plan(sim, "111-8000001-0000001")

    async def refused(client: MIClient) -> lifecycle.BatchOrderRejected:
        with pytest.raises(lifecycle.BatchOrderRejected) as caught:
            await ensure_customer_order(client, plan)
        return caught.value

    error = run_with_client(sim, refused)
    assert error.batch_status == "15" and not error.transient
    assert error.messages[0] == "Customer AMZUS is stopped: credit limit exceeded (WCU0130)"
    assert "credit limit exceeded" in str(error) and "batch status 15" in str(error)
    assert error.to_dict()["messages"] == error.messages
    stats = sim.stats()
    assert stats["orders_total"] == 0 and stats["open_batch_orders"] == 0
    assert stats["calls"]["OIS275MI/GetTmpOrderStat"] == 1 and stats["calls"]["OIS100MI/LstErrMsgOrder"] == 1

    assert _stop(sim, "AMZUS", code="0").json() == {"customer": "AMZUS", "code": "0", "reason": ""}
    created = run_with_client(sim, lambda client: ensure_customer_order(client, plan))
    assert created.created and sim.stats()["orders_total"] == 1


def test_a_refused_line_or_charge_names_itself_and_m3s_messages(sim: Sim) -> None:
    plan = order_plan(sim, "111-8000002-0000002", charges=[{"CRID": "NOSUCH", "CRAM": "1.00", "CUCD": "USD"}])
    lines = [dict(line) for line in plan.lines]
    lines[1]["ITNO"] = "NOSUCHITEM"
    plan = plan.model_copy(update={"lines": lines})

    async def refused(client: MIClient) -> lifecycle.BatchOrderRejected:
        with pytest.raises(lifecycle.BatchOrderRejected) as caught:
            await ensure_customer_order(client, plan)
        return caught.value

    error = run_with_client(sim, refused)
    assert error.batch_status == "15"  # a header error (the charge) besides the line error
    assert error.messages == [
        "line 2: Item number NOSUCHITEM does not exist",
        "Charge NOSUCH does not exist (WCR0203)",
    ]
    assert (error.field, error.code) == ("ITNO", "WIT0203")
    assert sim.stats()["open_batch_orders"] == 0


def test_charges_ride_in_the_same_bulk_and_make_the_order_value(sim: Sim) -> None:
    plan = order_plan(
        sim, "111-8000003-0000003", lines=2, charges=[{"CRID": "SHIP", "CRAM": "4.99", "CUCD": "USD"}]
    )

    async def scenario(client: MIClient) -> tuple:
        ensured = await ensure_customer_order(client, plan)
        trips = client.stats.round_trips
        charges = await client.execute("OIS100MI", "LstOrderCharge", {"ORNO": ensured.order_number})
        return trips, charges, await lifecycle.get_order_head(client, ensured.order_number)

    trips, charges, head = run_with_client(sim, scenario)
    assert trips == 2
    assert [(c["CRID"], c["PBAM"], c["CUCD"]) for c in charges] == [("SHIP", "4.99", "USD")]
    goods = sum((Decimal(line["SAPR"]) * Decimal(line["ORQT"]) for line in plan.lines), Decimal(0))
    assert head.net_amount == Money(goods + Decimal("4.99"), "USD")


def test_the_stop_control_plane_checks_its_input(sim: Sim) -> None:
    assert _stop(sim, "NOSUCH").status_code == 404
    assert _stop(sim, "AMZUS", code="12").status_code == 422
    assert _stop(sim, "AMZUS", reason="blocked by finance").json()["code"] == "1"
    with sim.store.transaction() as db:
        assert db.execute("SELECT blcd FROM customers WHERE cuno = 'AMZUS'").fetchone()[0] == "1"
    httpx.post(f"{sim.url}/_sim/reset").raise_for_status()  # a reset lifts customer stops
    with sim.store.transaction() as db:
        assert db.execute("SELECT blcd FROM customers WHERE cuno = 'AMZUS'").fetchone()[0] == "0"
