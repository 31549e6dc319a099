"""The Amazon simulator's rules, exercised in process (FastAPI TestClient, no sockets)."""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from m3amazon.canonical import OrderStatus
from m3amazon.sim.amazon.app import create_app
from m3amazon.sim.amazon.faults import SERVED, usage_plans
from m3amazon.sim.amazon.notify import ListPublisher
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount

if TYPE_CHECKING:
    from starlette.testclient import TestClient

SEARCH = "/orders/2026-01-01/orders"


def make_client(app: Any) -> TestClient:
    """Starlette's TestClient, imported without its 'use httpx2' deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    return TestClient(app)


@pytest.fixture
def account() -> SellerAccount:
    account = SellerAccount(
        marketplaces=["ATVPDKIKX0DER", "A1PA6795UKMFR9", "A1RKKUPIHCS9HS", "A1F83G8C2ARO7P"]
    )
    generate_orders(account, 25, seed=11, afn_share=0.4)
    return account


@pytest.fixture
def client(account: SellerAccount) -> Iterator[TestClient]:
    with make_client(create_app(account, publisher=ListPublisher(), rate_limits=False)) as client:
        yield client


def lwa_form(account: SellerAccount, **overrides: str) -> dict[str, str]:
    """A valid refresh-token grant for `account`, with `overrides` applied."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": account.refresh_token,
        "client_id": account.client_id,
        "client_secret": account.client_secret,
    }
    return form | overrides


def token(client: TestClient, account: SellerAccount, **form: str) -> str:
    response = client.post("/auth/o2/token", data=lwa_form(account, **form))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    return str(body["access_token"])


def since(hours: int = 72) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"refresh_token": "Atzr|stolen"}, 400, "invalid_grant"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "scope": "sellingpartnerapi::everything"},
            400,
            "invalid_scope",
        ),
        ({"grant_type": ""}, 400, "invalid_request"),
    ],
)
def test_lwa_refuses_bad_grants(
    client: TestClient, account: SellerAccount, form: dict, status: int, error: str
) -> None:
    response = client.post("/auth/o2/token", data=lwa_form(account, **form))
    assert response.status_code == status and response.json()["error"] == error
    assert response.json()["error_description"]


@pytest.mark.parametrize("kind", ["missing", "unknown", "expired", "grantless"])
def test_sp_api_refuses_bad_tokens_with_403(client: TestClient, account: SellerAccount, kind: str) -> None:
    headers = {}
    if kind == "unknown":
        headers["x-amz-access-token"] = "Atza|made-up"
    elif kind == "expired":
        headers["x-amz-access-token"] = token(client, account)
        account.expire_tokens()
    elif kind == "grantless":
        headers["x-amz-access-token"] = token(
            client, account, grant_type="client_credentials", scope="sellingpartnerapi::notifications"
        )
    response = client.get(f"{SEARCH}/{account.orders()[0].order_id}", headers=headers)
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["code"] == "Unauthorized" and error["message"] and error["details"]
    assert response.headers["x-amzn-RequestId"]


def test_get_order_respects_included_data(client: TestClient, account: SellerAccount) -> None:
    headers = {"x-amz-access-token": token(client, account)}
    order_id = account.orders()[0].order_id
    bare = client.get(f"{SEARCH}/{order_id}", headers=headers)
    assert bare.status_code == 200 and bare.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert set(bare.json()["order"]) <= {
        "orderId",
        "createdTime",
        "lastUpdatedTime",
        "salesChannel",
        "orderItems",
        "programs",
    }
    full = client.get(
        f"{SEARCH}/{order_id}",
        headers=headers,
        params={"includedData": "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT"},
    ).json()["order"]
    assert {"buyer", "recipient", "proceeds", "fulfillment"} <= set(full)
    repeated = client.get(f"{SEARCH}/{order_id}?includedData=BUYER&includedData=FULFILLMENT", headers=headers)
    assert {"buyer", "fulfillment"} <= set(repeated.json()["order"]) and "recipient" not in repeated.json()[
        "order"
    ]


def test_unknown_order_is_404_with_the_error_body(client: TestClient, account: SellerAccount) -> None:
    response = client.get(
        f"{SEARCH}/999-0000000-0000000", headers={"x-amz-access-token": token(client, account)}
    )
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "NotFound"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"createdAfter": "2026-01-01T00:00:00Z", "lastUpdatedAfter": "2026-01-01T00:00:00Z"},
        {"createdAfter": "2026-01-01T00:00:00Z", "lastUpdatedBefore": "2026-01-02T00:00:00Z"},
        {"createdAfter": "yesterday"},
        {"createdAfter": "2026-01-01T00:00:00Z", "createdBefore": "NOW"},  # filled in when the test runs
        {"createdAfter": "2026-01-01T00:00:00Z", "maxResultsPerPage": "0"},
        {"createdAfter": "2026-01-01T00:00:00Z", "maxResultsPerPage": "101"},
        {"createdAfter": "2026-01-01T00:00:00Z", "fulfillmentStatuses": "LOST"},
        {"createdAfter": "2026-01-01T00:00:00Z", "includedData": "EVERYTHING"},
        {"createdAfter": "2026-01-01T00:00:00Z", "MarketplaceId": "ATVPDKIKX0DER"},
        {"createdAfter": "2026-01-01T00:00:00Z", "paginationToken": "garbage"},
    ],
)
def test_search_parameter_rules(client: TestClient, account: SellerAccount, params: dict) -> None:
    params = {k: datetime.now(UTC).isoformat() if v == "NOW" else v for k, v in params.items()}
    response = client.get(SEARCH, params=params, headers={"x-amz-access-token": token(client, account)})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["code"] == "InvalidInput"


def test_search_filters_and_pages(client: TestClient, account: SellerAccount) -> None:
    headers = {"x-amz-access-token": token(client, account)}
    params = {
        "createdAfter": since(),
        "marketplaceIds": "ATVPDKIKX0DER,A1PA6795UKMFR9",
        "fulfilledBy": "MERCHANT",
        "maxResultsPerPage": "4",
        "includedData": "FULFILLMENT",
    }
    seen: list[str] = []
    body = client.get(SEARCH, params=params, headers=headers).json()
    assert "createdBefore" in body
    while True:
        seen += [o["orderId"] for o in body["orders"]]
        assert all(o["fulfillment"]["fulfilledBy"] == "MERCHANT" for o in body["orders"])
        assert all(o["salesChannel"]["marketplaceId"] in params["marketplaceIds"] for o in body["orders"])
        if "pagination" not in body:
            break
        changed = client.get(
            SEARCH,
            params={**params, "fulfilledBy": "AMAZON", "paginationToken": body["pagination"]["nextToken"]},
            headers=headers,
        )
        assert changed.status_code == 400  # the token belongs to the first request's filters
        body = client.get(
            SEARCH, params={**params, "paginationToken": body["pagination"]["nextToken"]}, headers=headers
        ).json()
    expected = {
        o.order_id
        for o in account.orders()
        if o.channel.value == "MERCHANT" and o.marketplace_id in params["marketplaceIds"]
    }
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_empty_bucket_answers_429(account: SellerAccount) -> None:
    with make_client(create_app(account, rate_limits={"getOrder": (0.001, 2)})) as client:
        headers = {"x-amz-access-token": token(client, account)}
        url = f"{SEARCH}/{account.orders()[0].order_id}"
        statuses = [client.get(url, headers=headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        throttled = client.get(url, headers=headers)
        assert throttled.json()["errors"][0]["code"] == "QuotaExceeded"
        assert "x-amzn-RateLimit-Limit" not in throttled.headers and throttled.headers["x-amzn-RequestId"]
        assert client.get("/_sim/stats").json()["throttled"]["getOrder"] == 2


def test_time_scale_speeds_up_refill(account: SellerAccount) -> None:
    with make_client(create_app(account, time_scale=100)) as client:
        headers = {"x-amz-access-token": token(client, account)}
        response = client.get(f"{SEARCH}/{account.orders()[0].order_id}", headers=headers)
        assert response.headers["x-amzn-RateLimit-Limit"] == "50"


def test_faults_and_control_plane(client: TestClient, account: SellerAccount) -> None:
    headers = {"x-amz-access-token": token(client, account)}
    url = f"{SEARCH}/{account.orders()[0].order_id}"
    assert client.post("/_sim/faults", json={"fail_next": [503, 500]}).status_code == 200
    assert [client.get(url, headers=headers).status_code for _ in range(3)] == [503, 500, 200]
    assert client.post("/_sim/faults", json={"error_rates": {"500": 2}}).status_code == 400
    assert client.post("/_sim/faults", json={}).json()["injected"] == 0

    result = client.post("/_sim/scenario", json={"orders": 5, "seed": 3, "duplicate_share": 1.0}).json()
    assert result["orders_generated"] == 5 and result["notifications_sent"] == 10
    assert all(re.fullmatch(r"\d{3}-\d{7}-\d{7}", i) for i in result["order_ids"])

    changed = client.post(f"/_sim/orders/{result['order_ids'][0]}/status", json={"status": "SHIPPED"})
    assert changed.json()["status"] == "SHIPPED" and changed.json()["notifications_sent"] == 1
    assert client.post("/_sim/orders/nope/status", json={"status": "SHIPPED"}).status_code == 404
    assert (
        client.post(f"/_sim/orders/{result['order_ids'][0]}/status", json={"status": "LOST"}).status_code
        == 400
    )

    stats = client.get("/_sim/stats").json()
    assert (
        stats["calls"]["getOrder"] == 3 and stats["tokens_issued"] == 1 and stats["notifications_sent"] == 11
    )
    assert stats["orders"] == 30


def test_usage_plans_come_from_the_derived_operations_table() -> None:
    plans = usage_plans()
    assert plans["getOrder"] == (0.5, 30) and plans["searchOrders"] == (0.0056, 20)
    assert plans["confirmShipment"] == (2.0, 10) and plans["listTransactions"] == (0.5, 10)
    assert set(plans) == set(SERVED)


def test_the_ticker_moves_the_world_on_its_own() -> None:
    account = SellerAccount(marketplaces=["ATVPDKIKX0DER"])
    ids = generate_orders(account, 3, seed=5, afn_share=1.0, pending_share=1.0)
    with make_client(create_app(account, rate_limits=False, tick_interval_s=0.02)):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            account.get_order(i).status is not OrderStatus.SHIPPED  # type: ignore[union-attr]
            for i in ids
        ):
            time.sleep(0.01)
    assert all(account.get_order(i).status is OrderStatus.SHIPPED for i in ids)  # type: ignore[union-attr]
