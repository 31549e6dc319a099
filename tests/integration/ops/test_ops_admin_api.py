"""The admin API over HTTP (ASGI transport): the views and actions of ops/, typed, as an authenticated user.

A real SQLite database and the worker's secured surface (API tokens, roles); the enqueue is the
injected seam (a worker passes flows.dispatch.retry_order, which the end-to-end test exercises).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from m3amazon.mapping import load_mappings
from m3amazon.ops import incidents, trail, users
from m3amazon.ops.actions import OperatorActions
from m3amazon.ops.incidents import Incident, open_incident
from ops_samples import RecordingEnqueue, make_engine, order_incident, problem, unknown_sku
from web_samples import PASSWORD, bearer, client_for, secured_app

ORDER = "113-0000001-0000001"


async def _client(tmp_path: Path) -> tuple[httpx.AsyncClient, Any, RecordingEnqueue]:
    """A client authenticated as the operator `api` (an API token)."""
    engine = make_engine(tmp_path)
    enqueue = RecordingEnqueue()
    app = secured_app(
        engine, OperatorActions(engine=engine, enqueue=enqueue, mappings=lambda: load_mappings(None))
    )
    users.add_user(engine, "api", PASSWORD, "operator")
    token = users.issue_token(engine, "api", "test")
    return client_for(app, headers=bearer(token)), engine, enqueue


def _token_of(engine: Any, username: str) -> dict[str, str]:
    users.add_user(engine, username, PASSWORD, "operator")
    return bearer(users.issue_token(engine, username, "test"))


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any, RecordingEnqueue]]:
    client, engine, enqueue = await _client(tmp_path)
    async with client:
        yield client, engine, enqueue
    engine.dispose()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_order_view_has_trail_timeline_and_incidents(tmp_path: Path) -> None:
    async def scenario() -> None:
        client, engine, _ = await _client(tmp_path)
        async with client:
            assert (await client.get(f"/api/orders/{ORDER}")).status_code == 404
            trail.record(
                engine,
                trail.TrailEntry(
                    ORDER,
                    "incident",
                    channel="MERCHANT",
                    currency="USD",
                    goods_total="21.00",
                    workflow_id="wf-1",
                ),
            )
            trail.add_event(engine, ORDER, "received", "notification: Unshipped", key="received:n1")
            incident_id = order_incident(
                engine, ORDER, "sku_unknown", [unknown_sku("SKU-1", [("ITEM-1", "A", 91.0)])]
            )

            body = (await client.get(f"/api/orders/{ORDER}")).json()
            assert body["amazon_order_id"] == ORDER and body["outcome"] == "incident"
            assert body["workflow_id"] == "wf-1"  # the trail's fields stay at the top level
            assert body["goods_total"] == "21.00" and body["currency"] == "USD"
            assert [e["kind"] for e in body["timeline"]] == ["received"]
            assert [i["id"] for i in body["incidents"]] == [incident_id]
            assert "payload" not in body["incidents"][0]
        engine.dispose()

    run(scenario())


def test_incidents_list_filters_and_detail_has_the_payload(tmp_path: Path) -> None:
    async def scenario() -> None:
        client, engine, _ = await _client(tmp_path)
        async with client:
            sku = order_incident(
                engine, ORDER, "sku_unknown", [unknown_sku("SKU-1", [("ITEM-1", "A", 91.0)])]
            )
            m3 = order_incident(
                engine, "113-0000001-0000002", "m3_unavailable", [problem("M3_UNAVAILABLE", "down")]
            )
            await client.post(f"/api/incidents/{m3}/discard", json={"reason": "test"})

            open_ = (await client.get("/api/incidents")).json()
            assert [i["id"] for i in open_] == [sku] and "payload" not in open_[0]
            assert open_[0]["actions"] == ["fix mapping then retry", "retry", "discard"]
            assert [i["id"] for i in (await client.get("/api/incidents?status=all")).json()] == [m3, sku]
            assert [i["id"] for i in (await client.get("/api/incidents?status=discarded")).json()] == [m3]
            assert (await client.get("/api/incidents?status=all&category=m3_unavailable")).json()[0][
                "id"
            ] == m3
            assert (await client.get("/api/incidents?status=bogus")).status_code == 422

            detail = (await client.get(f"/api/incidents/{sku}")).json()
            problem_ = detail["payload"]["problems"][0]
            assert problem_["sku"] == "SKU-1" and problem_["suggestions"][0]["item_number"] == "ITEM-1"
            assert detail["payload"]["order"]["ship_to"]["name"] == "***"
            assert (await client.get("/api/incidents/999")).status_code == 404
        engine.dispose()

    run(scenario())


def test_a_bod_payload_is_shown_as_read_and_masked_never_as_received(tmp_path: Path) -> None:
    from m3a_bod_samples import order
    from m3amazon.m3.ion import bod

    async def scenario() -> None:
        client, engine, _ = await _client(tmp_path)
        async with client:
            xml = bod.encode("Process", order(), sender_logical_id="lid://infor.m3.m3").decode()
            assert "1 Main Street" in xml
            incident_id = open_incident(
                engine,
                Incident(
                    key="bod:X:1",
                    category="bod",
                    reason_code="BOD_UNSUPPORTED_VERB",
                    message="m",
                    payload=xml,
                ),
            )
            response = await client.get(f"/api/incidents/{incident_id}")
            assert "1 Main Street" not in response.text
            payload = response.json()["payload"]
            assert payload["bod"]["documents"][0]["ship_to"]["line1"] == "***"
        engine.dispose()

    run(scenario())


def test_actions_are_done_as_the_authenticated_user_and_answer_with_the_outcome(tmp_path: Path) -> None:
    async def scenario() -> None:
        client, engine, enqueue = await _client(tmp_path)
        async with client:
            first = order_incident(engine, ORDER, "m3_unavailable", [problem("M3_UNAVAILABLE", "down")])
            second = order_incident(
                engine, "113-0000001-0000003", "m3_unavailable", [problem("M3_UNAVAILABLE", "x")]
            )
            third = order_incident(
                engine, "113-0000001-0000004", "address_invalid", [problem("ADDRESS_DOES_NOT_FIT", "x")]
            )

            response = await client.post(f"/api/incidents/{first}/retry", headers=_token_of(engine, "alice"))
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["action"] == "retry" and body["incident"]["status"] == "retrying"
            assert body["retried"] == [
                {
                    "incident_id": first,
                    "amazon_order_id": ORDER,
                    "workflow_id": f"amazon-order:{ORDER}:retry:1",
                }
            ]
            again = await client.post(f"/api/incidents/{first}/retry", json={"reason": "still waiting"})
            assert again.status_code == 200  # a retrying incident can be retried again

            bulk = (
                await client.post("/api/incidents/retry-category", json={"category": "m3_unavailable"})
            ).json()
            assert [r["incident_id"] for r in bulk["retried"]] == [second]  # the open ones only

            assert (
                await client.post(f"/api/incidents/{third}/discard", json={"reason": ""})
            ).status_code == 422
            assert (
                await client.post(f"/api/incidents/{third}/discard", json={"reason": "  "})
            ).status_code == 422
            assert (await client.post(f"/api/incidents/{third}/discard", json={})).status_code == 422
            done = await client.post(f"/api/incidents/{third}/discard", json={"reason": "customer collected"})
            assert done.json()["incident"]["status"] == "discarded"
            assert (
                await client.post(f"/api/incidents/{third}/discard", json={"reason": "x"})
            ).status_code == 409
            assert (await client.post("/api/incidents/999/retry")).status_code == 404

            accept = await client.post(
                f"/api/incidents/{third}/accept-suggestion", json={"item_number": "ITEM-1", "target": "local"}
            )
            assert accept.status_code == 409  # an address incident has no SKU to accept
            bad_target = await client.post(
                f"/api/incidents/{third}/accept-suggestion", json={"item_number": "ITEM-1", "target": "m3"}
            )
            assert bad_target.status_code == 422

            log = (await client.get("/api/audit")).json()
            assert [(e["action"], e["actor"]) for e in log] == [
                ("discard", "api"),
                ("retry_category", "api"),
                ("retry", "api"),
                ("retry", "alice"),
            ]
            assert log[0]["reason"] == "customer collected" and log[0]["after"]["status"] == "discarded"
            mine = (await client.get("/api/audit", params={"actor": "alice"})).json()
            assert [e["subject"] for e in mine] == [f"incident:{first}"]
            assert len(enqueue.calls) == 3
            assert incidents.count_incidents(engine, status="retrying") == 2
        engine.dispose()

    run(scenario())


def test_the_openapi_schema_names_the_models_and_the_bearer_scheme(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = make_engine(tmp_path)
        users.add_user(engine, "reader", PASSWORD, "viewer")
        async with client_for(secured_app(engine)) as client:
            assert (await client.get("/openapi.json")).status_code == 401  # no anonymous schema
            reader = bearer(users.issue_token(engine, "reader", "docs"))
            schema = (await client.get("/openapi.json", headers=reader)).json()
        engine.dispose()
        models = set(schema["components"]["schemas"])
        assert {"OrderDetail", "IncidentSummary", "IncidentDetail", "ActionOutcome", "AuditRecord"} <= models
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        accept = schema["paths"]["/api/incidents/{incident_id}/accept-suggestion"]["post"]
        assert accept["security"] == [{"HTTPBearer": []}]
        assert {"401", "403", "404", "409"} <= set(accept["responses"])
        ok = accept["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"].endswith("/ActionOutcome")
        assert all(path.startswith("/api/") for path in schema["paths"])  # console pages are not API

    run(scenario())
