"""The first order-to-cash slice end to end, with real processes, over real protocols.

Amazon simulator (HTTPS) -> ORDER_CHANGE notifications in SQS (moto), a fifth of them delivered
twice -> a worker process (DBOS on SQLite or PostgreSQL) that is SIGKILLed in the middle of the
run and started again -> the M3 simulator, which must end up with exactly one customer order per
Amazon order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from m3amazon.sim.m3.app import Faults
from m3amazon.sim.processes import TrailReader, WorkerProcess, wait_until
from m3amazon.sim.sandbox import Sandbox

ORDERS = 200

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(tmp_path: Path):
    # A little M3 latency keeps the run long enough to kill the worker in the middle of it.
    box = Sandbox.start(tmp_path / "sandbox", catalog_size=30, m3_faults=Faults(latency_ms=15, jitter_ms=10))
    yield box
    box.stop()


def _database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'worker.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_mid_run_still_gives_exactly_one_m3_order_per_amazon_order(
    database: str, sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database_url = _database(database, tmp_path, request)
    config = sandbox.config(
        database_url, visibility_timeout_s=10, executor_id="e2e-worker", worker_concurrency=8
    )
    scenario = sandbox.generate(ORDERS, seed=42, duplicate_share=0.2)
    assert len(scenario["order_ids"]) == ORDERS
    assert scenario["notifications_sent"] > ORDERS  # duplicates are on the wire

    worker = WorkerProcess(config, tmp_path).start()
    trail_reader = TrailReader(database_url)
    try:
        # Kill it in the middle: some orders are in M3, many are not.
        wait_until(
            lambda: sandbox.m3_stats()["orders_total"] >= ORDERS // 5, 180, "the first orders in M3", worker
        )
        worker.kill()
        in_m3_at_kill = sandbox.m3_stats()["orders_total"]
        assert in_m3_at_kill < ORDERS, "the run finished before the kill; the test proves nothing"

        worker.start()  # same executor id: it recovers what the killed process left pending
        wait_until(lambda: trail_reader.finished() >= ORDERS, 300, "every order to have an outcome", worker)
        wait_until(lambda: sandbox.m3_stats()["orders_total"] >= ORDERS, 60, "M3 to hold every order", worker)
    finally:
        worker.stop()
        trail_reader.close()

    stats = sandbox.m3_stats()
    assert stats["orders_total"] == ORDERS, stats
    assert stats["duplicate_orders"] == 0, stats["orders_by_cuor"]
    assert stats["open_batch_orders"] == 0  # no half-built batch order left behind by the kill
    m3_cuors = set(sandbox.m3_store.orders_by_cuor())
    assert m3_cuors == set(scenario["order_ids"])
    outcomes = TrailReader(database_url).outcomes()
    assert outcomes.get("incident", 0) == 0, outcomes
    assert outcomes.get("created", 0) + outcomes.get("existing", 0) == ORDERS
