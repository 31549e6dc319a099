"""The simulator and the gateway against the official Orders API v2026-01-01 model.

- simulator responses (getOrder and searchOrders with several includedData combinations, and the
  error bodies) validate against the model's response schemas, with undeclared fields refused;
- the requests our gateway sends use only declared parameters, with the declared types and enums;
- the model's own sandbox examples parse through our models and translation.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from amazon_reference import assert_valid, model_validator, operation, orders_model, reference_dir
from pydantic import SecretStr

from m3amazon.amazon.errors import BadRequest, error_from_response
from m3amazon.amazon.gateway import AmazonGateway, RetryPolicy
from m3amazon.amazon.models.orders_v2026 import GetOrderResponse, SearchOrdersResponse
from m3amazon.amazon.translate.orders import order_from_v2026
from m3amazon.canonical import Order, OrderStatus
from m3amazon.config import AmazonSettings
from m3amazon.sim.amazon.app import create_app
from m3amazon.sim.amazon.render import INCLUDED_DATA
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.server import RunningServer, serve_in_thread
from m3amazon.sim.tls import LocalTLS

pytestmark = pytest.mark.reference
MODEL = "orders_2026-01-01.json"
MARKETS = ["ATVPDKIKX0DER", "A1PA6795UKMFR9", "A1RKKUPIHCS9HS", "A1F83G8C2ARO7P"]
INCLUDED_COMBINATIONS = [
    [],
    ["BUYER"],
    ["RECIPIENT"],
    ["PROCEEDS"],
    ["FULFILLMENT"],
    ["BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PROMOTION"],
    list(INCLUDED_DATA),
]


class Recorder:
    """ASGI wrapper that notes every request (method, path, query pairs, headers) before serving it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str, list[tuple[str, str]], dict[str, str]]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.requests.append((scope["method"], scope["path"], query, headers))
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    reference_dir()
    return orders_model()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SellerAccount, RunningServer, Recorder, LocalTLS]]:
    reference_dir()
    tls = LocalTLS.ensure(tmp_path_factory.mktemp("tls"))
    account = SellerAccount(marketplaces=MARKETS)
    generate_orders(account, 30, seed=42, afn_share=0.4, pending_share=0.1)
    # No usage plans here: these tests check shapes against the models, and searchOrders' plan
    # (burst 20) would answer a 429 wherever the module's many searches happen to run fast.
    recorder = Recorder(create_app(account, time_scale=10_000, rate_limits=False))
    server = serve_in_thread(recorder, tls=(tls.server_cert, tls.server_key), name="amazon-sim-reference")
    yield account, server, recorder, tls
    server.stop()


@contextmanager
def _client(
    world: tuple[SellerAccount, RunningServer, Recorder, LocalTLS],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """An HTTPS client for the simulator and an access token (closed even when a test fails)."""
    account, server, _, tls = world
    with httpx.Client(
        base_url=server.url, verify=ssl.create_default_context(cafile=str(tls.ca_cert))
    ) as client:
        token = client.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": account.refresh_token,
                "client_id": account.client_id,
                "client_secret": account.client_secret,
            },
        ).json()["access_token"]
        yield client, {"x-amz-access-token": token}


def _variety(orders: list[Order]) -> list[Order]:
    """A few orders covering AFN/MFN, pending/unshipped, business and several marketplaces.

    (searchOrders renders every order with the same renderer, so all of them are validated there.)
    """
    picked: dict[tuple[object, ...], Order] = {}
    for order in orders:
        picked.setdefault((order.channel, order.status, order.is_business, order.marketplace_id), order)
    return list(picked.values())[:8]


def _declared_headers(op: dict[str, Any], status: int) -> set[str]:
    return set(op["responses"][str(status)].get("headers", {}))


@pytest.mark.parametrize("included", INCLUDED_COMBINATIONS, ids=lambda x: ",".join(x) or "none")
def test_get_order_responses_match_the_model(model: dict[str, Any], world: Any, included: list[str]) -> None:
    _, op = operation(model, "getOrder")
    schema = model_validator(MODEL, "GetOrderResponse")
    declared = {h.lower() for h in _declared_headers(op, 200)}
    with _client(world) as (client, headers):
        for order in _variety(world[0].orders()):
            response = client.get(
                f"/orders/2026-01-01/orders/{order.order_id}",
                headers=headers,
                params={"includedData": ",".join(included)} if included else None,
            )
            assert response.status_code == 200
            assert_valid(schema, response.json())
            assert declared <= {h.lower() for h in response.headers}


@pytest.mark.parametrize("included", INCLUDED_COMBINATIONS, ids=lambda x: ",".join(x) or "none")
def test_search_orders_responses_match_the_model(
    model: dict[str, Any], world: Any, included: list[str]
) -> None:
    schema = model_validator(MODEL, "SearchOrdersResponse")
    params: dict[str, Any] = {
        "createdAfter": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
        "maxResultsPerPage": 7,
    }
    if included:
        params["includedData"] = ",".join(included)
    pages = 0
    with _client(world) as (client, headers):
        while True:
            body = client.get("/orders/2026-01-01/orders", params=params, headers=headers).json()
            assert_valid(schema, body)
            pages += 1
            if "pagination" not in body:
                break
            params["paginationToken"] = body["pagination"]["nextToken"]
    assert pages == 5  # 30 orders, 7 per page


def test_error_bodies_match_the_model(model: dict[str, Any], world: Any) -> None:
    schema = model_validator(MODEL, "ErrorList")
    order_id = world[0].orders()[0].order_id
    with _client(world) as (client, headers):
        cases = {
            400: client.get("/orders/2026-01-01/orders", headers=headers),
            403: client.get(
                f"/orders/2026-01-01/orders/{order_id}", headers={"x-amz-access-token": "Atza|nope"}
            ),
            404: client.get("/orders/2026-01-01/orders/000-0000000-0000000", headers=headers),
        }
        client.post("/_sim/faults", json={"fail_next": [429, 500, 503]})
        for status in (429, 500, 503):
            cases[status] = client.get(f"/orders/2026-01-01/orders/{order_id}", headers=headers)
    for operation_id in ("getOrder", "searchOrders"):
        _, op = operation(model, operation_id)
        assert {str(s) for s in cases} <= set(op["responses"])
    for status, response in cases.items():
        assert response.status_code == status
        assert_valid(schema, response.json())
        assert "x-amzn-requestid" in {h.lower() for h in response.headers}


def _check_parameter(spec: dict[str, Any], value: str) -> None:
    assert spec.get("collectionFormat", "csv") == "csv"
    kind = spec["type"]
    if kind == "array":
        items = value.split(",")
        assert "maxItems" not in spec or len(items) <= spec["maxItems"]
        for item in items:
            _check_parameter(spec["items"], item)
    elif kind == "integer":
        number = int(value)
        assert spec.get("minimum", number) <= number <= spec.get("maximum", number)
    elif kind == "string":
        if "enum" in spec:
            assert value in spec["enum"], f"{spec.get('name')}={value} not in {spec['enum']}"
        if spec.get("format") == "date-time":
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            assert moment.tzinfo is not None, f"{value} has no UTC offset"
    else:
        raise AssertionError(f"unexpected parameter type {kind}")


def test_gateway_requests_use_only_declared_parameters(model: dict[str, Any], world: Any) -> None:
    account, server, recorder, tls = world
    settings = AmazonSettings(
        endpoint=server.url,
        lwa_token_url=server.url + "/auth/o2/token",
        ca_bundle=tls.ca_cert,
        lwa_client_id=account.client_id,
        lwa_client_secret=SecretStr(account.client_secret),
        refresh_token=SecretStr(account.refresh_token),
        marketplaces=MARKETS,
    )
    recorder.requests.clear()

    async def run() -> None:
        async with AmazonGateway(settings, retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.02)) as gateway:
            await gateway.get_order(account.orders()[0].order_id)
            async for _ in gateway.search_pages(
                created_after=datetime.now(UTC) - timedelta(days=3),
                max_results=10,
                fulfillment_statuses=[OrderStatus.UNSHIPPED, OrderStatus.PENDING],
            ):
                pass
            await gateway.search_orders(
                last_updated_after=datetime.now(UTC) - timedelta(days=3),
                last_updated_before=datetime.now(UTC) - timedelta(minutes=3),
                marketplace_ids=["ATVPDKIKX0DER"],
            )

    asyncio.run(run())
    sp_api = [r for r in recorder.requests if r[1].startswith("/orders/")]
    assert len(sp_api) >= 4
    templates = {op_id: operation(model, op_id) for op_id in ("getOrder", "searchOrders")}
    for method, path, query, headers in sp_api:
        matched = [
            op
            for template, op in templates.values()
            if method.lower() in model["paths"][template]
            and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path)
        ]
        assert len(matched) == 1, path
        params = {p["name"]: p for p in matched[0]["parameters"]}
        names = [name for name, _ in query]
        assert len(names) == len(set(names)), f"repeated parameter in {query}"
        for name, value in query:
            assert name in params and params[name]["in"] == "query", f"undeclared parameter {name}"
            _check_parameter(params[name], value)
        required = {n for n, p in params.items() if p.get("required") and p["in"] == "query"}
        assert required <= set(names)
        assert headers.get("x-amz-access-token", "").startswith("Atza|")
        assert headers.get("host") == server.url.removeprefix("https://")


def _sandbox_responses(op: dict[str, Any], status: str) -> list[Any]:
    response = op["responses"][status]
    found = [case["response"] for case in response.get("x-amzn-api-sandbox", {}).get("static", [])]
    found += list(response.get("examples", {}).values())
    return found


def test_sandbox_examples_parse_through_models_and_translation(model: dict[str, Any]) -> None:
    _, get_op = operation(model, "getOrder")
    _, search_op = operation(model, "searchOrders")
    orders = [GetOrderResponse.model_validate(doc).order for doc in _sandbox_responses(get_op, "200")]
    orders += [
        o
        for doc in _sandbox_responses(search_op, "200")
        for o in SearchOrdersResponse.model_validate(doc).orders
    ]
    assert len(orders) >= 4
    for order in orders:
        canonical = order_from_v2026(order, seller_id="A1SELLER")
        assert canonical.order_id == order.order_id and canonical.lines
        assert all(line.unit_price.currency == canonical.currency for line in canonical.lines)


def test_sandbox_error_examples_become_bad_requests(model: dict[str, Any]) -> None:
    _, op = operation(model, "searchOrders")
    for body in _sandbox_responses(op, "400"):
        import json

        error = error_from_response(400, json.dumps(body), {}, "searchOrders")
        assert isinstance(error, BadRequest) and error.code == body["errors"][0]["code"]
