"""MIClient seams: body parsing (v2 200/400, partial failure, v1), retries, auth, value encoding.

respx stands in for M3 here only to reach shapes the simulator does not produce (v1 bodies,
top-level-only 400s, 429s); the behaviour end to end is covered against the simulator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from m3amazon.config import M3Settings
from m3amazon.m3.client import MIClient, RetryPolicy, mi_value, parse_response
from m3amazon.m3.errors import MIError, MITransportError, MIValidationError

BASE = "https://m3.example.test"
NO_WAIT = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, wait_jitter=0)


def _client(**overrides: object) -> MIClient:
    return MIClient(M3Settings(base_url=BASE, **overrides), retry=NO_WAIT)  # type: ignore[arg-type]


# -- parsing --------------------------------------------------------------------------------------


def test_v2_success_rows_are_right_trimmed() -> None:
    body = {
        "results": [{"transaction": "GetHead", "records": [{"ORNO": "1000000001 ", "ORST": "22"}]}],
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": 1,
        "nrOfFailedTransactions": 0,
    }
    (result,) = parse_response("OIS100MI", ["GetHead"], 200, body)
    assert result.ok and result.records == [{"ORNO": "1000000001", "ORST": "22"}]


def test_v2_bulk_partial_failure_keeps_per_transaction_outcomes() -> None:
    body = {
        "results": [
            {"transaction": "AddBatchLine", "records": [{"PONR": "1"}]},
            {
                "transaction": "AddBatchLine",
                "errorMessage": "Item number X does not exist",
                "errorCode": "WIT0203",
                "errorField": "ITNO",
                "errorType": "ServerReturnedNOK",
                "records": [],
            },
            {"transaction": "Confirm", "notProcessed": True},
        ],
        "wasTerminated": True,
        "terminationReason": "stopped",
        "nrOfFailedTransactions": 1,
    }
    ok, failed, skipped = parse_response("OIS100MI", ["AddBatchLine", "AddBatchLine", "Confirm"], 200, body)
    assert ok.ok and ok.records == [{"PONR": "1"}]
    assert failed.error is not None and (failed.error.code, failed.error.field) == ("WIT0203", "ITNO")
    assert skipped.error is not None and skipped.error.error_type == "NotProcessed"


def test_v2_400_with_the_error_in_results() -> None:
    body = {
        "results": [
            {
                "transaction": "AddBatchHead",
                "errorMessage": "Customer number X does not exist",
                "errorCode": "WCU0203",
                "errorField": "CUNO",
                "errorType": "ServerReturnedNOK",
            }
        ],
        "wasTerminated": True,
        "nrOfFailedTransactions": 1,
    }
    (result,) = parse_response("OIS100MI", ["AddBatchHead"], 400, body)
    assert result.error is not None and result.error.is_not_found and result.error.field == "CUNO"


def test_v2_400_with_the_error_at_the_top_level_only() -> None:
    body = {
        "wasTerminated": True,
        "terminationReason": "Input field CUNO is too long",
        "terminationErrorType": "InputFieldTooLong",
    }
    (result,) = parse_response("OIS100MI", ["AddBatchHead"], 400, body)
    assert result.error is not None
    assert result.error.error_type == "InputFieldTooLong" and "too long" in result.error.message


def test_v2_missing_results_are_errors_not_successes() -> None:
    body = {"results": [{"transaction": "GetHead", "records": []}], "wasTerminated": False}
    first, second = parse_response("OIS100MI", ["GetHead", "GetHead"], 200, body)
    assert first.ok and second.error is not None and second.error.error_type == "NoResult"


def test_v1_success_shape() -> None:
    body = {
        "Program": "CRS610MI",
        "Transaction": "GetBasicData",
        "MIRecord": [
            {
                "RowIndex": 0,
                "NameValue": [{"Name": "CUNO", "Value": "AMZUS     "}, {"Name": "CUNM", "Value": "Amazon  "}],
            }
        ],
    }
    (result,) = parse_response("CRS610MI", ["GetBasicData"], 200, body)
    assert result.ok and result.records == [{"CUNO": "AMZUS", "CUNM": "Amazon"}]


def test_v1_nok_with_http_200() -> None:
    body = {
        "@type": "ServerReturnedNOK",
        "@code": "XIM0002",
        "@field": "CUNO",
        "Message": "Customer number is invalid          ",
    }
    (result,) = parse_response("CRS610MI", ["GetBasicData"], 200, body)
    assert result.error is not None and result.error.code == "XIM0002" and result.error.field == "CUNO"
    assert result.error.message == "Customer number is invalid"


def test_v1_partial_nok_is_a_failure_even_with_rows() -> None:
    rows = [{"RowIndex": i, "NameValue": [{"Name": "CUNO", "Value": f"C{i}"}]} for i in range(5)]
    body = {"MIRecord": rows, "ErrorMessage": {"@code": "CPF9898", "@field": "RETT", "Message": "Stopped"}}
    (result,) = parse_response("CRS610MI", ["LstByNumber"], 200, body)
    assert len(result.records) == 5 and result.error is not None and result.error.code == "CPF9898"


# -- values -----------------------------------------------------------------------------------------


def test_values_are_sent_as_m3_strings() -> None:
    assert mi_value(Decimal("1E+2")) == "100"
    assert mi_value(Decimal("12.50")) == "12.50"
    assert mi_value(Decimal("0.00000010")) == "0.00000010"
    assert mi_value(3) == "3" and mi_value(True) == "1" and mi_value(None) is None
    assert mi_value(dt.date(2026, 3, 1)) == "20260301"
    with pytest.raises(TypeError):
        mi_value(object())


@respx.mock
def test_execute_sends_fields_and_control_parameters() -> None:
    route = respx.get(f"{BASE}/m3api-rest/v2/execute/OIS100MI/AddBatchLine").respond(
        json={"results": [{"transaction": "AddBatchLine", "records": [{"PONR": "1", "POSX": "0"}]}]}
    )

    async def scenario():
        async with _client(cono=200, divi="B01") as client:
            return await client.execute(
                "OIS100MI",
                "AddBatchLine",
                {"ORNO": "5000000001", "ITNO": "IT1", "ORQT": 2, "SAPR": Decimal("1E+1"), "DWDT": None},
                maxrecs=1,
            )

    assert asyncio.run(scenario()) == [{"PONR": "1", "POSX": "0"}]
    query = parse_qs(route.calls.last.request.url.query.decode())
    assert query == {
        "ORNO": ["5000000001"],
        "ITNO": ["IT1"],
        "ORQT": ["2"],
        "SAPR": ["10"],
        "cono": ["200"],
        "divi": ["B01"],
        "maxrecs": ["1"],
    }
    assert route.calls.last.request.headers["authorization"].startswith("Basic ")


@respx.mock
def test_invalid_records_never_leave_the_process() -> None:
    route = respx.route().respond(200, json={})

    async def scenario() -> None:
        async with _client() as client:
            await client.bulk(
                "OIS100MI",
                [
                    ("AddBatchLine", {"ORNO": "1", "ITNO": "I"}),
                    ("AddBatchLine", {"ORNO": "1", "ITNO": "I" * 16}),
                ],
            )

    with pytest.raises(MIValidationError) as caught:
        asyncio.run(scenario())
    assert caught.value.field == "ITNO" and not route.called


@respx.mock
def test_bulk_is_chunked_and_results_stay_aligned() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["program"] == "MMS200MI" and body["cono"] == 100 and body["maxReturnedRecords"] == 1
        return httpx.Response(
            200,
            json={
                "results": [
                    {"transaction": t["transaction"], "records": [{"ITNO": t["record"]["ITNO"]}]}
                    for t in body["transactions"]
                ]
            },
        )

    route = respx.post(f"{BASE}/m3api-rest/v2/execute").mock(side_effect=answer)

    async def scenario():
        async with _client(bulk_chunk=2) as client:
            results = await client.bulk("MMS200MI", [("Get", {"ITNO": f"I{n}"}) for n in range(5)], maxrecs=1)
            return results, client.stats

    results, stats = asyncio.run(scenario())
    assert [r.records[0]["ITNO"] for r in results] == [f"I{n}" for n in range(5)]
    assert route.call_count == 3 and stats.round_trips == 3 and stats.transactions == 5


# -- retries ----------------------------------------------------------------------------------------


@respx.mock
def test_reads_are_retried_after_5xx() -> None:
    route = respx.get(f"{BASE}/m3api-rest/v2/execute/OIS100MI/GetHead").mock(
        side_effect=[
            httpx.Response(503),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json={"results": [{"transaction": "GetHead", "records": [{"ORNO": "1"}]}]}),
        ]
    )

    async def scenario():
        async with _client() as client:
            return await client.execute("OIS100MI", "GetHead", {"ORNO": "1"}), client.stats

    rows, stats = asyncio.run(scenario())
    assert rows == [{"ORNO": "1"}] and route.call_count == 3 and stats.retries == 2


@respx.mock
def test_writes_with_an_unknown_outcome_are_not_repeated() -> None:
    route = respx.get(f"{BASE}/m3api-rest/v2/execute/OIS100MI/AddBatchHead").mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json={})]
    )

    async def scenario() -> None:
        async with _client() as client:
            await client.execute("OIS100MI", "AddBatchHead", {"CUNO": "C1"})

    with pytest.raises(MITransportError) as caught:
        asyncio.run(scenario())
    assert caught.value.transient and caught.value.status == 500 and route.call_count == 1


@respx.mock
def test_writes_that_never_reached_m3_are_repeated() -> None:
    ok = {"results": [{"transaction": "AddBatchHead", "records": [{"ORNO": "5000000001"}]}]}
    route = respx.get(f"{BASE}/m3api-rest/v2/execute/OIS100MI/AddBatchHead").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(429), httpx.Response(200, json=ok)]
    )

    async def scenario():
        async with _client() as client:
            return await client.execute("OIS100MI", "AddBatchHead", {"CUNO": "C1"})

    assert asyncio.run(scenario()) == [{"ORNO": "5000000001"}] and route.call_count == 3


@respx.mock
def test_retries_are_bounded() -> None:
    route = respx.get(f"{BASE}/m3api-rest/v2/execute/OIS100MI/GetHead").respond(502)

    async def scenario() -> None:
        async with _client() as client:
            await client.execute("OIS100MI", "GetHead", {"ORNO": "1"})

    with pytest.raises(MITransportError):
        asyncio.run(scenario())
    assert route.call_count == NO_WAIT.attempts


@respx.mock
def test_business_errors_raise_without_retry() -> None:
    route = respx.get(f"{BASE}/m3api-rest/v2/execute/CRS610MI/GetBasicData").respond(
        400,
        json={
            "results": [
                {
                    "transaction": "GetBasicData",
                    "errorMessage": "Customer number X does not exist",
                    "errorCode": "WCU0203",
                    "errorField": "CUNO",
                    "errorType": "ServerReturnedNOK",
                }
            ],
            "wasTerminated": True,
        },
    )

    async def scenario() -> None:
        async with _client() as client:
            await client.execute("CRS610MI", "GetBasicData", {"CUNO": "X"})

    with pytest.raises(MIError) as caught:
        asyncio.run(scenario())
    assert not caught.value.transient and caught.value.code == "WCU0203" and route.call_count == 1


@respx.mock
def test_a_non_json_answer_is_an_error() -> None:
    respx.get(f"{BASE}/m3api-rest/v2/execute/OIS100MI/GetHead").respond(200, text="<html>login</html>")

    async def scenario() -> None:
        async with _client() as client:
            await client.execute("OIS100MI", "GetHead", {"ORNO": "1"})

    with pytest.raises(MIError, match="without a JSON object"):
        asyncio.run(scenario())


# -- cloud auth -------------------------------------------------------------------------------------


def _ionapi(tmp_path: Path) -> Path:
    path = tmp_path / "t.ionapi"
    path.write_text(
        json.dumps(
            {
                "ti": "T1",
                "ci": "T1~ci",
                "cs": "cs-secret",
                "iu": "https://ionapi.test",
                "pu": "https://sso.test/T1/as/",
                "ot": "token.oauth2",
                "or": "revoke_token.oauth2",
                "saak": "T1#saak",
                "sask": "sask-secret",
            }
        )
    )
    return path


@respx.mock
def test_cloud_token_is_cached_renewed_on_401_and_revoked(tmp_path: Path) -> None:
    token_route = respx.post("https://sso.test/T1/as/token.oauth2").mock(
        side_effect=[
            httpx.Response(200, json={"access_token": "tok-1", "expires_in": 3600}),
            httpx.Response(200, json={"access_token": "tok-2", "expires_in": 3600}),
        ]
    )
    revoke_route = respx.post("https://sso.test/T1/as/revoke_token.oauth2").respond(200)
    ok = {"results": [{"transaction": "GetCurrentUser", "records": [{"USER": "SVC"}]}]}
    api = respx.get("https://ionapi.test/T1/M3/m3api-rest/v2/execute/OIS100MI/GetCurrentUser").mock(
        side_effect=[httpx.Response(200, json=ok), httpx.Response(401), httpx.Response(200, json=ok)]
    )

    async def scenario():
        client = MIClient(M3Settings(mode="cloud", ionapi_file=_ionapi(tmp_path)), retry=NO_WAIT)
        users = [await client.ping(), await client.ping()]
        await client.aclose()
        return users, client.stats

    users, stats = asyncio.run(scenario())
    assert users == ["SVC", "SVC"] and stats.token_requests == 2
    form = parse_qs(token_route.calls[0].request.content.decode())
    assert form == {
        "grant_type": ["password"],
        "username": ["T1#saak"],
        "password": ["sask-secret"],
        "client_id": ["T1~ci"],
        "client_secret": ["cs-secret"],
    }
    assert [c.request.headers["authorization"] for c in api.calls] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]
    assert parse_qs(revoke_route.calls.last.request.content.decode())["token"] == ["tok-2"]
    assert revoke_route.calls.last.request.headers["authorization"].startswith("Basic ")


def test_an_incomplete_ionapi_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "web.ionapi"
    path.write_text(json.dumps({"ti": "T1", "ci": "x", "iu": "https://ionapi.test"}))
    with pytest.raises(ValueError, match="lacks cs, pu, ot, saak, sask"):
        MIClient(M3Settings(mode="cloud", ionapi_file=path))
