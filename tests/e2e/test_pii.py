"""Buyers' personal data at rest and its retention, with a real worker process over the simulators
(on SQLite, and on PostgreSQL where the engine's tables live in the `dbos` schema).

With `security.pii_keys` set, the worker's database file must hold no buyer name, email, phone,
address line or postal code in plain text (the engine's checkpoints and the BOD inbox are
encrypted); `m3amazon pii purge` then removes the checkpoints of finished work while the order
trail stays whole. The logs of the run are scanned for the same data and for secrets by the
autouse fixture in conftest.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from m3a_pii_scan import personal_data, scan
from m3amazon.cli import app
from m3amazon.ops import trail
from m3amazon.ops.crypto import PiiCipher, generate_key
from m3amazon.ops.db import create_engine
from m3amazon.sim.processes import TrailReader, WorkerProcess, wait_until
from m3amazon.sim.sandbox import Sandbox

ORDERS = 25

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(tmp_path: Path):
    box = Sandbox.start(tmp_path / "sandbox", catalog_size=20)
    yield box
    box.stop()


def _dbos(engine: sa.Engine, table: str) -> str:
    return f"dbos.{table}" if engine.dialect.name == "postgresql" else table


def _step_outputs(engine: sa.Engine) -> tuple[int, int]:
    """(step outputs kept, step outputs of finished workflows kept)."""
    steps, status = _dbos(engine, "operation_outputs"), _dbos(engine, "workflow_status")
    with engine.connect() as conn:
        kept = conn.execute(sa.text(f"SELECT count(*) FROM {steps} WHERE output IS NOT NULL"))
        finished = conn.execute(
            sa.text(
                f"SELECT count(*) FROM {steps} o JOIN {status} w USING (workflow_uuid) "
                "WHERE o.output IS NOT NULL AND w.status IN ('SUCCESS', 'ERROR', 'CANCELLED')"
            )
        )
        return int(kept.scalar_one()), int(finished.scalar_one())


def _sealed_outputs(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT output FROM {_dbos(engine, 'operation_outputs')}"))
        return [row[0] for row in rows if row[0] is not None]


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_personal_data_is_encrypted_at_rest_and_purged_after_retention(
    database: str, sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'worker.sqlite'}"
        if database == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    config = sandbox.config(url, executor_id="pii-worker", worker_concurrency=8)
    config["security"] = {"pii_keys": generate_key()}
    worker = WorkerProcess(config, tmp_path)
    reader = TrailReader(config["database_url"])
    try:
        worker.start().wait_ready()
        sandbox.generate(ORDERS, seed=5, duplicate_share=0.2)
        wait_until(lambda: reader.finished() >= ORDERS, 180, "every order to have an outcome", worker)
    finally:
        worker.stop()
        reader.close()

    needles = personal_data(sandbox)
    assert len(needles) > ORDERS  # names, emails, address lines, phones of the generated orders
    files = [p for p in tmp_path.glob("worker.sqlite*") if p.is_file()]
    assert scan(files, needles) == []  # nothing personal in plain text in the database
    # ... while the same search finds the addresses the M3 simulator keeps in its own database
    assert scan(sandbox.workdir.glob("m3-simulator.sqlite*"), needles) != []

    engine = create_engine(config["database_url"])
    outputs = _sealed_outputs(engine)
    assert outputs and all(v.startswith("enc1:") for v in outputs)  # every checkpoint encrypted
    before = trail.outcome_counts(engine)
    kept, finished = _step_outputs(engine)
    assert finished > 0, "no finished workflow: the purge would prove nothing"

    runner = CliRunner()
    cli_config = tmp_path / "worker.yaml"
    # key rotation: a new key first, the old one still listed; afterwards the new one alone reads all
    new_key, old_key = generate_key(), config["security"]["pii_keys"]
    cli_config.write_text(yaml.safe_dump({**config, "security": {"pii_keys": f"{new_key},{old_key}"}}))
    rotated = runner.invoke(app, ["pii", "rotate", "-c", str(cli_config)])
    assert rotated.exit_code == 0, rotated.output
    sealed = _sealed_outputs(engine)
    assert sealed and all(PiiCipher([new_key]).decrypt_bytes(v[5:].encode()) for v in sealed)
    dry = runner.invoke(app, ["pii", "purge", "--days", "0", "--dry-run", "--json", "-c", str(cli_config)])
    assert dry.exit_code == 0, dry.output
    counted = json.loads(dry.output)
    assert counted["dry_run"] and counted["steps"] == finished and counted["workflows"] > 0
    assert _step_outputs(engine) == (kept, finished)  # a dry run changes nothing

    done = runner.invoke(app, ["pii", "purge", "--days", "0", "--json", "-c", str(cli_config)])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["steps"] == finished
    assert _step_outputs(engine) == (kept - finished, 0)  # finished work holds no personal data
    assert trail.outcome_counts(engine) == before  # the non-personal record is whole

    again = runner.invoke(app, ["pii", "purge", "--days", "0", "--json", "-c", str(cli_config)])
    assert json.loads(again.output)["steps"] == 0  # nothing is purged twice
    engine.dispose()
