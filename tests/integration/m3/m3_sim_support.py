"""The M3 simulator on loopback, and clients and order plans for it (shared by the M3 integration tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from m3amazon.config import M3Settings
from m3amazon.m3.client import MIClient, RetryPolicy
from m3amazon.m3.orders import CustomerOrderPlan
from m3amazon.sim.catalog import MARKETPLACES, CatalogItem, build_catalog
from m3amazon.sim.m3.app import Faults, create_app
from m3amazon.sim.m3.ionapi import write_ionapi
from m3amazon.sim.m3.store import SimStore
from m3amazon.sim.server import RunningServer, serve_in_thread

TENANT = "ACME_TST"
ION_CLIENT = ("ACME_TST~client", "client-secret", "ACME_TST#service-key", "service-secret")
NO_WAIT = RetryPolicy(attempts=5, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0)
#: SKUs the simulator does not know (no item, no alias).
UNKNOWN_SKUS = ("UNKNOWN-SKU-1",)
T = TypeVar("T")


@dataclass
class Sim:
    store: SimStore
    server: RunningServer
    catalog: list[CatalogItem]
    tmp: Path

    @property
    def url(self) -> str:
        return self.server.url

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/_sim/stats").json()

    def set_faults(self, **faults: object) -> None:
        httpx.post(f"{self.url}/_sim/faults", json=faults).raise_for_status()

    def onprem(self, **overrides: object) -> MIClient:
        retry = overrides.pop("retry", NO_WAIT)
        settings = M3Settings(base_url=self.url, **overrides)
        return MIClient(settings, retry=retry)

    def cloud(self, *, sask: str = ION_CLIENT[3], **overrides: object) -> MIClient:
        path = write_ionapi(
            self.tmp / "sim.ionapi", self.url, TENANT, ION_CLIENT[0], ION_CLIENT[1], ION_CLIENT[2], sask
        )
        settings = M3Settings(mode="cloud", ionapi_file=path, **overrides)
        return MIClient(settings, retry=NO_WAIT)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    store = SimStore(tmp_path / "m3sim.sqlite")
    catalog = build_catalog(size=12)
    store.seed_from_catalog(catalog, MARKETPLACES, skip_skus=UNKNOWN_SKUS)
    app = create_app(store, faults=Faults(timeout_s=1.0), ionapi_client=ION_CLIENT)
    server = serve_in_thread(app, name="m3-sim")
    try:
        yield Sim(store, server, catalog, tmp_path)
    finally:
        server.stop()
        store.close()


def order_plan(
    sim: Sim,
    cuor: str,
    *,
    lines: int = 3,
    customer: str = "AMZUS",
    address: dict[str, str] | None = None,
    fba: bool = False,
    charges: list[dict[str, str]] | None = None,
) -> CustomerOrderPlan:
    """A seller-fulfilled (or, `fba`, Amazon-fulfilled) US order of `lines` catalog items, as the
    translator would produce it; line n orders n units, its line CUOR is `0000n`."""
    whlo = "FBA" if fba else "100"
    return CustomerOrderPlan(
        cuor=cuor,
        customer=customer,
        head={
            "ORTP": "AFN" if fba else "MFN",
            "WHLO": whlo,
            "FACI": "A01",
            "CUCD": "USD",
            "ORDT": "20260301",
        },
        charges=charges or [],
        address=address
        if address is not None
        else {
            "ADRT": "1",
            "CUNM": "Jane Doe",
            "CUA1": "1 Main Street",
            "TOWN": "Seattle",
            "PONO": "98101",
            "CSCD": "US",
            "ECAR": "WA",
        },
        lines=[
            {
                "ITNO": item.item_number,
                "ORQT": str(n + 1),
                "SAPR": str(item.price("USD")),
                "WHLO": whlo,
                "CUOR": f"{n + 1:05d}",
            }
            for n, item in enumerate(sim.catalog[:lines])
        ],
    )


def run_with_client(sim: Sim, scenario: Callable[[MIClient], Awaitable[T]]) -> T:
    """Run `scenario` with an on-premises client of the simulator, in a fresh event loop."""

    async def main() -> T:
        async with sim.onprem() as client:
            return await scenario(client)

    return asyncio.run(main())


def set_option(sim: Sim, **options: object) -> None:
    httpx.post(f"{sim.url}/_sim/options", json=options).raise_for_status()
