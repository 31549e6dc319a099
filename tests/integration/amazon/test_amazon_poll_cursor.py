"""The catch-up poll against the Amazon simulator: windows, the persisted cursor, the lease, failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from amazon_sim_harness import AmazonSim

from m3amazon.amazon.errors import Unavailable
from m3amazon.amazon.poll import CatchUpPoll, read_cursor
from m3amazon.canonical import Order, OrderChanged, OrderStatus
from m3amazon.config import PollSettings
from m3amazon.ops import db
from m3amazon.sim.amazon.scenario import generate_orders

StartAmazon = Callable[..., AmazonSim]
SETTINGS = PollSettings(interval_s=60, overlap_s=600, settle_s=125, initial_lookback_s=3 * 86400)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Submitted:
    """Stands in for flows.dispatch.submit_order_change and records what it was given."""

    def __init__(self) -> None:
        self.events: list[OrderChanged] = []
        self.orders: list[Order | None] = []

    async def __call__(self, event: OrderChanged, *, order: Order | None = None) -> str:
        self.events.append(event)
        self.orders.append(order)
        return f"amazon-order:{event.order_id}"


def _poll(sim: AmazonSim, tmp_path: Path, clock: Clock, owner: str = "w1", **kw: Any) -> Any:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'poll.sqlite'}")
    db.create_tables(engine)
    submit = Submitted()
    gateway = sim.gateway()
    poll = CatchUpPoll(kw.get("settings", SETTINGS), gateway, engine, submit, owner=owner, now=clock)
    return poll, submit, gateway, engine


def test_the_first_poll_hands_on_every_order_of_its_window_and_stores_the_cursor(
    start_amazon: StartAmazon, tmp_path: Path
) -> None:
    sim = start_amazon(time_scale=10_000)  # searchOrders refills at 0.0056/s otherwise
    ids = generate_orders(sim.account, 130, seed=51)  # more than one page
    cancelled = sim.account.set_status(
        ids[0], OrderStatus.CANCELLED, at=datetime.now(UTC) - timedelta(hours=1)
    )
    clock = Clock()
    poll, submit, gateway, engine = _poll(sim, tmp_path, clock)

    async def run() -> Any:
        async with gateway:
            return await poll.poll_once()

    result = asyncio.run(run())
    assert result is not None and result.pages == 2 and result.orders == len(ids)
    assert sorted(e.order_id for e in submit.events) == sorted(ids)
    by_id = {e.order_id: e for e in submit.events}
    event = by_id[ids[1]]
    truth = sim.account.get_order(ids[1])
    assert truth is not None
    assert (event.origin, event.reported_status, event.changed_at) == ("poll", "Unshipped", truth.updated_at)
    assert by_id[ids[0]].reported_status == "Canceled"  # dispatch starts nothing for it
    assert by_id[ids[0]].changed_at == cancelled.updated_at
    assert all(o is not None and o == sim.account.get_order(o.order_id) for o in submit.orders)
    row = read_cursor(engine, poll.name)
    assert row is not None and row["cursor"] == clock.now - timedelta(seconds=SETTINGS.settle_s)
    assert row["lease_owner"] is None and row["last_orders"] == len(ids) and row["last_error"] is None


def test_the_next_poll_waits_for_its_interval_and_reads_from_the_cursor_minus_the_overlap(
    start_amazon: StartAmazon, tmp_path: Path
) -> None:
    sim = start_amazon(time_scale=10_000)
    ids = generate_orders(sim.account, 10, seed=52)
    clock = Clock()
    poll, submit, gateway, _ = _poll(sim, tmp_path, clock)

    async def run() -> list[Any]:
        async with gateway:
            first = await poll.poll_once()
            clock.now += timedelta(seconds=30)
            early = await poll.poll_once()  # the interval (60 s) has not passed
            assert first is not None
            # An order changes after the first window ended (its notification is lost).
            sim.account.set_status(ids[3], OrderStatus.SHIPPED, at=first.window_end + timedelta(seconds=10))
            clock.now += timedelta(seconds=40)
            second = await poll.poll_once()
            return [first, early, second]

    first, early, second = asyncio.run(run())
    assert first is not None and early is None and second is not None
    assert second.window_start == first.window_end - timedelta(seconds=SETTINGS.overlap_s)
    assert second.window_end == clock.now - timedelta(seconds=SETTINGS.settle_s)
    later = [e.order_id for e in submit.events[first.orders :]]
    assert ids[3] in later
    assert all(
        second.window_start <= sim.account.get_order(i).updated_at <= second.window_end  # type: ignore[union-attr]
        for i in later
    )


def test_workers_take_turns_through_the_lease(start_amazon: StartAmazon, tmp_path: Path) -> None:
    sim = start_amazon(time_scale=10_000)
    generate_orders(sim.account, 5, seed=53)
    clock = Clock()
    poll_a, _, gateway_a, engine = _poll(sim, tmp_path, clock, owner="a")
    poll_b, _, gateway_b, _ = _poll(sim, tmp_path, clock, owner="b")

    async def run() -> tuple[Any, Any]:
        async with gateway_a, gateway_b:
            return await asyncio.gather(poll_a.poll_once(), poll_b.poll_once())

    results = asyncio.run(run())
    assert sum(r is not None for r in results) == 1  # one of them polled, the other found it taken
    row = read_cursor(engine, poll_a.name)
    assert row is not None and row["lease_owner"] is None


def test_a_failed_poll_keeps_the_cursor_and_frees_the_lease(
    start_amazon: StartAmazon, tmp_path: Path
) -> None:
    sim = start_amazon(time_scale=10_000)
    generate_orders(sim.account, 5, seed=54)
    clock = Clock()
    poll, _, gateway, engine = _poll(sim, tmp_path, clock)
    sim.faults(error_rates={"503": 1.0}, operations=["searchOrders"])

    async def run() -> None:
        async with gateway:
            with pytest.raises(Unavailable):
                await poll.poll_once()

    asyncio.run(run())
    row = read_cursor(engine, poll.name)
    assert row is not None and row["cursor"] is None and row["lease_owner"] is None
    assert row["last_error"] and "503" in row["last_error"]
