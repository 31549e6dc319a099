"""ensure_customer_order against the simulator: created once, found again, recovered after crashes."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from m3_sim_support import Sim, order_plan

from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError, MIValidationError
from m3amazon.m3.orders import CuorLookup, ensure_customer_order


def test_a_new_three_line_order_costs_two_round_trips_and_is_created_once(sim: Sim) -> None:
    plan = order_plan(sim, "111-1000001-0000001", lines=3)

    async def scenario():
        async with sim.onprem() as client:
            first = await ensure_customer_order(client, plan)
            trips_first = client.stats.round_trips
            second = await ensure_customer_order(client, plan)
            return first, second, trips_first, client.stats.round_trips - trips_first

    first, second, trips, trips_again = asyncio.run(scenario())
    assert first.created and not second.created
    assert first.order_number == second.order_number
    assert first.batch_order_number == second.batch_order_number
    assert trips == 2  # lookup + AddBatchHead in one bulk, then address + lines + Confirm
    assert trips_again == 2  # lookup + speculative head, then DelBatchHead of that head
    orders = httpx_orders(sim)
    assert len(orders) == 1
    # allocated in full against the warehouse balances and released to a picking list
    assert orders[0]["cuor"] == plan.cuor and orders[0]["orst"] == "44" and len(orders[0]["lines"]) == 3
    assert {line["orst"] for line in orders[0]["lines"]} == {"44"}
    assert sim.stats()["open_batch_orders"] == 0


def test_without_the_speculative_head_a_new_order_costs_three_round_trips(sim: Sim) -> None:
    plan = order_plan(sim, "111-1000009-0000009", lines=3)

    async def scenario():
        async with sim.onprem() as client:
            ensured = await ensure_customer_order(client, plan, head_in_lookup=False)
            return ensured, client.stats.round_trips

    ensured, trips = asyncio.run(scenario())
    assert ensured.created and trips == 3


def httpx_orders(sim: Sim) -> list[dict]:
    return httpx.get(f"{sim.url}/_sim/orders").json()


def test_crash_after_add_batch_head_leaves_exactly_one_order(sim: Sim) -> None:
    plan = order_plan(sim, "111-1000002-0000002")

    async def scenario():
        async with sim.onprem() as client:
            # the earlier run: head and one line entered, then the worker died before Confirm
            rows = await client.execute(
                "OIS100MI", "AddBatchHead", {**plan.head, "CUNO": plan.customer, "CUOR": plan.cuor}
            )
            await client.execute("OIS100MI", "AddBatchLine", {**plan.lines[0], "ORNO": rows[0]["ORNO"]})
            ensured = await ensure_customer_order(client, plan)
            return rows[0]["ORNO"], ensured

    abandoned, ensured = asyncio.run(scenario())
    assert ensured.created and ensured.batch_order_number != abandoned
    stats = sim.stats()
    assert stats["orders_total"] == 1 and stats["duplicate_orders"] == 0
    assert stats["open_batch_orders"] == 0  # the abandoned batch order was deleted
    assert len(httpx_orders(sim)[0]["lines"]) == len(plan.lines)


def test_crash_after_confirm_finds_the_order_instead_of_entering_it_again(sim: Sim) -> None:
    plan = order_plan(sim, "111-1000003-0000003")

    async def scenario():
        async with sim.onprem() as client:
            rows = await client.execute(
                "OIS100MI", "AddBatchHead", {**plan.head, "CUNO": plan.customer, "CUOR": plan.cuor}
            )
            batch = rows[0]["ORNO"]
            for line in plan.lines:
                await client.execute("OIS100MI", "AddBatchLine", {**line, "ORNO": batch})
            confirmed = await client.execute("OIS100MI", "Confirm", {"ORNO": batch})
            ensured = await ensure_customer_order(client, plan)
            return confirmed[0]["ORNO"], ensured

    order_number, ensured = asyncio.run(scenario())
    assert ensured.order_number == order_number and not ensured.created
    assert sim.stats()["orders_total"] == 1


@pytest.mark.parametrize("lookup", [CuorLookup(use_search_head=True), CuorLookup(use_search_head=False)])
def test_each_lookup_finds_a_confirmed_order(sim: Sim, lookup: CuorLookup) -> None:
    plan = order_plan(sim, "111-1000004-0000004")

    async def scenario():
        async with sim.onprem() as client:
            first = await ensure_customer_order(client, plan, lookup=lookup)
            return first, await ensure_customer_order(client, plan, lookup=lookup)

    first, second = asyncio.run(scenario())
    assert second.order_number == first.order_number and not second.created


def test_an_order_whose_batch_heads_were_purged_is_found_by_search(sim: Sim) -> None:
    plan = order_plan(sim, "111-1000005-0000005")

    async def scenario():
        async with sim.onprem() as client:
            first = await ensure_customer_order(client, plan)
            with sim.store.transaction() as db:  # M3 purged its batch order records (OIS275)
                db.execute("DELETE FROM batch_heads")
            second = await ensure_customer_order(client, plan)
            return first, second, client.stats.round_trips

    first, second, trips = asyncio.run(scenario())
    assert second.order_number == first.order_number and not second.created
    assert second.batch_order_number is None
    assert trips == 2 + 3  # lookup+head, GetHead to verify the search hit, DelBatchHead of the head
    assert sim.stats()["orders_total"] == 1


def test_a_refused_line_stops_the_order_and_names_the_line(sim: Sim) -> None:
    plan = order_plan(sim, "111-1000006-0000006", lines=3)
    lines = list(plan.lines)
    lines[1] = {**lines[1], "ITNO": "NOSUCHITEM"}
    plan = plan.model_copy(update={"lines": lines})

    async def scenario():
        async with sim.onprem() as client:
            await ensure_customer_order(client, plan)

    with pytest.raises(MIError) as caught:
        asyncio.run(scenario())
    error = caught.value
    assert error.field == "ITNO" and error.code == "WIT0203" and not error.transient
    assert "line 2" in error.message
    stats = sim.stats()
    assert stats["orders_total"] == 0 and stats["open_batch_orders"] == 0
    assert stats["calls"]["OIS100MI/Confirm"] == 1  # sent in the same bulk, and refused by M3


def test_confirm_sent_separately_when_asked(sim: Sim) -> None:
    plan = order_plan(sim, "111-1000007-0000007")

    async def scenario():
        async with sim.onprem() as client:
            ensured = await ensure_customer_order(client, plan, confirm_in_bulk=False)
            return ensured, client.stats.round_trips

    ensured, trips = asyncio.run(scenario())
    assert ensured.created and trips == 3


def test_an_address_line_that_is_too_long_fails_before_any_call(sim: Sim) -> None:
    plan = order_plan(sim, "111-1000008-0000008")
    plan = plan.model_copy(update={"address": {**(plan.address or {}), "CUA1": "x" * 41}})

    async def scenario() -> MIClient:
        client = sim.onprem()
        try:
            await ensure_customer_order(client, plan)
        finally:
            await client.aclose()
        return client

    with pytest.raises(MIValidationError) as caught:
        asyncio.run(scenario())
    assert caught.value.field == "CUA1"
    assert str(caught.value) == "OIS100MI/AddBatchAddress: field CUA1 is 41 characters, M3 allows 36"
    assert sim.stats()["http_requests"] == 0
