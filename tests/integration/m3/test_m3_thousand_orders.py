"""Acceptance: 1,000 orders against the simulator with 10 % timeouts and 5 % HTTP 500s, each created once.

Timeouts are lost answers *after* M3 ran the transaction (the case idempotency is about); 500s come
before it runs. The check is M3's own: orders per CUOR in the simulator.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from m3_sim_support import Sim, order_plan

from m3amazon.m3.orders import ensure_customer_order
from m3amazon.sim.catalog import MARKETPLACES

ORDERS = 1000
#: Orders are spread over the simulated customers: the CUOR lookup lists a customer's batch heads,
#: a cost that grows with the customer's history (see m3.orders).
CUSTOMERS = [market.customer_number for market in MARKETPLACES.values()]


@pytest.mark.slow  # about 30 s here
def test_a_thousand_orders_under_timeouts_and_500s_are_created_exactly_once(sim: Sim) -> None:
    sim.set_faults(timeout_share=0.10, error_500_share=0.05, timeout_s=0.8, seed=1000)
    plans = [
        order_plan(sim, f"117-{n:07d}-0000001", lines=1 + n % 3, customer=CUSTOMERS[n % len(CUSTOMERS)])
        for n in range(ORDERS)
    ]

    async def scenario() -> list:
        async with sim.onprem(timeout_s=0.5, max_concurrency=32) as client:
            semaphore = asyncio.Semaphore(64)

            async def one(plan):
                async with semaphore:
                    return await ensure_customer_order(client, plan, attempts=20, settle_s=0)

            return await asyncio.gather(*(one(p) for p in plans))

    started = time.perf_counter()
    ensured = asyncio.run(scenario())
    elapsed = time.perf_counter() - started
    sim.set_faults()
    stats = sim.stats()
    by_cuor = sim.store.orders_by_cuor()
    assert set(by_cuor) == {p.cuor for p in plans}
    assert set(by_cuor.values()) == {1}, "some CUOR has more than one order"
    assert stats["orders_total"] == ORDERS and stats["duplicate_orders"] == 0
    assert stats["open_batch_orders"] == 0
    assert len({e.order_number for e in ensured}) == ORDERS
    assert stats["http_requests"] > 2 * ORDERS  # the faults happened (2,000 calls without them)
    print(f"\n{ORDERS} orders, {stats['http_requests']} HTTP requests, {elapsed:.1f} s")
