"""OrderSource against the Amazon simulator: coalescing, searchOrders for backlogs, and every fallback
to getOrder (stale search results, changes too young for search, a failing search)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from amazon_sim_harness import AmazonSim

from m3amazon.amazon.order_source import OrderSource
from m3amazon.canonical import OrderStatus
from m3amazon.config import GovernorSettings, PlanSetting
from m3amazon.sim.amazon.scenario import generate_orders

StartAmazon = Callable[..., AmazonSim]


def plans(**given: tuple[float, int]) -> dict[str, Any]:
    """Simulator usage plans, and the same plans for the governor (so neither side guesses)."""
    return {
        "rate_limits": dict(given),
        "governor": GovernorSettings(
            plans={op: PlanSetting(rate=rate, burst=burst) for op, (rate, burst) in given.items()}
        ),
    }


def calls(sim: AmazonSim, operation: str) -> int:
    return int(sim.account.stats()["calls"].get(operation, 0))


def change_times(sim: AmazonSim, ids: list[str]) -> dict[str, datetime]:
    """Each order's lastUpdatedTime in the simulator: the time of its latest change."""
    return {i: order.updated_at for i in ids if (order := sim.account.get_order(i)) is not None}


def test_requests_for_the_same_order_share_one_get_order(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    ids = generate_orders(sim.account, 2, seed=21)
    order = sim.account.get_order(ids[0])
    assert order is not None

    async def run() -> None:
        async with sim.gateway() as gateway:
            source = OrderSource(gateway)
            results = await asyncio.gather(*(source.get(ids[0], order.updated_at) for _ in range(5)))
            assert all(r == order for r in results)
            assert calls(sim, "getOrder") == 1 and source.stats.coalesced == 4
            assert source.stats.by_get_order == 1
            await source.aclose()

    asyncio.run(run())


def test_a_change_after_the_call_left_gets_a_call_of_its_own(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    order_id = generate_orders(sim.account, 1, seed=22)[0]
    sim.faults(latency_ms=400)

    async def run() -> None:
        async with sim.gateway() as gateway:
            source = OrderSource(gateway)
            first = asyncio.create_task(source.get(order_id))
            while not source._fetching:  # the first getOrder is on its way
                await asyncio.sleep(0.01)
            changed = sim.account.set_status(order_id, OrderStatus.SHIPPED)  # Amazon changes it now
            second = await source.get(order_id, changed.updated_at)
            assert second.status is OrderStatus.SHIPPED
            assert (await first).order_id == order_id
            assert calls(sim, "getOrder") == 2 and source.stats.coalesced == 0
            await source.aclose()

    asyncio.run(run())


def test_a_backlog_is_served_by_search_pages_and_stale_results_fall_back_to_get_order(
    start_amazon: StartAmazon,
) -> None:
    setup = plans(getOrder=(2.0, 2), searchOrders=(1.0, 5))
    sim = start_amazon(rate_limits=setup["rate_limits"])
    ids = generate_orders(sim.account, 60, seed=23)
    truth = {i: sim.account.get_order(i) for i in ids}
    # Five changes the search index has "not seen yet": the order Amazon returns is older than them.
    stale = set(ids[10:15])

    def change_time(order_id: str) -> datetime:
        order = truth[order_id]
        assert order is not None
        return order.updated_at + (timedelta(seconds=1) if order_id in stale else timedelta(0))

    async def run() -> None:
        async with sim.gateway(governor=setup["governor"]) as gateway:
            source = OrderSource(gateway)
            results = await asyncio.gather(*(source.get(i, change_time(i)) for i in ids))
            assert [r.order_id for r in results] == ids
            assert all(r == truth[r.order_id] for r in results)
            stats = source.stats
            assert stats.search_pages >= 1 and stats.by_search >= 40, stats
            assert stats.search_misses >= len(stale), stats
            assert stats.by_get_order + stats.by_search == len(ids), stats
            assert calls(sim, "getOrder") == stats.by_get_order < 20
            await source.aclose()

    asyncio.run(run())
    assert sim.account.stats()["throttled_total"] == 0


def test_changes_younger_than_the_search_lag_go_to_get_order(start_amazon: StartAmazon) -> None:
    setup = plans(getOrder=(50.0, 5), searchOrders=(1.0, 5))
    sim = start_amazon(rate_limits=setup["rate_limits"])
    ids = generate_orders(sim.account, 25, seed=24)
    now = datetime.now(UTC)
    for order_id in ids:  # changed just now: searchOrders cannot see them for two minutes
        sim.account.set_status(order_id, OrderStatus.SHIPPED, at=now)

    async def run() -> None:
        async with sim.gateway(governor=setup["governor"]) as gateway:
            source = OrderSource(gateway)
            results = await asyncio.gather(*(source.get(i, now.replace(microsecond=0)) for i in ids))
            assert {r.status for r in results} == {OrderStatus.SHIPPED}
            assert source.stats.search_pages == 0 and calls(sim, "searchOrders") == 0
            assert source.stats.by_get_order == len(ids)
            await source.aclose()

    asyncio.run(run())


def test_a_failing_search_leaves_the_work_to_get_order(start_amazon: StartAmazon) -> None:
    setup = plans(getOrder=(50.0, 5), searchOrders=(1.0, 5))
    sim = start_amazon(rate_limits=setup["rate_limits"])
    ids = generate_orders(sim.account, 40, seed=25)
    sim.faults(error_rates={"503": 1.0}, operations=["searchOrders"])

    async def run() -> None:
        async with sim.gateway(governor=setup["governor"]) as gateway:
            source = OrderSource(gateway)
            changes = change_times(sim, ids)
            results = await asyncio.gather(*(source.get(i, changes[i]) for i in ids))
            assert [r.order_id for r in results] == ids
            assert calls(sim, "searchOrders") >= 1 and source.stats.by_search == 0
            assert source.stats.by_get_order == len(ids)
            await source.aclose()

    asyncio.run(run())


def test_announced_changes_are_fetched_ahead_by_search(start_amazon: StartAmazon) -> None:
    setup = plans(getOrder=(2.0, 2), searchOrders=(1.0, 5))
    sim = start_amazon(rate_limits=setup["rate_limits"])
    ids = generate_orders(sim.account, 40, seed=26)
    changes = change_times(sim, ids)

    async def run() -> None:
        async with sim.gateway(governor=setup["governor"]) as gateway:
            source = OrderSource(gateway)
            for order_id in ids:  # the queue holds these changes; nobody asks yet
                source.expect(order_id, changes[order_id])
            await _until(lambda: source.stats.by_search + source.stats.fetched_ahead == len(ids))
            assert source.stats.search_pages == 1 and source.stats.by_search >= 30
            results = [await source.get(i, changes[i]) for i in ids]  # the workflows come
            assert [r.order_id for r in results] == ids
            assert source.stats.prefetched == len(ids)
            assert calls(sim, "getOrder") == source.stats.fetched_ahead  # nothing read twice
            await source.aclose()

    asyncio.run(run())


def test_get_order_reads_announced_changes_ahead_when_it_has_tokens_to_spare(
    start_amazon: StartAmazon,
) -> None:
    setup = plans(getOrder=(50.0, 5), searchOrders=(1.0, 5))
    sim = start_amazon(rate_limits=setup["rate_limits"])
    ids = generate_orders(sim.account, 20, seed=28)
    now = datetime.now(UTC).replace(microsecond=0)
    for order_id in ids:  # too young for searchOrders: only getOrder can read them
        sim.account.set_status(order_id, OrderStatus.SHIPPED, at=now)

    async def run() -> None:
        async with sim.gateway(governor=setup["governor"]) as gateway:
            source = OrderSource(gateway)
            for order_id in ids:
                source.expect(order_id, now)
            await _until(lambda: source.stats.fetched_ahead == len(ids) and not source._fetching)
            results = await asyncio.gather(*(source.get(i, now) for i in ids))
            assert {r.status for r in results} == {OrderStatus.SHIPPED}
            assert source.stats.prefetched == len(ids) and source.stats.search_pages == 0
            assert source.stats.by_get_order == len(ids) == calls(sim, "getOrder") - _throttled(sim)
            await source.aclose()

    asyncio.run(run())


async def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


def _throttled(sim: AmazonSim) -> int:
    return int(sim.account.stats()["throttled_total"])


def test_offered_orders_serve_their_change_but_not_a_newer_one(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    ids = generate_orders(sim.account, 2, seed=27)
    first, second = (sim.account.get_order(i) for i in ids)
    assert first is not None and second is not None

    async def run() -> None:
        async with sim.gateway() as gateway:
            source = OrderSource(gateway)
            source.offer(first)
            source.offer(second)
            assert await source.get(first.order_id, first.updated_at) == first
            assert calls(sim, "getOrder") == 0
            newer = second.updated_at + timedelta(seconds=5)
            assert await source.get(second.order_id, newer) == second  # read again with getOrder
            assert calls(sim, "getOrder") == 1
            await source.aclose()

    asyncio.run(run())
