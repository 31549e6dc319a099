"""A fleet's web process (`m3amazon run --no-intake --no-work`) takes ION's BODs and only enqueues.

The MCF orders M3 announces reach the web process's IMS endpoint; their workflows wait in the
queue, and nothing reaches Amazon, until a worker (`--no-web`) starts and runs them. Every
workflow ran under the worker's executor id, none under the web process's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from m3a_testenv import free_port
from m3amazon.bootstrap import MCF_QUEUE
from m3amazon.ops.db import create_engine
from m3amazon.sim.catalog import build_catalog
from m3amazon.sim.processes import WorkerProcess, wait_until
from m3amazon.sim.sandbox import IMS_TOKEN, Sandbox
from m3amazon.sim.world import World

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CATALOG = build_catalog(size=8)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox.start(tmp_path / "sandbox", catalog_size=len(CATALOG))
    yield sandbox
    sandbox.stop()


def _config(box: Sandbox, url: str, executor_id: str, web_port: int | None) -> dict[str, Any]:
    config = box.config(url, executor_id=executor_id)
    config["inventory"] = {"enabled": False}  # not what this test is about
    config["settlements"] = {"enabled": False}
    config["mcf"] = {"inbox_interval_s": 0.2}
    if web_port is not None:
        config["web"] = {"port": web_port}
    return config


def _mcf_workflows(engine: sa.Engine) -> list[tuple[str, str]]:
    """(status, executor id) of every workflow on the MCF queue."""
    query = sa.text("SELECT status, executor_id FROM dbos.workflow_status WHERE queue_name = :queue")
    with engine.connect() as conn:
        return [(str(s), str(e)) for s, e in conn.execute(query, {"queue": MCF_QUEUE})]


def test_web_process_enqueues_and_only_workers_run(box: Sandbox, pg_url: str, tmp_path: Path) -> None:
    world = World(box, seed=5)
    world.stock_fba([item.sku for item in CATALOG], 100)
    port = free_port()
    web = WorkerProcess(
        _config(box, pg_url, "fleet-web", port),
        tmp_path,
        "web",
        web=True,
        options=["--no-intake", "--no-work"],
    )
    worker = WorkerProcess(_config(box, pg_url, "fleet-w1", None), tmp_path, "worker-1")
    engine = create_engine(pg_url, pool_size=1)
    try:
        web.start().wait_ready(120)
        world.send_bods_to(f"http://127.0.0.1:{port}/service", IMS_TOKEN)
        numbers = world.enter_mcf_orders(3, items=[item.item_number for item in CATALOG])

        # The BODs arrived and their workflows are queued; the web process does not run them.
        wait_until(lambda: len(_mcf_workflows(engine)) == 3, 60, "the MCF workflows to be enqueued", web)
        time.sleep(3)
        assert {status for status, _ in _mcf_workflows(engine)} == {"ENQUEUED"}
        assert not box.account.mcf.orders, "the web process ran a workflow"

        worker.start().wait_ready(120)
        wait_until(
            lambda: all(f"M3-{n}" in box.account.mcf.orders for n in numbers),
            120,
            "the worker to create the fulfillment orders",
            worker,
        )
        wait_until(
            lambda: {status for status, _ in _mcf_workflows(engine)} == {"SUCCESS"},
            60,
            "the MCF workflows to finish",
            worker,
        )
        assert {executor for _, executor in _mcf_workflows(engine)} == {"fleet-w1"}
        assert len(box.account.mcf.orders) == 3  # one fulfillment order per M3 order
    finally:
        worker.stop()
        web.stop()
        engine.dispose()
        world.close()
