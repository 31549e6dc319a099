"""The simulator is strict the way M3 is: M3-style errors for bad master data and bad fields."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from m3_sim_support import Sim, order_plan

from m3amazon.m3.errors import MIError


def _add_head(sim: Sim, **record: str) -> str:
    async def scenario() -> str:
        async with sim.onprem() as client:
            rows = await client.execute("OIS100MI", "AddBatchHead", record)
            return rows[0]["ORNO"]

    return asyncio.run(scenario())


def _add_line(sim: Sim, **record: str) -> None:
    async def scenario() -> None:
        async with sim.onprem() as client:
            await client.execute("OIS100MI", "AddBatchLine", record)

    asyncio.run(scenario())


def test_unknown_customer_is_refused_with_an_m3_error(sim: Sim) -> None:
    with pytest.raises(MIError) as caught:
        _add_head(sim, CUNO="NOSUCH", CUOR="111-2000001-0000001")
    assert (caught.value.code, caught.value.field, caught.value.error_type) == (
        "WCU0203",
        "CUNO",
        "ServerReturnedNOK",
    )
    assert "NOSUCH" in caught.value.message and not caught.value.transient


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"ITNO": "NOSUCHITEM"}, "WIT0203", "ITNO"),
        ({"WHLO": "XYZ"}, "WWH0203", "WHLO"),
        ({"ORQT": "0"}, "WOR0105", "ORQT"),
        ({"ORQT": "-2"}, "WOR0105", "ORQT"),
        ({"SAPR": "-1.00"}, "WSA0105", "SAPR"),
    ],
)
def test_bad_lines_are_refused_and_recorded_against_the_batch(
    sim: Sim, change: dict, code: str, field: str
) -> None:
    batch = _add_head(sim, CUNO="AMZUS", CUOR="111-2000002-0000002")
    line = {**order_plan(sim, "x").lines[0], **change, "ORNO": batch}
    with pytest.raises(MIError) as caught:
        _add_line(sim, **line)
    assert (caught.value.code, caught.value.field) == (code, field)
    with pytest.raises(MIError) as rejected:
        asyncio.run(_confirm(sim, batch))
    assert rejected.value.code == "WOR0610" and "status 25" in rejected.value.message
    assert sim.stats()["orders_total"] == 0


async def _confirm(sim: Sim, batch: str) -> None:
    async with sim.onprem() as client:
        await client.execute("OIS100MI", "Confirm", {"ORNO": batch})


def test_an_item_that_is_not_active_cannot_be_ordered(sim: Sim) -> None:
    item = sim.catalog[0]
    sim.store.set_item_status(item.item_number, "90")
    batch = _add_head(sim, CUNO="AMZUS")
    with pytest.raises(MIError) as caught:
        _add_line(sim, ORNO=batch, ITNO=item.item_number, ORQT="1")
    assert caught.value.code == "WIT0124" and "status 90" in caught.value.message


def test_a_second_order_with_the_same_cuor_is_accepted_and_counted(sim: Sim) -> None:
    item = sim.catalog[0]
    for _ in range(2):
        batch = _add_head(sim, CUNO="AMZUS", CUOR="111-2000003-0000003")
        _add_line(sim, ORNO=batch, ITNO=item.item_number, ORQT="1", SAPR="9.99")
        asyncio.run(_confirm(sim, batch))
    stats = sim.stats()
    assert stats["orders_total"] == 2 and stats["duplicate_orders"] == 1
    assert stats["orders_by_cuor"]["duplicated"] == ["111-2000003-0000003"]


def _raw(sim: Sim, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{sim.url}/m3api-rest/v2/execute/{path}", params=params, auth=("M3SRVADM", "demo"))


@pytest.mark.parametrize(
    ("path", "params", "error_type", "field"),
    [
        ("OIS100MI/AddBatchHead", {"CUNO": "A" * 11}, "InputFieldTooLong", "CUNO"),
        ("OIS100MI/AddBatchHead", {"CUOR": "111"}, "MandatoryInputFieldNotFound", "CUNO"),
        ("OIS100MI/AddBatchHead", {"CUNO": "AMZUS", "XXXX": "1"}, "ServerReturnedNOK", "XXXX"),
        ("OIS100MI/AddBatchAddress", {"ORNO": "1", "ADRT": "A"}, "ServerReturnedNOK", "ADRT"),
        ("OIS100MI/NoSuchTransaction", {}, "TransactionNotFound", ""),
    ],
)
def test_the_mi_layer_refuses_bad_fields_with_a_v2_400(
    sim: Sim, path: str, params: dict, error_type: str, field: str
) -> None:
    response = _raw(sim, path, cono="100", maxrecs="10", **params)
    assert response.status_code == 400
    body = response.json()
    assert body["wasTerminated"] is True and body["nrOfFailedTransactions"] == 1
    assert body["terminationErrorType"] == error_type
    result = body["results"][0]
    assert result["errorType"] == error_type and result["errorField"] == field and result["errorCode"]
    assert result["records"] == []


def test_a_successful_get_has_the_v2_shape(sim: Sim) -> None:
    response = _raw(sim, "CRS610MI/GetBasicData", CUNO="AMZUS", cono="100", maxrecs="1")
    assert response.status_code == 200
    body = response.json()
    assert body["wasTerminated"] is False
    assert body["nrOfSuccessfullTransactions"] == 1 and body["nrOfFailedTransactions"] == 0
    assert body["results"][0]["transaction"] == "GetBasicData"
    assert body["results"][0]["records"][0]["CUNO"] == "AMZUS"


def test_bad_basic_auth_is_refused(sim: Sim) -> None:
    response = httpx.get(f"{sim.url}/m3api-rest/v2/execute/OIS100MI/GetCurrentUser", auth=("M3SRVADM", "x"))
    assert response.status_code == 401


def test_a_malformed_bulk_is_terminated(sim: Sim) -> None:
    response = httpx.post(
        f"{sim.url}/m3api-rest/v2/execute", json={"transactions": "nope"}, auth=("M3SRVADM", "demo")
    )
    assert response.status_code == 400 and response.json()["wasTerminated"] is True


def test_search_query_syntax(sim: Sim) -> None:
    from m3amazon.sim.m3.programs import SimMIError, parse_search_query

    assert parse_search_query('CUOR:"111-1-2" AND CUNO:AMZUS') == [("CUOR", "111-1-2"), ("CUNO", "AMZUS")]
    assert parse_search_query("CUOR:abc") == [("CUOR", "abc")]
    for bad in ("", "CUOR", "ITDS:x", 'CUOR:"open'):
        with pytest.raises(SimMIError):
            parse_search_query(bad)


def test_control_plane_lists_and_resets(sim: Sim) -> None:
    from m3amazon.m3.orders import ensure_customer_order

    async def scenario() -> None:
        async with sim.onprem() as client:
            await ensure_customer_order(client, order_plan(sim, "111-2000004-0000004"))

    asyncio.run(scenario())
    orders = httpx.get(f"{sim.url}/_sim/orders").json()
    assert [o["cuor"] for o in orders] == ["111-2000004-0000004"]
    assert httpx.get(f"{sim.url}/_sim/faults").json()["timeout_share"] == 0.0
    assert httpx.post(f"{sim.url}/_sim/faults", json={"nonsense": 1}).status_code == 422
    httpx.post(f"{sim.url}/_sim/reset").raise_for_status()
    stats = sim.stats()
    assert stats["orders_total"] == 0 and stats["http_requests"] == 0 and stats["calls"] == {}
