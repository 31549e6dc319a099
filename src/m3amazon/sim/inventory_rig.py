"""The inventory sync wired to the simulators on loopback, for its tests and its benchmark.

`Rig.start` gives a SQLite database with the product's tables, the Amazon simulator over HTTPS
(no usage-plan throttling, fast simulated time, the governor's plans raised), the M3 simulator
seeded from the same catalog (or, with `with_m3=False` for catalogs too big to seed quickly, no M3
and the SKU -> item table in the mappings instead), and an `InventorySync` built the way the
service builds it (`flows.inventory.build_sync`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from m3amazon.amazon.gateway import AmazonGateway, RetryPolicy
from m3amazon.config import Settings
from m3amazon.flows.inventory import build_sync
from m3amazon.flows.inventory_push import InventorySync
from m3amazon.m3.client import MIClient
from m3amazon.m3.client import RetryPolicy as MIRetry
from m3amazon.mapping import Mappings, load_mappings
from m3amazon.ops import db
from m3amazon.sim.amazon.app import create_app as create_amazon
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.catalog import MARKETPLACES, CatalogItem, build_catalog
from m3amazon.sim.m3.app import create_app as create_m3
from m3amazon.sim.m3.store import SimStore
from m3amazon.sim.server import RunningServer, serve_in_thread
from m3amazon.sim.tls import LocalTLS

US, CA = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"
FAST = RetryPolicy(throttle_retries=20, server_retries=3, base_delay_s=0.01, max_delay_s=0.05)
RAISED = {"rate": 10_000, "burst": 10_000}
#: The operations the inventory sync calls, with their usage plans raised (the simulator does not
#: throttle either): tests and the benchmark measure the product, not Amazon's pacing.
RAISED_OPERATIONS = (
    "getListingsItem",
    "patchListingsItem",
    "createFeedDocument",
    "createFeed",
    "getFeed",
    "getFeedDocument",
    "getInventorySummaries",
)


@dataclass
class Rig:
    tmp: Path
    tls: LocalTLS
    catalog: list[CatalogItem]
    account: SellerAccount
    amazon: RunningServer
    store: SimStore | None
    m3_server: RunningServer | None
    engine: Engine
    settings: Settings
    mappings: Mappings
    gateway: AmazonGateway
    m3: MIClient | None
    sync: InventorySync

    @classmethod
    def start(
        cls,
        tmp: Path,
        tls: LocalTLS,
        *,
        catalog_size: int = 12,
        marketplaces: tuple[str, ...] = (US, CA),
        inventory: dict[str, Any] | None = None,
        mappings: Mappings | None = None,
        with_m3: bool = True,
    ) -> Rig:
        catalog = build_catalog(size=catalog_size)
        account = SellerAccount(marketplaces=marketplaces, catalog=catalog)
        amazon = serve_in_thread(
            create_amazon(account, rate_limits=False, time_scale=1000.0),
            tls=(tls.server_cert, tls.server_key),
            name="amazon-sim",
        )
        store = m3_server = None
        if with_m3:
            store = SimStore(tmp / "m3sim.sqlite")
            store.seed_from_catalog(catalog, {m: MARKETPLACES[m] for m in marketplaces})
            m3_server = serve_in_thread(create_m3(store), name="m3-sim")
        database_url = f"sqlite:///{tmp / 'm3amazon.sqlite'}"
        engine = db.create_engine(database_url)
        db.create_tables(engine)
        settings = Settings(
            database_url=database_url,
            amazon={
                "endpoint": amazon.url,
                "lwa_token_url": amazon.url + "/auth/o2/token",
                "ca_bundle": tls.ca_cert,
                "lwa_client_id": account.client_id,
                "lwa_client_secret": account.client_secret,
                "refresh_token": account.refresh_token,
                "seller_id": account.seller_id,
                "marketplaces": list(marketplaces),
                "governor": {"plans": {op: RAISED for op in RAISED_OPERATIONS}},
            },
            m3={"base_url": m3_server.url if m3_server else "http://127.0.0.1:9"},
            inventory=inventory or {},
        )
        mappings = mappings or load_mappings()
        if not with_m3:
            items = mappings.items.model_copy(update={"sku_to_item": {c.sku: c.item_number for c in catalog}})
            mappings = mappings.model_copy(update={"items": items})
        gateway = AmazonGateway(settings.amazon, retry=FAST, seed=1)
        m3 = None
        if with_m3:
            no_wait = MIRetry(attempts=3, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0)
            m3 = MIClient(settings.m3, retry=no_wait)
        sync = build_sync(engine, settings, mappings, gateway, m3)
        return cls(
            tmp,
            tls,
            catalog,
            account,
            amazon,
            store,
            m3_server,
            engine,
            settings,
            mappings,
            gateway,
            m3,
            sync,
        )

    async def aclose(self) -> None:
        await self.gateway.aclose()
        if self.m3 is not None:
            await self.m3.aclose()
        self.amazon.stop()
        if self.m3_server is not None:
            self.m3_server.stop()
        if self.store is not None:
            self.store.close()
        self.engine.dispose()

    # -- looking at the simulators ----------------------------------------------------------

    def amazon_quantity(self, sku: str, marketplace: str = US) -> int | None:
        listing = self.account.listings.get(sku, marketplace)
        return None if listing is None else listing.mfn_quantity

    def tick(self, steps: int = 3) -> None:
        verify = ssl.create_default_context(cafile=str(self.tls.ca_cert))
        httpx.post(
            self.amazon.url + "/_sim/tick", json={"steps": steps}, verify=verify, timeout=300
        ).raise_for_status()

    def set_m3_balance(self, item: CatalogItem, on_hand: int | Decimal, whlo: str = "100") -> None:
        assert self.store is not None, "started without M3"
        self.store.set_balance(whlo, item.item_number, on_hand)
