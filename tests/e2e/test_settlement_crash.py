"""`m3amazon settlement import FILE` SIGKILLed in the middle of posting, then run again: M3 ends
with exactly one GL batch per period, and the vouchers still foot to the deposit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from m3a_settlement_support import US, acam_sum, by_key, close_settlements, post_money, vouchers
from m3amazon.sim.amazon.settlement import settlement_bytes
from m3amazon.sim.m3.app import Faults
from m3amazon.sim.sandbox import Sandbox

pytestmark = pytest.mark.slow


@pytest.fixture
def box(tmp_path: Path):
    # M3 latency keeps the posting long enough to kill the import in the middle of it.
    sandbox = Sandbox.start(
        tmp_path / "sandbox", marketplaces=(US,), catalog_size=8, m3_faults=Faults(latency_ms=400)
    )
    yield sandbox
    sandbox.stop()


def _import(config: Path, file: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("M3AMAZON_CONFIG", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "m3amazon",
                "settlement",
                "import",
                str(file),
                "--config",
                str(config),
                "--json",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _lines_entered(box: Sandbox) -> int:
    with box.m3_store.transaction() as db:
        return int(db.execute("SELECT COUNT(*) FROM gl_batch_lines").fetchone()[0])


def test_a_killed_import_resumes_and_posts_each_batch_once(box: Sandbox, tmp_path: Path) -> None:
    box.generate(10, seed=3)
    post_money(box, US, [datetime(2026, 6, 29, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)])
    close_settlements(box, [US])
    with box.account.lock:
        group = next(g for g in box.account.finances.groups if g.closed)
        file = tmp_path / "settlement.tsv"
        file.write_bytes(settlement_bytes(group))
        deposit = group.total.amount
    config = tmp_path / "config.yaml"
    settings = box.config(f"sqlite:///{tmp_path / 'import.sqlite'}", executor_id="crash-test")
    config.write_text(yaml.safe_dump(settings))
    log = tmp_path / "import.log"

    first = _import(config, file, log)
    try:
        deadline = time.monotonic() + 120
        while _lines_entered(box) == 0:  # batch head and lines entered, not yet posted
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the import never started posting"
            time.sleep(0.02)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert box.m3_stats()["gl_batches_posted"] < 2, (
        "the import finished before the kill; the test proves nothing"
    )

    second = _import(config, file, log)
    assert second.wait(timeout=180) == 0, log.read_text()[-3000:]
    output = log.read_text()
    result = json.loads(output[output.rindex('{\n "settlement_id"') :])
    assert result["status"] == "posted" and len(result["batches"]) == 2

    stats = box.m3_stats()
    assert stats["gl_batches_posted"] == 2 and stats["duplicate_gl_batches"] == []
    import asyncio

    from m3amazon.config import Settings

    lines = by_key(asyncio.run(vouchers(Settings(**settings))))
    posted = [row for key in result["batches"] for row in lines[key]]
    assert acam_sum(posted, "1580") == deposit and acam_sum(posted) == 0
    assert _lines_entered(box) == 0  # no half-built batch left behind

    from typer.testing import CliRunner

    from m3amazon.cli import app

    listed = CliRunner().invoke(app, ["settlement", "list", "--json", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["settlement_id"], r["status"]) for r in rows] == [(result["settlement_id"], "posted")]
    shown = CliRunner().invoke(
        app, ["settlement", "show", result["settlement_id"], "--json", "--config", str(config)]
    )
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)["reconciliation"]
    assert report["deposit"] == str(deposit) and report["balanced"]
    assert report["differences"]["posted_clearing_vs_deposit"] == "0.00"
