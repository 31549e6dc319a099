"""A workflow that dies of an unexpected error (a bug, not bad input) still reaches an operator.

The order flow turns every failure it foresees into an incident itself; this test breaks the
translation with an exception nobody catches. DBOS ends those workflows in ERROR; the watchdog
must open one readable incident per failed workflow, a retry after the fix must create the orders
and resolve the incidents, and a second look must not reopen anything.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from m3amazon import bootstrap
from m3amazon.flows import dispatch, order_to_cash, references
from m3amazon.ops import incidents, trail
from m3amazon.ops.watchdog import CATEGORY, WorkflowWatchdog
from m3amazon.service import run_service
from m3amazon.sim.sandbox import Sandbox

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until(check: Any, what: str, timeout_s: float = 60) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_failed_workflows_become_incidents_and_a_retry_resolves_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Sandbox.start(tmp_path / "sandbox", catalog_size=8)
    references.clear_caches()
    broken = {"on": True}
    real = order_to_cash.to_m3_order

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if broken["on"]:
            raise RuntimeError("translation bug: unexpected value")
        return real(*args, **kwargs)

    monkeypatch.setattr(order_to_cash, "to_m3_order", flaky)
    settings = box.settings(f"sqlite:///{tmp_path / 'watchdog.sqlite'}", executor_id="watchdog-test")
    settings.web.port = _free_port()
    settings.engine.watchdog_interval_s = 0.2

    async def scenario() -> dict[str, Any]:
        stop = asyncio.Event()
        ready: asyncio.Future[bootstrap.Runtime] = asyncio.get_running_loop().create_future()
        service = asyncio.create_task(run_service(settings, stop=stop, on_ready=ready.set_result))
        try:
            rt = await asyncio.wait_for(asyncio.shield(ready), 60)
            ids = (await asyncio.to_thread(box.generate, 3, seed=5))["order_ids"]

            def failed() -> list[dict[str, Any]]:
                return [r for r in incidents.list_incidents(rt.engine) if r["category"] == CATEGORY]

            await _until(lambda: len(failed()) == 3, "an incident per failed workflow")
            first = failed()
            broken["on"] = False  # the bug is fixed
            for order_id in ids:
                await dispatch.retry_order(order_id, "bug fixed")
            await _until(
                lambda: all((trail.get(rt.engine, i) or {}).get("outcome") == "created" for i in ids),
                "the retried orders",
            )
            reopened = await asyncio.to_thread(WorkflowWatchdog(rt.engine).scan)  # a fresh watchdog
            after = await asyncio.to_thread(incidents.list_incidents, rt.engine, status=None)
            return {"ids": ids, "first": first, "after": after, "reopened": reopened}
        finally:
            stop.set()
            await service

    try:
        result = asyncio.run(scenario())
        stats = box.m3_stats()
    finally:
        box.stop()
    assert {row["subject"] for row in result["first"]} == set(result["ids"])
    for row in result["first"]:
        assert row["reason_code"] == "WORKFLOW_FAILED"
        assert "translation bug: unexpected value" in row["message"]
        assert row["payload"] and row["subject"] in row["payload"]
    assert result["reopened"] == 0
    assert {row["status"] for row in result["after"] if row["category"] == CATEGORY} == {"resolved"}
    assert stats["orders_total"] == 3 and stats["duplicate_orders"] == 0
