"""Lost notifications: the catch-up poll still turns those orders into M3 orders, exactly once.

The whole product runs in process against the sandbox (Amazon simulator over HTTPS, moto's SQS,
the M3 simulator). Some orders are announced by ORDER_CHANGE notifications, others never are
(`{"notify": false}`); the poll reads all of them again, so notified orders reach the engine twice,
through both paths. M3 must end up with exactly one customer order per Amazon order.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from m3amazon import bootstrap
from m3amazon.amazon.poll import read_cursor
from m3amazon.config import PollSettings
from m3amazon.flows import references
from m3amazon.ops import trail
from m3amazon.service import run_service
from m3amazon.sim.sandbox import Sandbox

pytestmark = pytest.mark.slow

NOTIFIED, LOST = 15, 12


@pytest.fixture
def sandbox(tmp_path: Path):
    box = Sandbox.start(tmp_path / "sandbox", catalog_size=12)
    references.clear_caches()
    yield box
    box.stop()


def _orders_without_notifications(box: Sandbox, count: int) -> list[str]:
    verify = ssl.create_default_context(cafile=str(box.tls.ca_cert))
    body = {"orders": count, "seed": 62, "notify": False}
    response = httpx.post(f"{box.amazon.url}/_sim/scenario", json=body, verify=verify, timeout=60)
    response.raise_for_status()
    result = response.json()
    assert result["notifications_sent"] == 0
    return list(result["order_ids"])


async def _run(box: Sandbox, tmp_path: Path) -> dict[str, Any]:
    settings = box.settings(f"sqlite:///{tmp_path / 'poll.sqlite'}", executor_id="poll-test")
    # Orders of the scenario changed up to two days ago: the first poll looks back three.
    settings.amazon.poll = PollSettings(interval_s=1, initial_lookback_s=3 * 86400)
    notified = (await asyncio.to_thread(box.generate, NOTIFIED, seed=61))["order_ids"]
    lost = await asyncio.to_thread(_orders_without_notifications, box, LOST)
    stop = asyncio.Event()
    ready: asyncio.Future[bootstrap.Runtime] = asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service(settings, stop=stop, web=False, on_ready=ready.set_result))
    try:
        rt = await asyncio.wait_for(asyncio.shield(ready), 60)
        for _ in range(900):
            counts = await asyncio.to_thread(trail.outcome_counts, rt.engine)
            if sum(counts.values()) >= NOTIFIED + LOST:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # a few more polls and deliveries: nothing may come twice
        trails = {i: await asyncio.to_thread(trail.get, rt.engine, i) for i in [*notified, *lost]}
        cursor = await asyncio.to_thread(read_cursor, rt.engine, f"orders:{rt.amazon.seller_key}")
        return {"counts": counts, "trails": trails, "cursor": cursor, "lost": lost, "orders": rt.orders.stats}
    finally:
        stop.set()
        await service


def test_orders_whose_notifications_were_lost_are_created_once_by_the_poll(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    result = asyncio.run(_run(sandbox, tmp_path))
    assert sum(result["counts"].values()) == NOTIFIED + LOST, result["counts"]
    m3 = sandbox.m3_stats()
    assert m3["orders_total"] == NOTIFIED + LOST and m3["duplicate_orders"] == 0
    for order_id in result["lost"]:
        entry = result["trails"][order_id]
        assert entry is not None and entry["outcome"] == "created", entry
    cursor = result["cursor"]
    assert cursor is not None and cursor["cursor"] is not None and cursor["last_error"] is None
    # The poll handed its orders to the workflows it started: no getOrder for those.
    assert result["orders"].prefetched >= LOST
