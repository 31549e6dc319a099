"""The circuit breaker against the simulator: M3 down for a while, calls wait, M3 back, all complete once."""

from __future__ import annotations

import asyncio

from m3_sim_support import NO_WAIT, Sim, order_plan

from m3amazon.config import CircuitSettings, M3Settings
from m3amazon.m3.circuit import CircuitState, circuit_state
from m3amazon.m3.client import MIClient
from m3amazon.m3.orders import ensure_customer_order
from m3amazon.sim.m3.app import create_app
from m3amazon.sim.server import serve_in_thread

ORDERS = 20


def _client(sim: Sim, changes: list[str]) -> MIClient:
    settings = M3Settings(
        base_url=sim.url,
        timeout_s=2.0,
        max_concurrency=8,
        circuit=CircuitSettings(failure_threshold=3, probe_initial_s=0.05, probe_max_s=0.2),
    )
    return MIClient(settings, retry=NO_WAIT, on_circuit_change=lambda old, new: changes.append(new.value))


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def _assert_exactly_once(sim: Sim, ensured: list) -> None:
    stats = sim.stats()
    assert len({e.order_number for e in ensured}) == ORDERS
    assert stats["orders_total"] == ORDERS and stats["duplicate_orders"] == 0
    assert stats["open_batch_orders"] == 0


def test_m3_answering_500_to_everything_opens_the_breaker_and_holds_calls(sim: Sim) -> None:
    changes: list[str] = []

    async def scenario() -> list:
        async with _client(sim, changes) as client:
            await asyncio.to_thread(sim.set_faults, error_500_share=1.0)
            plans = [order_plan(sim, f"115-{n:07d}-0000001") for n in range(ORDERS)]
            tasks = [asyncio.create_task(ensure_customer_order(client, p, settle_s=0)) for p in plans]
            await _until(
                lambda: client.circuit.state is not CircuitState.CLOSED and client.circuit.waiting > 0
            )
            assert circuit_state()[client.circuit.name] in ("open", "half_open")
            await asyncio.sleep(0.5)  # M3 stays down; probes keep failing; nobody fails meanwhile
            assert not any(task.done() for task in tasks)
            assert client.circuit.waiting >= ORDERS // 2
            await asyncio.to_thread(sim.set_faults)  # M3 is back
            ensured = await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)
            assert client.circuit.state is CircuitState.CLOSED and client.circuit.openings == 1
            return ensured

    ensured = asyncio.run(scenario())
    _assert_exactly_once(sim, ensured)
    assert changes[0] == "open" and changes[-1] == "closed" and changes.count("half_open") >= 2


def test_a_stopped_m3_holds_calls_until_it_listens_again(sim: Sim) -> None:
    changes: list[str] = []
    port = sim.server.port

    async def scenario() -> list:
        async with _client(sim, changes) as client:
            await client.ping()
            await asyncio.to_thread(sim.server.stop)
            plans = [order_plan(sim, f"116-{n:07d}-0000001") for n in range(ORDERS)]
            tasks = [asyncio.create_task(ensure_customer_order(client, p, settle_s=0)) for p in plans]
            await _until(
                lambda: client.circuit.state is not CircuitState.CLOSED and client.circuit.waiting > 0
            )
            await asyncio.sleep(0.3)
            assert not any(task.done() for task in tasks)
            restarted = await asyncio.to_thread(
                serve_in_thread, create_app(sim.store), port=port, name="m3-sim-again"
            )
            try:
                return await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)
            finally:
                await asyncio.to_thread(restarted.stop)

    ensured = asyncio.run(scenario())
    assert sim.store.stats()["orders_total"] == ORDERS and sim.store.duplicate_orders() == 0
    assert len({e.order_number for e in ensured}) == ORDERS
    assert changes[0] == "open" and changes[-1] == "closed"
