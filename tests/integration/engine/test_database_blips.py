"""A step that meets the product's own database gone for a moment (a PostgreSQL restart, a dropped
connection) is run again by DBOS; the order ends in M3 and no incident is opened. An exception of
any other kind still fails the workflow at once (test_workflow_watchdog.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from m3a_testenv import free_port
from m3amazon.flows import order_to_cash, references
from m3amazon.ops import incidents, trail
from m3amazon.sim.product import running_product, wait_for
from m3amazon.sim.sandbox import Sandbox

pytestmark = pytest.mark.slow


def test_steps_outlive_a_database_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = Sandbox.start(tmp_path / "sandbox", catalog_size=8)
    references.clear_caches()
    calls: Counter[str] = Counter()
    real = order_to_cash.to_m3_order

    def restarting(order: Any, *args: Any, **kwargs: Any) -> Any:
        calls[order.order_id] += 1
        if calls[order.order_id] <= 2:  # the first two attempts meet the database shutting down
            raise sa.exc.OperationalError(
                "SELECT 1", {}, Exception("FATAL: the database system is shutting down")
            )
        return real(order, *args, **kwargs)

    monkeypatch.setattr(order_to_cash, "to_m3_order", restarting)
    url = f"sqlite:///{tmp_path / 'blips.sqlite'}"

    async def scenario() -> dict[str, Any]:
        async with running_product(
            box, url, web_port=free_port(), executor_id="blips-test", watchdog_interval_s=0.2
        ) as rt:
            ids = (await asyncio.to_thread(box.generate, 3, seed=5))["order_ids"]
            await wait_for(
                lambda: all((trail.get(rt.engine, i) or {}).get("outcome") for i in ids),
                what="an outcome for every order",
            )
            await asyncio.sleep(1)  # a watchdog pass (every 0.2 s) would have seen a failed workflow
            return {
                "ids": ids,
                "outcomes": [(trail.get(rt.engine, i) or {}).get("outcome") for i in ids],
                "incidents": await asyncio.to_thread(incidents.list_incidents, rt.engine),
            }

    try:
        result = asyncio.run(scenario())
        duplicates = box.m3_store.stats()["duplicate_orders"]
    finally:
        box.stop()
    assert result["outcomes"] == ["created"] * 3
    assert result["incidents"] == []
    assert all(calls[i] == 3 for i in result["ids"])  # two blips, then the step went through
    assert duplicates == 0
