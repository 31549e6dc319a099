"""Amazon shipped an FBA order: ensure_delivery_reported against the simulator over loopback.

Idempotency is the point: a second call with the same numbers changes nothing, a partial shipment
adds only the difference, and what cannot be reported is said in words after the rest was done.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from m3_sim_support import Sim, order_plan, run_with_client, set_option

from m3amazon.m3 import lifecycle
from m3amazon.m3.client import MIClient
from m3amazon.m3.orders import ensure_customer_order

SHIPPED = dt.datetime(2026, 3, 2, 14, 5, 9, tzinfo=dt.UTC)


async def _fba_order(client: MIClient, sim: Sim, cuor: str, **kwargs: object) -> str:
    return (await ensure_customer_order(client, order_plan(sim, cuor, fba=True, **kwargs))).order_number  # type: ignore[arg-type]


def _calls(sim: Sim, transaction: str) -> int:
    return sim.stats()["calls"].get(transaction, 0)


def test_a_full_shipment_reaches_66_and_a_second_call_changes_nothing(sim: Sim) -> None:
    set_option(sim, invoice_on_delivery=False)
    shipped = {"00001": 1, "00002": 2, "00003": 3}

    async def scenario(client: MIClient) -> tuple:
        orno = await _fba_order(client, sim, "111-5000001-0000001")
        before = client.stats.round_trips
        first = await lifecycle.ensure_delivery_reported(client, orno, shipped, shipped_at=SHIPPED)
        writes = _calls(sim, "MHS850MI/AddCfmPickList") + _calls(sim, "MHS850MI/AddCOPick")
        middle = client.stats.round_trips
        second = await lifecycle.ensure_delivery_reported(client, orno, shipped, shipped_at=SHIPPED)
        trips = (middle - before, client.stats.round_trips - middle)
        return first, writes, second, await lifecycle.get_order_lines(client, orno), trips

    first, writes, second, lines, trips = run_with_client(sim, scenario)
    assert trips == (5, 2)  # see docs/decisions.md: read x2 (parallel), picking lists, report, read
    assert [(p.line_number, p.quantity, p.transaction) for p in first.reported] == [
        (1, 1, "AddCfmPickList"),
        (2, 2, "AddCfmPickList"),
        (3, 3, "AddCfmPickList"),
    ]
    assert first.lowest_status == first.highest_status == "66"
    assert second.reported == () and not second.changed and second.lowest_status == "66"
    assert writes == 1 == _calls(sim, "MHS850MI/AddCfmPickList")  # nothing sent the second time
    assert [(line.status, line.delivered) for line in lines] == [("66", 1), ("66", 2), ("66", 3)]
    delivery = sim.store.orders()[0]
    assert sim.store.balance("FBA", sim.catalog[2].item_number)["on_hand"] == Decimal(997)
    assert delivery["lines"][0]["dlix"] is not None


def test_a_partial_shipment_then_the_rest(sim: Sim) -> None:
    set_option(sim, invoice_on_delivery=False)

    async def scenario(client: MIClient) -> tuple:
        orno = await _fba_order(client, sim, "111-5000002-0000002")
        part = await lifecycle.ensure_delivery_reported(client, orno, {"00003": 1}, shipped_at=SHIPPED)
        between = await lifecycle.get_order_lines(client, orno)
        rest = await lifecycle.ensure_delivery_reported(
            client, orno, {"00001": 1, "00002": 2, "00003": 3}, shipped_at=SHIPPED
        )
        return part, between, rest

    part, between, rest = run_with_client(sim, scenario)
    assert [(p.line_number, p.quantity, p.transaction) for p in part.reported] == [(3, 1, "AddCOPick")]
    assert [(line.status, line.delivered, line.allocated) for line in between] == [
        ("44", 0, 1),
        ("44", 0, 2),
        ("46", 1, 2),  # the rest stays allocated, on a delivery split from the first
    ]
    assert part.lowest_status == "44" and part.highest_status == "46"
    assert {(p.line_number, p.quantity) for p in rest.reported} == {(1, 1), (2, 2), (3, 2)}
    assert len({p.delivery_number for p in rest.reported}) == 2  # the first delivery and its split
    assert rest.lowest_status == rest.highest_status == "66"
    on_hand = sim.store.balance("FBA", sim.catalog[2].item_number)
    assert on_hand == {"on_hand": Decimal(997), "allocated": Decimal(0)}


def test_shipped_time_and_tracking_reach_m3_once(sim: Sim) -> None:
    async def scenario(client: MIClient) -> tuple:
        orno = await _fba_order(client, sim, "111-5000003-0000003", lines=1)
        first = await lifecycle.ensure_delivery_reported(
            client, orno, {"00001": 1}, shipped_at=SHIPPED, carrier="UPS", tracking="1Z999AA10123456784"
        )
        again = await lifecycle.ensure_delivery_reported(
            client, orno, {"00001": 1}, shipped_at=SHIPPED, carrier="UPS", tracking="1Z999AA10123456784"
        )
        dlix = first.reported[0].delivery_number
        packages = await client.execute("MWS410MI", "LstPackages", {"DLIX": dlix})
        return first, again, packages

    first, again, packages = run_with_client(sim, scenario)
    assert first.tracking_recorded and not again.tracking_recorded and not again.changed
    assert [(p["ETRN"], p["DLRM"]) for p in packages] == [("1Z999AA10123456784", "UPS")]
    assert first.lowest_status == "77"  # invoiced on delivery (the simulator's default)
    with sim.store.transaction() as db:
        (day,) = db.execute(
            "SELECT dldt FROM deliveries WHERE dlix = ?", (int(packages[0]["DLIX"]),)
        ).fetchone()
    assert day == "20260302"


def test_what_cannot_be_delivered_is_said_after_the_rest_was_reported(sim: Sim) -> None:
    sim.store.set_balance("FBA", sim.catalog[2].item_number, 0)  # line 3 cannot be allocated (22)

    async def scenario(client: MIClient) -> tuple:
        orno = await _fba_order(client, sim, "111-5000004-0000004")
        with pytest.raises(lifecycle.DeliveryShortfall) as caught:
            await lifecycle.ensure_delivery_reported(
                client, orno, {"00001": 1, "00002": 5, "00003": 3, "99999": 1}, shipped_at=SHIPPED
            )
        return caught.value, await lifecycle.get_order_lines(client, orno)

    error, lines = run_with_client(sim, scenario)
    assert not error.transient and error.error_type == "DeliveryShortfall"
    text = str(error)
    assert "Amazon item 99999 has no line" in text
    assert "line 2 (" in text and "Amazon shipped 5, M3 ordered 2" in text
    assert "line 3 (" in text and "allocate stock in warehouse FBA" in text and "status 22" in text
    assert {(p.line_number, p.quantity) for p in error.reported} == {(1, 1), (2, 2)}
    assert [line.delivered for line in lines] == [1, 2, 0]


def test_charge_lines_are_delivered_with_the_first_delivery(sim: Sim) -> None:
    set_option(sim, invoice_on_delivery=False)
    plan = order_plan(sim, "111-5000005-0000005", lines=2, fba=True)
    charge = {"ITNO": "SRV-SHIPPING", "ORQT": "1", "SAPR": "4.99", "WHLO": "FBA", "CUOR": "CHG-SHIPPING"}
    plan = plan.model_copy(update={"lines": [*plan.lines, charge]})

    async def scenario(client: MIClient) -> tuple:
        orno = (await ensure_customer_order(client, plan)).order_number
        first = await lifecycle.ensure_delivery_reported(client, orno, {"00002": 1}, shipped_at=SHIPPED)
        return first, await lifecycle.get_order_lines(client, orno)

    first, lines = run_with_client(sim, scenario)
    assert {(p.line_number, p.quantity) for p in first.reported} == {(2, 1), (3, 1)}
    assert lines[2].charge_kind == "shipping" and lines[2].status == "66"
    assert str(lines[2]) == "3 (shipping charge, 1 of 1 delivered)"
    assert httpx.get(f"{sim.url}/_sim/stats").json()["duplicate_orders"] == 0
