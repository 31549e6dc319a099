"""Order to cash end to end, against the simulators, with the world moving on.

FBA orders: created in M3, shipped by Amazon, delivered in M3, invoiced. Seller-fulfilled orders:
created in M3, shipped by the seller's warehouse (some in two parts), confirmed on Amazon with
carrier and tracking, invoiced. Notifications duplicated and reordered. Cancellations before and
after shipment. M3 unreachable for two minutes: the circuit opens, an alert goes out, orders wait and
then complete. Every case ends with one M3 order per Amazon order.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from m3amazon.canonical import FulfillmentChannel, OrderStatus
from m3amazon.ops import incidents, trail
from m3amazon.sim.product import running_product, wait_for
from m3amazon.sim.sandbox import Sandbox
from m3amazon.sim.server import serve_in_thread
from m3amazon.sim.world import World

pytestmark = pytest.mark.slow

#: How long M3 stays unreachable in the outage test: two minutes, as the acceptance asks
#: (M3AMAZON_OUTAGE_S shortens it while developing).
OUTAGE_S = float(os.environ.get("M3AMAZON_OUTAGE_S", "120"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox.start(tmp_path / "sandbox", catalog_size=20)
    yield sandbox
    sandbox.stop()


def _m3_orders_by_cuor(box: Sandbox) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for order in box.m3_store.orders():
        found.setdefault(order["cuor"], []).append(order)
    return found


def _all(rt: Any, ids: list[str], wanted: set[str]) -> bool:
    return all((trail.get(rt.engine, i) or {}).get("outcome") in wanted for i in ids)


def test_fba_and_seller_fulfilled_orders_run_to_invoiced(box: Sandbox, tmp_path: Path) -> None:
    world = World(box, seed=3, partial_share=0.6)
    httpx.post(
        f"{box.amazon.url}/_sim/notifications/options",
        json={"duplicate_share": 0.3, "reorder_share": 0.3, "seed": 5},
        verify=str(box.tls.ca_cert),
    ).raise_for_status()

    async def scenario() -> tuple[list[str], dict[str, Any]]:
        async with running_product(
            box, f"sqlite:///{tmp_path / 'o2c.sqlite'}", web_port=_free_port(), world=world, executor_id="o2c"
        ) as rt:
            ids = (await asyncio.to_thread(box.generate, 16, seed=21, afn_share=0.5))["order_ids"]

            def settled() -> bool:
                # ION delivers a shipment and its invoice one after the other, but the shipment's
                # confirmation on Amazon may still be recording when the invoice lands: wait for both.
                if not _all(rt, ids, {"invoiced"}):
                    return False
                return all(
                    any(e["kind"] == "shipped" for e in trail.timeline(rt.engine, i))
                    for i in ids
                    if box.account.get_order(i).channel is FulfillmentChannel.MERCHANT  # type: ignore[union-attr]
                )

            await wait_for(
                settled,
                step=world.step,
                timeout_s=180,
                what="every order to be invoiced and every seller shipment recorded",
                every_s=0.3,
            )
            return ids, {i: trail.timeline(rt.engine, i) for i in ids}

    ids, timelines = asyncio.run(scenario())
    world.close()
    m3 = _m3_orders_by_cuor(box)
    assert set(m3) == set(ids) and all(len(v) == 1 for v in m3.values())  # one M3 order each
    for order_id in ids:
        amazon = box.account.get_order(order_id)
        assert amazon is not None and amazon.status is OrderStatus.SHIPPED
        m3_order = m3[order_id][0]
        goods = [ln for ln in m3_order["lines"] if not str(ln.get("cuor", "")).startswith("CHG-")]
        assert goods and all(ln["orst"] == "77" for ln in goods), (order_id, goods)  # invoiced in M3
        kinds = [e["kind"] for e in timelines[order_id]]
        assert (
            "invoiced" in kinds and kinds.count("created") <= 1
        )  # FBA orders may go straight to "delivered"
        if amazon.channel is FulfillmentChannel.MERCHANT:
            packages = box.account.order_extras(order_id).packages
            assert packages and all(p["trackingNumber"] for p in packages)  # confirmed with tracking
            assert "shipped" in kinds
    partial = [i for i in ids if len(box.account.order_extras(i).packages) > 1]
    assert partial, "the scenario should include an order shipped in two parts"


def test_cancellations_before_and_after_shipment(box: Sandbox, tmp_path: Path) -> None:
    world = World(box, seed=4, partial_share=0.0)

    async def scenario() -> dict[str, Any]:
        async with running_product(
            box, f"sqlite:///{tmp_path / 'cancel.sqlite'}", web_port=_free_port(), executor_id="cancel"
        ) as rt:
            ids = (await asyncio.to_thread(box.generate, 4, seed=33, afn_share=0.0))["order_ids"]
            await wait_for(lambda: _all(rt, ids, {"created"}), what="the orders in M3")
            early, late = ids[0], ids[1]
            # The warehouse ships `late` while M3's BODs are held back (no IMS target yet), then the
            # buyer cancels both on Amazon: `early` was not shipped, `late` was.
            m3_late = _m3_orders_by_cuor(box)[late][0]["orno"]
            httpx.post(
                f"{box.m3.url}/_sim/orders/{m3_late}/deliver", json={"carrier": "UPS", "tracking": "1Z999"}
            ).raise_for_status()
            await asyncio.to_thread(world.cancel, [early, late])
            await asyncio.to_thread(world.tick_amazon)  # Amazon applies the MFN cancellations
            await wait_for(
                lambda: _all(rt, [early], {"cancelled"}) and _all(rt, [late], {"incident"}),
                what="the cancellations to be handled",
            )
            return {"early": early, "late": late, "incidents": incidents.list_incidents(rt.engine)}

    result = asyncio.run(scenario())
    world.close()
    m3 = _m3_orders_by_cuor(box)
    early_lines = m3[result["early"]][0]["lines"]
    assert early_lines and all(ln["orst"] in ("90", "99") for ln in early_lines)  # closed in M3
    [after_ship] = [i for i in result["incidents"] if i["subject"] == result["late"]]
    assert after_ship["category"] == "cancel_after_ship"
    assert "already shipped" in after_ship["message"]


def test_m3_outage_opens_the_circuit_alerts_and_orders_wait(box: Sandbox, tmp_path: Path) -> None:
    alerts: list[dict[str, Any]] = []
    hook = FastAPI()

    @hook.post("/alerts")
    async def receive(request: Request) -> dict[str, str]:
        alerts.append(json.loads(await request.body()))
        return {"ok": "yes"}

    receiver = serve_in_thread(hook, name="alert-hook")
    config = box.config(f"sqlite:///{tmp_path / 'outage.sqlite'}", executor_id="outage")
    httpx.post(f"{box.m3.url}/_sim/faults", json={"error_500_share": 1.0}).raise_for_status()
    m3_down_at = time.monotonic()

    async def scenario() -> dict[str, int]:
        from m3amazon.config import Settings

        settings = Settings(
            **{
                **config,
                "alerts": {
                    "window_s": 1,
                    "routes": [
                        {
                            "urls": [f"json://127.0.0.1:{receiver.port}/alerts"],
                            "categories": ["m3_unavailable"],
                        }
                    ],
                },
                "m3": {
                    **config["m3"],
                    "circuit": {"failure_threshold": 3, "probe_initial_s": 0.5, "probe_max_s": 1},
                },
            }
        )
        from m3amazon.service import run_service

        settings.web.port = _free_port()
        stop = asyncio.Event()
        ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        service = asyncio.create_task(run_service(settings, stop=stop, on_ready=ready.set_result))
        try:
            rt = await asyncio.wait_for(asyncio.shield(ready), 60)
            ids = (await asyncio.to_thread(box.generate, 6, seed=44))["order_ids"]
            await wait_for(lambda: bool(alerts), timeout_s=60, what="the circuit-open alert")
            assert trail.outcome_counts(rt.engine).get("created", 0) == 0  # held, not failed
            # M3 stays down for the whole outage; the orders wait, nothing becomes an incident
            await asyncio.sleep(max(0.0, m3_down_at + OUTAGE_S - time.monotonic()))
            assert trail.outcome_counts(rt.engine).get("created", 0) == 0
            assert not incidents.list_incidents(rt.engine)
            httpx.post(f"{box.m3.url}/_sim/faults", json={}).raise_for_status()  # M3 is back
            await wait_for(lambda: _all(rt, ids, {"created"}), timeout_s=120, what="the held orders")
            return trail.outcome_counts(rt.engine)
        finally:
            stop.set()
            await service

    try:
        counts = asyncio.run(scenario())
    finally:
        receiver.stop()
    assert counts == {"created": 6}
    stats = box.m3_stats()
    assert stats["orders_total"] == 6 and stats["duplicate_orders"] == 0
    assert any("circuit open" in a["title"].lower() for a in alerts)
