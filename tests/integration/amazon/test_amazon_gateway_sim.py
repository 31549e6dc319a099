"""AmazonGateway against the Amazon simulator over HTTPS: orders, paging, throttling, errors, tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from amazon_sim_harness import AmazonSim

from m3amazon.amazon.errors import AuthError, BadRequest, NotFound, Throttled, Unavailable
from m3amazon.amazon.gateway import RetryPolicy
from m3amazon.canonical import FulfillmentChannel, OrderStatus
from m3amazon.sim.amazon.scenario import generate_orders

StartAmazon = Callable[..., AmazonSim]


def test_get_order_returns_the_canonical_order(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    ids = generate_orders(sim.account, 5, seed=1)

    async def run() -> None:
        async with sim.gateway() as gateway:
            for order_id in ids:
                assert await gateway.get_order(order_id) == sim.account.get_order(order_id)
            assert gateway.stats.calls["getOrder"] == 5
            assert gateway.stats.rate_limits["getOrder"] == 0.5
            assert gateway.tokens.requests_made == 1

    asyncio.run(run())
    assert sim.account.stats()["tokens_issued"] == 1


def test_search_orders_pages_through_everything(start_amazon: StartAmazon) -> None:
    sim = start_amazon(time_scale=10_000)  # searchOrders refills at 0.0056/s otherwise
    ids = generate_orders(sim.account, 23, seed=2, afn_share=0.5)
    since = datetime.now(UTC) - timedelta(days=3)

    async def run() -> None:
        async with sim.gateway() as gateway:
            pages = [p async for p in gateway.search_pages(created_after=since, max_results=5)]
            assert [len(p.orders) for p in pages] == [5, 5, 5, 5, 3]
            assert [o.order_id for p in pages for o in p.orders] == sorted(
                ids,
                key=lambda i: (sim.account.get_order(i).created_at, i),  # type: ignore[union-attr]
            )
            afn = await gateway.search_orders(
                created_after=since,
                marketplace_ids=["ATVPDKIKX0DER"],
                fulfillment_statuses=[OrderStatus.UNSHIPPED],
            )
            assert afn.next_token is None and afn.rejected == []
            assert {o.order_id for o in afn.orders} == {
                o.order_id for o in sim.account.orders() if o.marketplace_id == "ATVPDKIKX0DER"
            }
            assert all(o.channel in FulfillmentChannel for o in afn.orders)

    asyncio.run(run())


def test_search_by_last_update(start_amazon: StartAmazon) -> None:
    sim = start_amazon(time_scale=10_000)
    ids = generate_orders(sim.account, 4, seed=3)
    sim.account.set_status(ids[0], OrderStatus.SHIPPED, at=datetime.now(UTC) - timedelta(minutes=3))

    async def run() -> None:
        async with sim.gateway() as gateway:
            page = await gateway.search_orders(last_updated_after=datetime.now(UTC) - timedelta(minutes=4))
            assert [(o.order_id, o.status) for o in page.orders] == [(ids[0], OrderStatus.SHIPPED)]

    asyncio.run(run())


def test_exhausted_bucket_429s_are_retried_transparently(start_amazon: StartAmazon) -> None:
    sim = start_amazon(rate_limits={"getOrder": (20.0, 2)})
    ids = generate_orders(sim.account, 8, seed=4)

    async def run() -> None:
        async with sim.gateway() as gateway:
            orders = await asyncio.gather(*(gateway.get_order(i) for i in ids))
            assert [o.order_id for o in orders] == ids
            assert gateway.stats.throttled["getOrder"] >= 1

    asyncio.run(run())
    assert sim.account.stats()["throttled_total"] >= 1


def test_throttling_beyond_the_budget_raises_throttled(start_amazon: StartAmazon) -> None:
    sim = start_amazon(rate_limits={"getOrder": (1000.0, 1)})
    ids = generate_orders(sim.account, 2, seed=5)

    async def run() -> None:
        async with sim.gateway(
            RetryPolicy(throttle_retries=2, base_delay_s=0.001, max_delay_s=0.002)
        ) as gateway:
            await gateway.get_order(ids[0])  # the governor learns the plan's 1000/s from the header
            httpx.post(
                sim.url + "/_sim/faults", json={"error_rates": {"429": 1.0}}, verify=sim.verify
            ).raise_for_status()
            with pytest.raises(Throttled) as caught:
                await gateway.get_order(ids[1])
            assert caught.value.code == "QuotaExceeded" and caught.value.request_id
            assert gateway.stats.throttled_total == 3

    asyncio.run(run())


def test_a_plan_too_slow_to_wait_for_raises_throttled_at_once(start_amazon: StartAmazon) -> None:
    sim = start_amazon(rate_limits={"getOrder": (0.001, 1)})
    ids = generate_orders(sim.account, 2, seed=5)

    async def run() -> None:
        async with sim.gateway() as gateway:
            await gateway.get_order(ids[0])
            with pytest.raises(Throttled) as caught:  # Amazon's next token is ~17 minutes away
                await gateway.get_order(ids[1])
            assert caught.value.code == "GovernorWaitTooLong"
            assert gateway.stats.throttled_total == 1

    asyncio.run(run())


def test_unknown_order_is_not_found_without_retry(start_amazon: StartAmazon) -> None:
    sim = start_amazon()

    async def run() -> None:
        async with sim.gateway() as gateway:
            with pytest.raises(NotFound) as caught:
                await gateway.get_order("111-0000000-0000000")
            assert caught.value.status == 404 and caught.value.operation == "getOrder"
            assert gateway.stats.calls["getOrder"] == 1

    asyncio.run(run())


def test_bad_request_is_raised_at_once(start_amazon: StartAmazon) -> None:
    sim = start_amazon()

    async def run() -> None:
        async with sim.gateway() as gateway:
            with pytest.raises(BadRequest):  # createdAfter in the future: Amazon refuses it
                await gateway.search_orders(created_after=datetime.now(UTC) + timedelta(days=1))
            assert gateway.stats.calls["searchOrders"] == 1

    asyncio.run(run())


def test_expired_token_is_refreshed_once(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    ids = generate_orders(sim.account, 2, seed=6)

    async def run() -> None:
        async with sim.gateway() as gateway:
            await gateway.get_order(ids[0])
            sim.account.expire_tokens()
            assert (await gateway.get_order(ids[1])).order_id == ids[1]
            assert gateway.stats.auth_retries["getOrder"] == 1
            assert gateway.tokens.requests_made == 2

    asyncio.run(run())


def test_a_token_refused_twice_is_an_auth_error(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    sim.account.token_ttl_s = -1  # every token LWA issues is already expired at the SP-API
    ids = generate_orders(sim.account, 1, seed=7)

    async def run() -> None:
        async with sim.gateway() as gateway:
            with pytest.raises(AuthError) as caught:
                await gateway.get_order(ids[0])
            assert caught.value.status == 403 and gateway.tokens.requests_made == 2

    asyncio.run(run())


def test_wrong_lwa_credentials_are_an_auth_error(start_amazon: StartAmazon) -> None:
    sim = start_amazon()

    async def run() -> None:
        async with sim.gateway(lwa_client_secret="wrong") as gateway:
            with pytest.raises(AuthError) as caught:
                await gateway.get_order("111-0000000-0000000")
            assert caught.value.code == "invalid_client"

    asyncio.run(run())


def test_server_errors_are_retried_then_raised(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    ids = generate_orders(sim.account, 1, seed=8)

    def faults(**plan: object) -> None:
        httpx.post(sim.url + "/_sim/faults", json=plan, verify=sim.verify).raise_for_status()

    async def run() -> None:
        async with sim.gateway() as gateway:
            faults(fail_next=[503, 500])
            assert (await gateway.get_order(ids[0])).order_id == ids[0]
            assert gateway.stats.server_errors["getOrder"] == 2
            faults(fail_next=[503] * 4)  # one more than the budget of 3 retries
            with pytest.raises(Unavailable) as caught:
                await gateway.get_order(ids[0])
            assert caught.value.status == 503 and caught.value.code == "ServiceUnavailable"

    asyncio.run(run())


def test_concurrent_calls_share_one_token_and_one_client(start_amazon: StartAmazon) -> None:
    sim = start_amazon()
    ids = generate_orders(sim.account, 20, seed=9)

    async def run() -> None:
        async with sim.gateway() as gateway:
            orders = await asyncio.gather(*(gateway.get_order(i) for i in ids))
            assert [o.order_id for o in orders] == ids
            assert gateway.tokens.requests_made == 1

    asyncio.run(run())


def test_default_marketplace_env_var_cannot_redirect_calls(
    start_amazon: StartAmazon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SP_API_DEFAULT_MARKETPLACE", "DE")
    sim = start_amazon()
    ids = generate_orders(sim.account, 1, seed=10)

    async def run() -> None:
        async with sim.gateway() as gateway:
            assert (await gateway.get_order(ids[0])).order_id == ids[0]

    asyncio.run(run())
