"""Scale-out on PostgreSQL: three worker processes, one SIGKILLed and never started again.

Its unfinished workflows stay PENDING under its executor id; after `engine.heartbeat_timeout_s`
one of the two live workers takes them over (ops/workers.py), and every Amazon order still ends
as exactly one M3 customer order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from m3amazon.cli import app
from m3amazon.ops import workers
from m3amazon.ops.db import create_engine
from m3amazon.sim.m3.app import Faults
from m3amazon.sim.processes import TrailReader, WorkerProcess, wait_until
from m3amazon.sim.sandbox import Sandbox

ORDERS = 120
EXECUTORS = ("fleet-a", "fleet-b", "fleet-c")
VICTIM = "fleet-b"

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def sandbox(tmp_path: Path):
    box = Sandbox.start(tmp_path / "sandbox", catalog_size=30, m3_faults=Faults(latency_ms=20, jitter_ms=10))
    yield box
    box.stop()


def _pending(engine: sa.Engine, executor_id: str) -> int:
    return workers.pending_by_executor(engine).get(executor_id, 0)


def _fleet(sandbox: Sandbox, pg_url: str, tmp_path: Path, executors: tuple[str, ...], **engine: object):
    return [
        WorkerProcess(
            sandbox.config(
                pg_url,
                visibility_timeout_s=10,
                executor_id=executor_id,
                worker_concurrency=6,
                heartbeat_interval_s=1,
                heartbeat_timeout_s=6,
                **engine,
            ),
            tmp_path,
            name=executor_id,
        )
        for executor_id in executors
    ]


def test_a_worker_that_never_returns_has_its_orders_finished_by_the_others(
    sandbox: Sandbox, pg_url: str, tmp_path: Path
) -> None:
    fleet = _fleet(sandbox, pg_url, tmp_path, EXECUTORS)
    engine = create_engine(pg_url, pool_size=1)
    reader = TrailReader(pg_url)
    try:
        for worker in fleet:
            worker.start()
        for worker in fleet:
            worker.wait_ready()
        sandbox.generate(ORDERS, seed=9, duplicate_share=0.2)
        victim = fleet[EXECUTORS.index(VICTIM)]
        # Kill it while it holds work: workflows PENDING under its executor id.
        wait_until(lambda: _pending(engine, VICTIM) >= 2, 120, f"{VICTIM} to be running orders", victim)
        victim.kill()
        left_pending = _pending(engine, VICTIM)
        assert left_pending > 0

        live = [w for w in fleet if w is not victim]
        wait_until(lambda: reader.finished() >= ORDERS, 300, "every order to have an outcome", live[0])
        wait_until(lambda: sandbox.m3_stats()["orders_total"] >= ORDERS, 60, "M3 to hold every order")
        wait_until(lambda: _pending(engine, VICTIM) == 0, 60, f"nothing PENDING under {VICTIM}")
    finally:
        for worker in fleet:
            worker.stop()
        reader.close()

    stats = sandbox.m3_stats()
    assert stats["orders_total"] == ORDERS, stats
    assert stats["duplicate_orders"] == 0, stats["orders_by_cuor"]
    assert stats["open_batch_orders"] == 0
    outcomes = TrailReader(pg_url).outcomes()
    assert outcomes.get("created", 0) + outcomes.get("existing", 0) == ORDERS, outcomes

    views = {v.executor_id: v for v in workers.listing(engine, timeout_s=6)}
    engine.dispose()
    dead = views[VICTIM]
    assert dead.status == workers.TAKEN_OVER
    assert dead.taken_over_by in {"fleet-a", "fleet-c"}
    assert dead.recovered >= left_pending  # what it held went back to the queues, once
    assert {views["fleet-a"].status, views["fleet-c"].status} == {workers.STOPPED}
    # exactly one live worker claimed it: the other never logged a take-over
    takeovers = [w for w in fleet if f"of worker {VICTIM}" in w.log()]
    assert len(takeovers) == 1, [w.config_path.name for w in takeovers]


def test_workers_recover_hands_a_dead_workers_orders_to_the_live_one_by_hand(
    sandbox: Sandbox, pg_url: str, tmp_path: Path
) -> None:
    """With automatic take-over off, an operator's `m3amazon workers recover ID` does it."""
    live, victim = _fleet(sandbox, pg_url, tmp_path, ("hand-a", "hand-b"), takeover=False)
    engine = create_engine(pg_url, pool_size=1)
    reader = TrailReader(pg_url)
    runner = CliRunner()
    config = ["-c", str(live.config_path)]
    try:
        live.start().wait_ready()
        victim.start().wait_ready()
        sandbox.generate(60, seed=3)
        wait_until(lambda: _pending(engine, "hand-b") >= 2, 120, "hand-b to be running orders", victim)
        victim.kill()
        # its heartbeat ages; nobody takes its work over by themselves
        wait_until(lambda: not _view(engine, "hand-b").alive, 30, "hand-b to count as dead")
        stuck = _pending(engine, "hand-b")
        assert stuck > 0
        listed = runner.invoke(app, ["workers", "list", "--json", *config])
        rows = {row["executor_id"]: row for row in json.loads(listed.output)}
        assert rows["hand-b"]["pending"] == stuck and rows["hand-a"]["alive"]

        recovered = runner.invoke(app, ["workers", "recover", "hand-b", "--json", *config])
        assert recovered.exit_code == 0, recovered.output
        assert json.loads(recovered.output.splitlines()[-1])["recovered"] == stuck
        wait_until(lambda: reader.finished() >= 60, 300, "every order to have an outcome", live)
        assert _pending(engine, "hand-b") == 0
    finally:
        live.stop()
        victim.stop()
        reader.close()
        engine.dispose()
    stats = sandbox.m3_stats()
    assert (stats["orders_total"], stats["duplicate_orders"]) == (60, 0)


def _view(engine: sa.Engine, executor_id: str) -> workers.WorkerView:
    return {v.executor_id: v for v in workers.listing(engine, timeout_s=6)}[executor_id]
