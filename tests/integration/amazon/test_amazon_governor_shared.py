"""The governor's buckets in PostgreSQL: atomic refill-and-take, and a fleet of gateways that stays
inside one usage plan together (the simulator's own bucket and its per-second counters judge)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from amazon_sim_harness import AmazonSim

from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.amazon.governor import BucketStore, MemoryBuckets, PostgresBuckets, RateGovernor
from m3amazon.config import GovernorSettings, PlanSetting
from m3amazon.ops import db
from m3amazon.sim.amazon.scenario import generate_orders

pytestmark = pytest.mark.postgres

StartAmazon = Callable[..., AmazonSim]
RATE, BURST = 10.0, 5


def test_concurrent_takes_never_hand_out_more_than_the_bucket_holds(pg_url: str) -> None:
    engine = db.create_engine(pg_url)
    db.create_tables(engine)
    store = PostgresBuckets(engine)
    granted = 0
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + 1.5

    def hammer() -> None:
        nonlocal granted
        own = PostgresBuckets(engine)  # as another worker would: its own store object
        while time.monotonic() < deadline:
            if own.take(("S1", "op"), RATE, BURST).granted:
                with lock:
                    granted += 1

    store.peek(("S1", "op"), RATE, BURST)  # the bucket starts full
    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert BURST + RATE * 1.5 - 3 <= granted <= BURST + RATE * elapsed + 1, (granted, elapsed)
    engine.dispose()


def _fleet(
    sim: AmazonSim, stores: list[BucketStore], ids: list[str], samples: list[tuple[float, int]]
) -> None:
    """One gateway per store, each in its own thread and event loop (as separate workers would),
    all reading their share of `ids` at once; the simulator's counters are sampled meanwhile."""
    settings = sim.settings(
        governor=GovernorSettings(plans={"getOrder": PlanSetting(rate=RATE, burst=BURST)}, rate_safety=0.9)
    )
    done = threading.Event()
    failures: list[BaseException] = []

    def sample() -> None:
        while not done.is_set():
            samples.append((time.monotonic(), int(sim.account.stats()["calls"].get("getOrder", 0))))
            time.sleep(0.02)

    def worker(store: BucketStore, share: list[str]) -> None:
        async def run() -> None:
            governor = RateGovernor(store, settings.governor)
            async with AmazonGateway(settings, governor=governor, seed=len(share)) as gateway:
                orders = await asyncio.gather(*(gateway.get_order(i) for i in share))
                assert [o.order_id for o in orders] == share

        try:
            asyncio.run(run())
        except BaseException as exc:  # a thread's exception would otherwise vanish
            failures.append(exc)

    sampler = threading.Thread(target=sample)
    sampler.start()
    shares = [ids[i :: len(stores)] for i in range(len(stores))]
    threads = [
        threading.Thread(target=worker, args=(s, share)) for s, share in zip(stores, shares, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    sampler.join()
    samples.append((time.monotonic(), int(sim.account.stats()["calls"].get("getOrder", 0))))
    assert not failures, failures


def test_gateways_sharing_a_postgresql_governor_stay_inside_the_plan_together(
    start_amazon: StartAmazon, pg_url: str
) -> None:
    sim = start_amazon(rate_limits={"getOrder": (RATE, BURST)})
    ids = generate_orders(sim.account, 36, seed=31)
    engine = db.create_engine(pg_url)
    db.create_tables(engine)
    samples: list[tuple[float, int]] = []
    _fleet(sim, [PostgresBuckets(engine) for _ in range(3)], ids, samples)
    engine.dispose()

    stats = sim.account.stats()
    calls = stats["calls"]["getOrder"]
    # A call may overtake another on its way (a new connection's TLS handshake): at most a stray
    # 429 at the start, against one per worker and more for the control below.
    assert stats["throttled_total"] <= 2 and calls == len(ids) + stats["throttled_total"]
    # The judge: in no window did the fleet send more calls than the plan allows (burst + rate x
    # window), give or take one sampling interval.
    assert samples[-1][1] == calls
    for i, (t0, n0) in enumerate(samples):
        for t1, n1 in samples[i + 1 :]:
            assert n1 - n0 <= BURST + RATE * (t1 - t0 + 0.02) + 1, (t1 - t0, n1 - n0)


def test_gateways_with_buckets_of_their_own_overrun_the_plan(start_amazon: StartAmazon) -> None:
    """The control: the same fleet, each worker keeping its buckets in its own process."""
    sim = start_amazon(rate_limits={"getOrder": (RATE, BURST)})
    ids = generate_orders(sim.account, 18, seed=32)
    _fleet(sim, [MemoryBuckets() for _ in range(3)], ids, [])
    assert sim.account.stats()["throttled_total"] >= 2 * BURST  # three bursts where the plan has one
