"""Worker heartbeats and the take-over of a dead worker (ops/workers.py), on a real SQLite database.

The end-to-end proof with real processes on PostgreSQL is tests/e2e/test_scale_out.py; here the
rules: who counts as dead, that exactly one claimer gets a dead worker, that a failed recovery
gives the claim back, and what `m3amazon workers` prints and refuses.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from m3amazon.cli import app
from m3amazon.ops import db, workers


def _engine(tmp_path: Path) -> sa.Engine:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    db.create_tables(engine)
    return engine


def _age(engine: sa.Engine, executor_id: str, seconds: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            db.workers.update()
            .where(db.workers.c.executor_id == executor_id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(seconds=seconds))
        )


def test_a_worker_is_dead_only_when_its_heartbeat_is_older_than_the_timeout(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    workers.beat(engine, "a", starting=True)
    workers.beat(engine, "b", starting=True)
    _age(engine, "b", 61)
    assert workers.dead_workers(engine, 60) == ["b"]
    assert workers.dead_workers(engine, 60, exclude="b") == []
    workers.beat(engine, "b")  # it came back
    assert workers.dead_workers(engine, 60) == []


def test_exactly_one_of_several_live_workers_takes_over_a_dead_one(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    workers.beat(engine, "dead", starting=True)
    _age(engine, "dead", 120)
    recovered: list[str] = []
    results: dict[str, int | None] = {}
    barrier = threading.Barrier(4)

    def recover(executor_id: str) -> int:
        recovered.append(executor_id)
        return 7

    def contender(name: str) -> None:
        workers.beat(engine, name, starting=True)
        barrier.wait()
        results[name] = workers.take_over(engine, "dead", name, recover, timeout_s=60, lease_s=60)

    threads = [threading.Thread(target=contender, args=(f"live-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = {name: count for name, count in results.items() if count is not None}
    assert list(winners.values()) == [7] and recovered == ["dead"]
    view = {v.executor_id: v for v in workers.listing(engine, 60)}["dead"]
    assert (view.status, view.taken_over_by, view.recovered) == ("taken_over", *winners, 7)
    assert workers.dead_workers(engine, 60) == []  # taken over: nobody tries again


def test_a_failed_recovery_gives_the_claim_back_for_the_next_beat(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    workers.beat(engine, "dead", starting=True)
    _age(engine, "dead", 120)

    def broken(executor_id: str) -> int:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        workers.take_over(engine, "dead", "live", broken, timeout_s=60, lease_s=60)
    assert workers.dead_workers(engine, 60) == ["dead"]
    assert workers.take_over(engine, "dead", "other", lambda _: 2, timeout_s=60, lease_s=60) == 2


def test_the_heartbeat_takes_over_and_records_a_clean_stop(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    workers.beat(engine, "gone", starting=True)
    _age(engine, "gone", 30)
    beat = workers.WorkerHeartbeat(engine, "me", lambda _: 3, interval_s=1, timeout_s=10)
    assert beat.tick(starting=True) == {"gone": 3}
    assert beat.tick() == {}
    workers.mark_stopped(engine, "me")
    assert {v.executor_id: v.status for v in workers.listing(engine, 10)} == {
        "gone": "taken_over",
        "me": "stopped",
    }


def test_workers_cli_lists_and_refuses_to_recover_a_live_worker(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    workers.beat(engine, "alive", starting=True)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'w.sqlite'}"}))
    runner = CliRunner()
    listed = runner.invoke(app, ["workers", "list", "--json", "-c", str(config)])
    assert listed.exit_code == 0, listed.output
    assert [(w["executor_id"], w["alive"]) for w in json.loads(listed.output)] == [("alive", True)]
    refused = runner.invoke(app, ["workers", "recover", "alive", "-c", str(config)])
    assert refused.exit_code == 1 and "alive" in refused.output
    missing = runner.invoke(app, ["workers", "recover", "nobody", "-c", str(config)])
    assert missing.exit_code == 1
    forced = runner.invoke(app, ["workers", "recover", "alive", "--force", "--json", "-c", str(config)])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.output.splitlines()[-1]) == {"executor_id": "alive", "recovered": 0}
