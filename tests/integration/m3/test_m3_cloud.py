"""MIClient in cloud mode: .ionapi file, OAuth2 password grant, bearer calls, 401 renewal, revoke."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from m3_sim_support import Sim, order_plan

from m3amazon.m3.errors import MIError
from m3amazon.m3.orders import ensure_customer_order


def test_cloud_mode_fetches_one_token_and_revokes_it(sim: Sim) -> None:
    async def scenario():
        client = sim.cloud()
        user = await client.ping()
        ensured = await ensure_customer_order(client, order_plan(sim, "111-0000001-0000001"), settle_s=0)
        active_before_close = sim.stats()["tokens_active"]
        await client.aclose()
        return user, ensured, client.stats, active_before_close

    user, ensured, stats, active = asyncio.run(scenario())
    assert user == "M3SRVADM"
    assert ensured.created
    assert stats.token_requests == 1
    assert active == 1
    assert sim.stats()["tokens_active"] == 0


def test_a_rejected_token_is_fetched_again_once(sim: Sim) -> None:
    async def scenario():
        async with sim.cloud() as client:
            await client.ping()
            httpx.post(f"{sim.url}/_sim/tokens/expire").raise_for_status()
            await client.ping()
            return client.stats

    stats = asyncio.run(scenario())
    assert stats.token_requests == 2
    assert stats.round_trips == 3  # ping, refused ping, ping with the new token


def test_wrong_service_account_secret_is_a_permanent_error(sim: Sim) -> None:
    async def scenario() -> None:
        async with sim.cloud(sask="not-the-secret") as client:
            await client.ping()

    with pytest.raises(MIError) as caught:
        asyncio.run(scenario())
    assert caught.value.error_type == "Authentication" and not caught.value.transient
    assert "not-the-secret" not in str(caught.value)


def test_onprem_credentials_do_not_open_the_cloud_routes(sim: Sim) -> None:
    response = httpx.get(
        f"{sim.url}/ACME_TST/M3/m3api-rest/v2/execute/OIS100MI/GetCurrentUser", auth=("M3SRVADM", "demo")
    )
    assert response.status_code == 401
