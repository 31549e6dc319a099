"""Cancellation before shipment: ensure_lines_closed against the simulator over loopback."""

from __future__ import annotations

from decimal import Decimal

from m3_sim_support import Sim, order_plan, run_with_client

from m3amazon.m3 import lifecycle
from m3amazon.m3.client import MIClient
from m3amazon.m3.orders import ensure_customer_order

PICK = {"E0PA": "WMS", "E065": "PICK"}


async def _order(client: MIClient, sim: Sim, cuor: str) -> str:
    return (await ensure_customer_order(client, order_plan(sim, cuor))).order_number


def test_closing_an_undelivered_order_releases_its_stock_and_repeats_as_a_no_op(sim: Sim) -> None:
    async def scenario(client: MIClient) -> tuple:
        orno = await _order(client, sim, "111-6000001-0000001")
        first = await lifecycle.ensure_lines_closed(client, orno, reason="CAN")
        closes = sim.stats()["calls"]["OIS100MI/CloLine"]
        second = await lifecycle.ensure_lines_closed(client, orno, reason="CAN")
        head = await lifecycle.get_order_head(client, orno)
        return first, closes, second, head, await lifecycle.get_order_lines(client, orno)

    first, closes, second, head, lines = run_with_client(sim, scenario)
    assert [line.line_number for line in first.closed] == [1, 2, 3] and first.changed
    assert first.already_delivered == () and first.already_closed == ()
    assert closes == 3 == sim.stats()["calls"]["OIS100MI/CloLine"]  # nothing sent the second time
    assert second.closed == () and not second.changed and len(second.already_closed) == 3
    assert [line.status for line in lines] == ["99", "99", "99"]
    assert (head.lowest_status, head.highest_status) == ("99", "99")
    for item in sim.catalog[:3]:
        assert sim.store.balance("100", item.item_number)["allocated"] == Decimal(0)


def test_delete_where_m3_allows_it_and_close_the_rest(sim: Sim) -> None:
    sim.store.set_balance("100", sim.catalog[1].item_number, 0)  # line 2 stays unallocated (22)

    async def scenario(client: MIClient) -> tuple:
        orno = await _order(client, sim, "111-6000002-0000002")
        closed = await lifecycle.ensure_lines_closed(client, orno, delete=True)
        return closed, await lifecycle.get_order_lines(client, orno)

    closed, lines = run_with_client(sim, scenario)
    assert len(closed.closed) == 3
    # line 2 deleted (90); lines 1 and 3 are on a picking list, which DelLine refuses: closed (99)
    assert [line.status for line in lines] == ["99", "90", "99"]


def test_cancelling_after_a_partial_delivery_reports_the_delivered_lines(sim: Sim) -> None:
    async def scenario(client: MIClient) -> tuple:
        orno = await _order(client, sim, "111-6000003-0000003")
        common = {"WHLO": "100", "CUNO": "AMZUS", "RIDN": orno, "PLSX": "1", **PICK}
        await client.execute("MHS850MI", "AddCOPick", {**common, "RIDL": "2", "QTYP": "1"})
        first = await lifecycle.ensure_lines_closed(client, orno)
        second = await lifecycle.ensure_lines_closed(client, orno)
        return first, second, await lifecycle.get_order_lines(client, orno)

    first, second, lines = run_with_client(sim, scenario)
    assert [str(line) for line in first.already_delivered] == ["2 (IT000001, 1 of 2 delivered)"]
    assert [line.line_number for line in first.closed] == [1, 2, 3]  # line 2: its undelivered rest
    assert [(line.status, line.ordered, line.delivered) for line in lines] == [
        ("99", 0, 0),
        ("77", 1, 1),  # delivered and invoiced; the rest closed
        ("99", 0, 0),
    ]
    assert second.closed == () and [line.line_number for line in second.already_delivered] == [2]


def test_only_the_cancelled_items_are_closed(sim: Sim) -> None:
    async def scenario(client: MIClient) -> tuple:
        orno = await _order(client, sim, "111-6000004-0000004")
        closed = await lifecycle.ensure_lines_closed(client, orno, ["00003", "00009"])
        return closed, await lifecycle.get_order_lines(client, orno)

    closed, lines = run_with_client(sim, scenario)
    assert [line.amazon_item_id for line in closed.closed] == ["00003"] and closed.not_found == ("00009",)
    assert [line.status for line in lines] == ["44", "44", "99"]
