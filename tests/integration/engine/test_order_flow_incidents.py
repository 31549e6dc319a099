"""The order flow in process, over the simulators: good orders reach M3, bad ones become incidents.

An operator must be able to read why: every incident has a reason code, a sentence naming the
thing to fix, and the payload (personal data masked); nothing is dropped and the worker goes on.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from m3amazon import bootstrap
from m3amazon.flows import references
from m3amazon.ops import incidents, trail, users
from m3amazon.service import run_service
from m3amazon.sim.catalog import build_catalog
from m3amazon.sim.sandbox import Sandbox

pytestmark = pytest.mark.slow

ORDERS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sandbox(tmp_path: Path):
    unknown = tuple(item.sku for item in build_catalog(size=12)[:2])  # M3 has no item for these two
    box = Sandbox.start(tmp_path / "sandbox", catalog_size=12, m3_unknown_skus=unknown)
    references.clear_caches()
    yield box
    box.stop()


async def _run(box: Sandbox, tmp_path: Path, port: int) -> dict[str, Any]:
    settings = box.settings(f"sqlite:///{tmp_path / 'flow.sqlite'}", executor_id="flow-test")
    settings.web.port = port
    settings.web.metrics_token = SecretStr("metrics-secret")
    stop = asyncio.Event()
    ready: asyncio.Future[bootstrap.Runtime] = asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service(settings, stop=stop, on_ready=ready.set_result))
    try:
        rt = await asyncio.wait_for(asyncio.shield(ready), 60)
        scenario = await asyncio.to_thread(box.generate, ORDERS, seed=11, unfit_address_share=0.15)
        for _ in range(600):
            counts = await asyncio.to_thread(trail.outcome_counts, rt.engine)
            if sum(counts.values()) >= ORDERS:
                break
            await asyncio.sleep(0.1)
        await asyncio.to_thread(users.add_user, rt.engine, "viewer", "a long enough password", "viewer")
        token = await asyncio.to_thread(users.issue_token, rt.engine, "viewer", "test")
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as web:
            api = (await web.get("/api/incidents", headers=auth)).json()
            health = (await web.get("/healthz")).status_code
            anonymous = (await web.get("/")).status_code
            metrics_refused = (await web.get("/metrics")).status_code
            metrics = (await web.get("/metrics", headers={"Authorization": "Bearer metrics-secret"})).text
            one = (await web.get(f"/api/orders/{scenario['order_ids'][0]}", headers=auth)).json()
            form = await web.get("/login")
            csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            await web.post(
                "/login",
                data={"username": "viewer", "password": "a long enough password", "csrf_token": csrf},
            )
            page = (await web.get("/")).text
        rows = await asyncio.to_thread(incidents.list_incidents, rt.engine)
        alerts = rt.alerter.pending()
        return {
            "alerts": alerts,
            "counts": counts,
            "api": api,
            "rows": rows,
            "health": health,
            "anonymous": anonymous,
            "metrics_refused": metrics_refused,
            "page": page,
            "metrics": metrics,
            "one": one,
            "scenario": scenario,
        }
    finally:
        stop.set()
        await service


def test_bad_orders_become_readable_incidents_and_good_ones_reach_m3(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    result = asyncio.run(_run(sandbox, tmp_path, _free_port()))
    counts, rows = result["counts"], result["rows"]
    assert sum(counts.values()) == ORDERS
    assert counts.get("incident", 0) >= 3, counts  # the scenario has unknown SKUs and unfit addresses
    assert sandbox.m3_stats()["orders_total"] == counts.get("created", 0)
    assert sandbox.m3_stats()["duplicate_orders"] == 0

    reasons = {row["reason_code"] for row in rows}
    assert reasons & {"UNKNOWN_SKU", "ADDRESS_DOES_NOT_FIT"}, reasons
    assert {row["category"] for row in rows} <= {"sku_unknown", "address_invalid"}
    incident_orders = {row["subject"] for row in rows}
    assert len(incident_orders) == counts.get("incident", 0)  # one incident per order and category
    for row in rows:
        assert row["subject"]
        assert len(row["message"].split()) > 4  # a sentence
        payload = json.loads(row["payload"])
        assert payload["event"]["order_id"] == row["subject"]
        assert payload["order"]["ship_to"]["name"] == "***"  # personal data masked
        assert "retry" in row["actions"]
    unknown_sku = [r for r in rows if r["category"] == "sku_unknown"]
    assert unknown_sku and "no M3 item" in unknown_sku[0]["message"]
    problem = json.loads(unknown_sku[0]["payload"])["problems"][0]
    assert problem["sku"] and len(problem["suggestions"]) == 3  # the matcher's top three, with scores
    assert all(0 < s["score"] <= 100 and s["item_number"] for s in problem["suggestions"])

    # Each order incident raised an alert, grouped per category for the next window's message.
    for category in {row["category"] for row in rows}:
        assert result["alerts"].get(category, 0) >= 1, result["alerts"]

    assert result["health"] == 200
    assert {i["id"] for i in result["api"]} == {r["id"] for r in rows}
    assert "payload" not in result["api"][0]
    assert result["anonymous"] == 303  # the console needs a login
    assert "open incidents" in result["page"] and "Orders per hour" in result["page"]
    assert result["metrics_refused"] == 401  # web.metrics_token is set
    assert "m3amazon_orders_total" in result["metrics"]
    for name in ("m3amazon_governor_tokens", "m3amazon_sp_api_calls_total", "m3amazon_incidents_open"):
        assert name in result["metrics"], name
    assert "m3amazon_m3_circuit_state" in result["metrics"]
    assert result["one"]["workflow_id"] == f"amazon-order:{result['scenario']['order_ids'][0]}:UNSHIPPED:0"
