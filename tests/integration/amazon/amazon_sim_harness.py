"""The Amazon simulator as the integration tests use it: a running HTTPS server and matching settings."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from m3amazon.amazon.gateway import AmazonGateway, RetryPolicy
from m3amazon.config import AmazonSettings
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.server import RunningServer
from m3amazon.sim.tls import LocalTLS

MARKETPLACES = ["ATVPDKIKX0DER", "A1PA6795UKMFR9", "A1F83G8C2ARO7P"]
#: Retries without real waiting, so throttling and 5xx tests take milliseconds.
FAST = RetryPolicy(throttle_retries=20, server_retries=3, base_delay_s=0.01, max_delay_s=0.05)


@dataclass
class AmazonSim:
    account: SellerAccount
    server: RunningServer
    tls: LocalTLS

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def verify(self) -> ssl.SSLContext:
        """An SSL context trusting the local CA (for httpx calls to the control plane)."""
        return ssl.create_default_context(cafile=str(self.tls.ca_cert))

    def settings(self, **overrides: Any) -> AmazonSettings:
        values: dict[str, Any] = {
            "endpoint": self.url,
            "lwa_token_url": self.url + "/auth/o2/token",
            "ca_bundle": self.tls.ca_cert,
            "lwa_client_id": self.account.client_id,
            "lwa_client_secret": SecretStr(self.account.client_secret),
            "refresh_token": SecretStr(self.account.refresh_token),
            "seller_id": self.account.seller_id,
            "marketplaces": list(self.account.marketplaces),
        }
        return AmazonSettings(**(values | overrides))

    def gateway(self, retry: RetryPolicy = FAST, **overrides: Any) -> AmazonGateway:
        return AmazonGateway(self.settings(**overrides), retry=retry, seed=1)

    def faults(self, **plan: Any) -> None:
        """Set the simulator's injected faults (POST /_sim/faults); no argument clears them."""
        httpx.post(self.url + "/_sim/faults", json=plan, verify=self.verify, timeout=10).raise_for_status()
