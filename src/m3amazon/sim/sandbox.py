"""The whole outside world on loopback: SQS (moto), the Amazon simulator (HTTPS) and the M3 simulator.

The demo, the end-to-end tests and the benchmarks start a `Sandbox`, then run the product against
it with `sandbox.settings(...)` (in process) or `sandbox.config(...)` (a YAML-ready dict for a
worker subprocess). Both simulators are seeded from the same catalog, so every Amazon SKU has its
M3 item and alias, and every marketplace its M3 customer.
"""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from m3amazon.config import Settings
from m3amazon.sim.amazon.app import create_app as create_amazon_app
from m3amazon.sim.amazon.notify import PacedSqsPublisher, SqsPublisher
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.catalog import MARKETPLACES, build_catalog
from m3amazon.sim.m3.app import Faults
from m3amazon.sim.m3.app import create_app as create_m3_app
from m3amazon.sim.m3.ionapi import write_ionapi
from m3amazon.sim.m3.store import SimStore
from m3amazon.sim.server import RunningServer, serve_in_thread
from m3amazon.sim.sqs import SqsServer
from m3amazon.sim.tls import LocalTLS

#: The M3 user the simulator accepts (basic auth, on-premises mode).
M3_USER, M3_PASSWORD = "M3SRVADM", "demo"
#: The ION API client and service account the simulator accepts (cloud mode, .ionapi file).
ION_TENANT = "SIM"
ION_CLIENT = ("SIM~m3amazon", "sim-client-secret", "SIM#m3amazon", "sim-service-secret")
#: The bearer token the M3 simulator (standing in for ION) presents on our IMS endpoints.
IMS_TOKEN = "sandbox-ims-token"


@dataclass
class Sandbox:
    workdir: Path
    tls: LocalTLS
    sqs: SqsServer
    queue_url: str
    account: SellerAccount
    amazon: RunningServer
    m3_store: SimStore
    m3: RunningServer
    _stopped: bool = field(default=False, repr=False)

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        marketplaces: tuple[str, ...] = tuple(MARKETPLACES),
        catalog_size: int = 40,
        amazon_rate_limits: bool = True,
        amazon_time_scale: float = 60.0,
        m3_faults: Faults | None = None,
        tls_dir: Path | None = None,
        paced_depth: int | None = None,
        m3_unknown_skus: tuple[str, ...] = (),
    ) -> Sandbox:
        """Start all three servers on free loopback ports. `tls_dir` keeps the local CA between runs;
        `paced_depth` makes the Amazon simulator hold notifications back while the queue is that deep;
        `m3_unknown_skus` are catalog SKUs that M3 gets no item or alias for."""
        workdir.mkdir(parents=True, exist_ok=True)
        tls = LocalTLS.ensure(tls_dir or workdir / "tls")
        catalog = build_catalog(size=catalog_size)
        sqs = SqsServer().start()
        queue_url = sqs.create_queue(f"sp-api-notifications-{uuid.uuid4().hex[:8]}", visibility_timeout_s=120)
        account = SellerAccount(marketplaces=marketplaces, catalog=catalog)
        amazon_app = create_amazon_app(
            account,
            publisher=(
                PacedSqsPublisher(sqs.url, queue_url, sqs.region, max_depth=paced_depth)
                if paced_depth
                else SqsPublisher(sqs.url, queue_url, sqs.region)
            ),
            rate_limits=amazon_rate_limits,
            time_scale=amazon_time_scale,
        )
        amazon = serve_in_thread(amazon_app, tls=(tls.server_cert, tls.server_key), name="amazon-sim")
        m3_path = workdir / "m3-simulator.sqlite"
        for leftover in workdir.glob("m3-simulator.sqlite*"):
            leftover.unlink()
        store = SimStore(m3_path)
        store.seed_from_catalog(
            catalog, {m: MARKETPLACES[m] for m in marketplaces}, skip_skus=m3_unknown_skus
        )
        m3 = serve_in_thread(
            create_m3_app(store, users={M3_USER: M3_PASSWORD}, faults=m3_faults, ionapi_client=ION_CLIENT),
            name="m3-sim",
        )
        return cls(workdir, tls, sqs, queue_url, account, amazon, store, m3)

    # -- wiring the product to it ------------------------------------------------------
    def config(self, database_url: str, *, visibility_timeout_s: int = 120, **engine: Any) -> dict[str, Any]:
        """Settings as a plain dict (what a YAML config file for a worker subprocess holds)."""
        return {
            "database_url": database_url,
            "amazon": {
                "region": "NA",
                "seller_id": self.account.seller_id,
                "marketplaces": list(self.account.marketplaces),
                "endpoint": self.amazon.url,
                "lwa_token_url": f"{self.amazon.url}/auth/o2/token",
                "ca_bundle": str(self.tls.ca_cert),
                "lwa_client_id": self.account.client_id,
                "lwa_client_secret": self.account.client_secret,
                "refresh_token": self.account.refresh_token,
                "sqs": {
                    "queue_url": self.queue_url,
                    "endpoint_url": self.sqs.url,
                    "region": self.sqs.region,
                    "access_key_id": "sandbox",
                    "secret_access_key": "sandbox",
                    "wait_time_s": 1,
                    "visibility_timeout_s": visibility_timeout_s,
                },
            },
            "m3": {
                "mode": "onprem",
                "base_url": self.m3.url,
                "username": M3_USER,
                "password": M3_PASSWORD,
                "ion": {"inbound_token": IMS_TOKEN},
            },
            "engine": engine,
        }

    def write_ionapi(self, path: Path) -> Path:
        """A .ionapi file for this M3 simulator (cloud mode)."""
        write_ionapi(path, self.m3.url, ION_TENANT, *ION_CLIENT)
        return path

    def settings(self, database_url: str, **engine: Any) -> Settings:
        return Settings(**self.config(database_url, **engine))

    # -- driving it ----------------------------------------------------------------------
    def generate(
        self,
        orders: int,
        *,
        seed: int = 1,
        duplicate_share: float = 0.0,
        afn_share: float = 0.3,
        unfit_address_share: float = 0.0,
    ) -> dict[str, Any]:
        """New Amazon orders and their ORDER_CHANGE notifications (some delivered twice)."""
        body = {
            "orders": orders,
            "seed": seed,
            "duplicate_share": duplicate_share,
            "afn_share": afn_share,
            "unfit_address_share": unfit_address_share,
        }
        with httpx.Client(
            verify=ssl.create_default_context(cafile=str(self.tls.ca_cert)), timeout=120
        ) as client:
            response = client.post(f"{self.amazon.url}/_sim/scenario", json=body)
            response.raise_for_status()
            return dict(response.json())

    def m3_stats(self) -> dict[str, Any]:
        return self.m3_store.stats()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.amazon.stop()
        self.m3.stop()
        self.sqs.stop()
        self.m3_store.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
