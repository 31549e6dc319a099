"""Gateway pieces that need no server: error mapping, retry delays, client construction."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from m3amazon.amazon.errors import (
    AmazonApiError,
    AuthError,
    BadRequest,
    NotFound,
    Throttled,
    Unavailable,
    error_from_response,
)
from m3amazon.amazon.gateway import AmazonGateway, RetryPolicy
from m3amazon.config import AmazonSettings

BODY = '{"errors":[{"code":"InvalidInput","message":"Invalid Input","details":"createdAfter"}]}'


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (429, Throttled),
        (500, Unavailable),
        (502, Unavailable),
        (503, Unavailable),
        (504, Unavailable),
        (409, AmazonApiError),
        (599, Unavailable),
    ],
)
def test_status_decides_the_error_type(status: int, kind: type[AmazonApiError]) -> None:
    error = error_from_response(
        status, BODY, {"x-amzn-RequestId": "r-1", "x-amzn-RateLimit-Limit": "0.5"}, "getOrder"
    )
    assert type(error) is kind
    assert (error.code, error.message, error.details) == ("InvalidInput", "Invalid Input", "createdAfter")
    assert (error.request_id, error.rate_limit, error.operation) == ("r-1", 0.5, "getOrder")
    assert "r-1" in str(error) and "getOrder" in str(error)


def test_bodies_that_are_not_the_error_shape_still_give_a_typed_error() -> None:
    html = error_from_response(503, b"<html>Service Unavailable</html>", {}, "searchOrders")
    assert isinstance(html, Unavailable) and html.code == "HTTP503" and "Service Unavailable" in html.message
    empty = error_from_response(404, b"", {}, None)
    assert isinstance(empty, NotFound) and empty.message == "no error body"
    odd = error_from_response(400, '{"errors": "nope"}', {"x-amzn-RateLimit-Limit": "fast"}, None)
    assert isinstance(odd, BadRequest) and odd.rate_limit is None


def test_retry_delays_grow_are_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay_s=1, max_delay_s=8)
    rng = random.Random(0)
    delays = [[policy.delay(attempt, rng) for _ in range(50)] for attempt in range(6)]
    assert all(0.5 <= d <= 1 for d in delays[0]) and all(4 <= d <= 8 for d in delays[5])
    assert len({round(d, 6) for d in delays[5]}) > 1


def settings(**overrides: Any) -> AmazonSettings:
    values: dict[str, Any] = {
        "lwa_client_id": "id",
        "lwa_client_secret": SecretStr("secret"),
        "refresh_token": SecretStr("Atzr|x"),
        "region": "EU",
    }
    return AmazonSettings(**(values | overrides))


def test_client_targets_our_endpoint_even_with_the_library_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SP_API_DEFAULT_MARKETPLACE", "JP")
    gateway = AmazonGateway(settings(marketplaces=["A1PA6795UKMFR9"]))
    client = gateway._orders
    assert client.endpoint == "https://sellingpartnerapi-eu.amazon.com"
    assert client.marketplace_id == "A1PA6795UKMFR9" and client.version == "2026-01-01"
    assert "secret" not in repr(gateway) and "Atzr" not in repr(gateway)
    assert gateway.tokens.token_url == "https://api.amazon.com/auth/o2/token"
    asyncio.run(gateway.aclose())


def test_included_data_always_has_fulfillment() -> None:
    gateway = AmazonGateway(settings(order_included_data=["BUYER", "BUYER"]))
    assert gateway._included_data() == ["BUYER", "FULFILLMENT"]
    asyncio.run(gateway.aclose())


def test_missing_credentials_and_bad_search_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="lwa_client_id"):
        AmazonGateway(AmazonSettings())
    gateway = AmazonGateway(settings())

    async def run() -> None:
        with pytest.raises(ValueError, match="exactly one"):
            await gateway.search_orders()
        with pytest.raises(ValueError, match="max_results"):
            await gateway.search_orders(created_after=datetime.now(UTC), max_results=101)
        with pytest.raises(ValueError, match="naive"):
            await gateway.search_orders(created_after=datetime(2026, 1, 1))
        await gateway.aclose()

    asyncio.run(run())
