"""The rate governor without a server: plans, buckets, waiting, adapting to the header, draining."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from m3amazon.amazon.errors import Throttled
from m3amazon.amazon.governor import (
    MemoryBuckets,
    RateGovernor,
    UsagePlan,
    buckets_for,
    describe,
    load_usage_plans,
)
from m3amazon.config import GovernorSettings, PlanSetting


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def governor(time_: FakeTime, **settings: object) -> RateGovernor:
    return RateGovernor(
        MemoryBuckets(time_.clock),
        GovernorSettings(**settings),  # type: ignore[arg-type]
        sleep=time_.sleep,
        clock=time_.clock,
    )


def test_plans_come_from_the_models_and_ambiguous_names_take_the_slowest() -> None:
    plans = load_usage_plans()
    assert plans["getOrder@2026-01-01"] == UsagePlan(0.5, 30)
    assert plans["searchOrders@2026-01-01"] == UsagePlan(0.0056, 20)
    # getOrder is also Fulfillment Outbound 2026-07-04 (2/s): the plain name must not run faster.
    assert plans["getOrder"] == UsagePlan(0.5, 30)
    assert plans["confirmShipment"] == UsagePlan(2.0, 10)


def test_settings_override_a_plan_and_unknown_operations_get_the_default() -> None:
    gov = RateGovernor(
        settings=GovernorSettings(plans={"getOrder": PlanSetting(rate=5, burst=50)}, default_rate=0.25)
    )
    assert gov.plan("getOrder") == UsagePlan(5.0, 50)
    assert gov.plan("noSuchOperation") == UsagePlan(0.25, 1)


def test_burst_goes_at_once_then_calls_wait_for_the_refill() -> None:
    time_ = FakeTime()
    gov = governor(time_, plans={"op": PlanSetting(rate=2, burst=3)}, rate_safety=1.0)

    async def run() -> list[float]:
        return [await gov.acquire("S1", "op") for _ in range(5)]

    waits = asyncio.run(run())
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.5, abs=0.01) and waits[4] == pytest.approx(0.5, abs=0.01)


def test_the_safety_share_slows_the_refill() -> None:
    time_ = FakeTime()
    gov = governor(time_, plans={"op": PlanSetting(rate=2, burst=1)}, rate_safety=0.8)

    async def run() -> float:
        await gov.acquire("S1", "op")
        return await gov.acquire("S1", "op")

    assert asyncio.run(run()) == pytest.approx(1 / 1.6, abs=0.01)


def test_buckets_are_per_seller_and_operation() -> None:
    time_ = FakeTime()
    gov = governor(time_, plans={"a": PlanSetting(rate=1, burst=1), "b": PlanSetting(rate=1, burst=1)})

    async def run() -> list[float]:
        return [await gov.acquire(s, o) for s, o in (("S1", "a"), ("S1", "b"), ("S2", "a"))]

    assert asyncio.run(run()) == [0.0, 0.0, 0.0]


def test_waiters_are_served_in_order_and_the_store_is_asked_about_once_per_token() -> None:
    time_ = FakeTime()
    store = MemoryBuckets(time_.clock)
    asked = 0
    take = store.take

    def counting_take(*args: object) -> object:
        nonlocal asked
        asked += 1
        return take(*args)  # type: ignore[arg-type]

    store.take = counting_take  # type: ignore[method-assign]
    gov = RateGovernor(
        store,
        GovernorSettings(plans={"op": PlanSetting(rate=10, burst=1)}, rate_safety=1.0),
        sleep=time_.sleep,
        clock=time_.clock,
    )
    done: list[int] = []

    async def one(i: int) -> None:
        await gov.acquire("S1", "op")
        done.append(i)

    async def run() -> None:
        await asyncio.gather(*(one(i) for i in range(20)))

    asyncio.run(run())
    assert done == list(range(20))
    assert asked <= 2 * 20  # the head of the queue polls; the others wait on the lock


def test_a_different_header_rate_is_followed_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    time_ = FakeTime()
    gov = governor(time_, plans={"getOrder": PlanSetting(rate=0.5, burst=2)}, rate_safety=1.0)

    async def run() -> float:
        await gov.acquire("S1", "getOrder")
        await gov.acquire("S1", "getOrder")
        with caplog.at_level(logging.INFO, logger="m3amazon.amazon.governor"):
            await gov.observe("S1", "getOrder", 10.0)
            await gov.observe("S1", "getOrder", 10.0)  # the same value again: nothing to do
        return await gov.acquire("S1", "getOrder")

    assert asyncio.run(run()) == pytest.approx(0.1, abs=0.01)  # not 2 s at the model's 0.5/s
    assert len([r for r in caplog.records if "reports 10" in r.getMessage()]) == 1
    view = gov.estimate("S1", "getOrder")
    assert (view.plan_rate, view.rate, view.burst) == (10.0, 10.0, 2)  # the burst stays the plan's


def test_header_adaptation_can_be_switched_off_and_ignores_nonsense() -> None:
    time_ = FakeTime()
    gov = governor(time_, adapt_to_header=False)
    asyncio.run(gov.observe("S1", "getOrder", 100.0))
    assert gov.estimate("S1", "getOrder").plan_rate == 0.5
    sane = governor(time_)
    for value in (None, 0.0, -1.0, float("nan"), float("inf")):
        asyncio.run(sane.observe("S1", "getOrder", value))
    assert sane.estimate("S1", "getOrder").plan_rate == 0.5


def test_a_429_drains_the_bucket() -> None:
    time_ = FakeTime()
    gov = governor(time_, plans={"op": PlanSetting(rate=4, burst=10)}, rate_safety=1.0)

    async def run() -> float:
        await gov.acquire("S1", "op")
        assert gov.estimate("S1", "op").tokens == pytest.approx(9)
        await gov.throttled("S1", "op")
        assert gov.estimate("S1", "op").tokens == 0
        return await gov.acquire("S1", "op")

    assert asyncio.run(run()) == pytest.approx(0.25, abs=0.01)
    jitter = [gov.jitter("S1", "op", random.Random(i)) for i in range(50)]
    assert all(0 <= j <= 0.025 for j in jitter) and len(set(jitter)) > 1


def test_a_wait_longer_than_the_limit_fails_with_throttled_at_once() -> None:
    time_ = FakeTime()
    gov = governor(time_, plans={"op": PlanSetting(rate=0.001, burst=1)}, max_wait_s=60)

    async def run() -> None:
        await gov.acquire("S1", "op")
        with pytest.raises(Throttled) as caught:
            await gov.acquire("S1", "op")
        assert caught.value.code == "GovernorWaitTooLong" and "max_wait_s" in caught.value.message

    asyncio.run(run())
    assert time_.slept == []  # it did not sleep first


def test_headroom_lists_every_bucket_used() -> None:
    time_ = FakeTime()
    gov = governor(time_, rate_safety=1.0)

    async def run() -> list[dict[str, object]]:
        await gov.acquire("S1", "getOrder")
        await gov.acquire("S1", "searchOrders")
        time_.now += 4
        return describe(await gov.headroom())

    rows = asyncio.run(run())
    assert [(r["operation"], r["tokens"], r["burst"]) for r in rows] == [
        ("getOrder", 30.0, 30),  # refilled: 29 + 4 s x 0.5/s, capped at the burst
        ("searchOrders", round(19 + 4 * 0.0056, 3), 20),
    ]


def test_memory_buckets_are_used_unless_the_database_is_postgresql() -> None:
    assert isinstance(buckets_for("sqlite:///x.sqlite", "auto", None), MemoryBuckets)
    assert isinstance(buckets_for("postgresql://db/x", "process", None), MemoryBuckets)
    with pytest.raises(ValueError, match="not PostgreSQL"):
        buckets_for("sqlite:///x.sqlite", "database", None)
