"""Idempotency under injected faults: lost answers, 500s and dropped connections never duplicate orders."""

from __future__ import annotations

import asyncio

from m3_sim_support import Sim, order_plan

from m3amazon.m3.orders import ensure_customer_order


def _ensure_all(sim: Sim, count: int, prefix: str) -> list:
    async def scenario():
        async with sim.onprem(timeout_s=0.4, max_concurrency=16) as client:
            plans = [order_plan(sim, f"{prefix}-{n:07d}-0000001", lines=1 + n % 3) for n in range(count)]
            return await asyncio.gather(
                *(ensure_customer_order(client, plan, attempts=12, settle_s=0) for plan in plans)
            )

    return asyncio.run(scenario())


def test_timeouts_and_server_errors_leave_exactly_one_order_per_cuor(sim: Sim) -> None:
    sim.set_faults(timeout_share=0.10, error_500_share=0.05, timeout_s=0.8, seed=11)
    ensured = _ensure_all(sim, 100, "112")
    sim.set_faults()
    stats = sim.stats()
    assert len({e.order_number for e in ensured}) == 100
    assert stats["orders_total"] == 100
    assert stats["duplicate_orders"] == 0
    assert stats["open_batch_orders"] == 0  # batch orders whose answer was lost were found and deleted
    assert stats["http_requests"] > 200  # the faults did happen: 100 orders cost 200 calls without them


def test_dropped_connections_after_processing_do_not_duplicate(sim: Sim) -> None:
    sim.set_faults(reset_share=0.15, latency_ms=1, jitter_ms=4, seed=5)
    ensured = _ensure_all(sim, 25, "113")
    sim.set_faults()
    stats = sim.stats()
    assert len({e.order_number for e in ensured}) == 25
    assert stats["orders_total"] == 25 and stats["duplicate_orders"] == 0
