"""MIClient against the simulator's on-premises routes (HTTP basic auth) over loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from m3_sim_support import Sim

from m3amazon.config import M3Settings
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError
from m3amazon.m3.orders import get_customer, get_item, item_for_alias
from m3amazon.sim.catalog import MARKETPLACES, build_catalog
from m3amazon.sim.m3.app import create_app
from m3amazon.sim.m3.store import SimStore
from m3amazon.sim.server import serve_in_thread
from m3amazon.sim.tls import LocalTLS


def test_ping_names_the_m3_user(sim: Sim) -> None:
    async def scenario() -> str:
        async with sim.onprem() as client:
            return await client.ping()

    assert asyncio.run(scenario()) == "M3SRVADM"


def test_wrong_password_is_a_permanent_error(sim: Sim) -> None:
    async def scenario() -> None:
        async with sim.onprem(password="wrong") as client:
            await client.ping()

    with pytest.raises(MIError) as caught:
        asyncio.run(scenario())
    assert caught.value.error_type == "Authentication"
    assert not caught.value.transient
    assert "wrong" not in str(caught.value)


def test_master_data_reads(sim: Sim) -> None:
    item = sim.catalog[0]

    async def scenario() -> tuple:
        async with sim.onprem() as client:
            return (
                await get_customer(client, "AMZDE"),
                await get_customer(client, "NOSUCH"),
                await item_for_alias(client, item.sku, "03", "AMZN"),
                await item_for_alias(client, item.sku, "03", None),
                await item_for_alias(client, "UNKNOWN-SKU-1", "03", "AMZN"),
                await get_item(client, item.item_number),
                await get_item(client, "NOSUCHITEM"),
            )

    customer, missing, itno, unqualified, unknown_sku, found_item, missing_item = asyncio.run(scenario())
    assert customer is not None and customer["CUNO"] == "AMZDE" and customer["CUCD"] == "EUR"
    assert missing is None
    assert itno == item.item_number
    assert unqualified is None  # the alias is stored with qualifier AMZN
    assert unknown_sku is None
    assert found_item is not None and found_item["STAT"] == "20"
    assert missing_item is None


def test_bulk_returns_one_result_per_transaction_in_order(sim: Sim) -> None:
    async def scenario():
        async with sim.onprem(bulk_chunk=2) as client:
            calls = [("Get", {"ITNO": item.item_number}) for item in sim.catalog[:3]]
            calls.insert(1, ("Get", {"ITNO": "NOSUCHITEM"}))
            results = await client.bulk("MMS200MI", calls)
            return results, client.stats

    results, stats = asyncio.run(scenario())
    assert [r.ok for r in results] == [True, False, True, True]
    assert results[1].error is not None and results[1].error.field == "ITNO"
    assert results[2].records[0]["ITNO"] == sim.catalog[1].item_number
    assert stats.round_trips == 2 and stats.transactions == 4


def test_https_with_the_simulator_ca(tmp_path: Path) -> None:
    tls = LocalTLS.ensure(tmp_path / "tls")
    store = SimStore()
    store.seed_from_catalog(build_catalog(size=2), MARKETPLACES)
    server = serve_in_thread(create_app(store), tls=(tls.server_cert, tls.server_key), name="m3-sim-tls")

    async def ping(**settings: object) -> str:
        async with MIClient(M3Settings(base_url=server.url, **settings)) as client:
            return await client.ping()

    try:
        assert server.url.startswith("https://")
        assert asyncio.run(ping(ca_bundle=tls.ca_cert)) == "M3SRVADM"
        with pytest.raises(MIError) as caught:
            asyncio.run(ping())
        assert caught.value.error_type == "TLS" and not caught.value.transient
    finally:
        server.stop()
