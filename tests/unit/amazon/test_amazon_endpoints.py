"""Endpoint resolution: overrides, then sandbox, then the region."""

from __future__ import annotations

from m3amazon.amazon.endpoints import LWA_TOKEN_URL, marketplace_currency, resolve_endpoints
from m3amazon.config import AmazonSettings


def test_region_defaults() -> None:
    eu = resolve_endpoints(AmazonSettings(region="EU"))
    assert eu.endpoint == "https://sellingpartnerapi-eu.amazon.com"
    assert eu.lwa_token_url == LWA_TOKEN_URL and eu.aws_region == "eu-west-1" and not eu.overridden
    assert (
        resolve_endpoints(AmazonSettings(region="FE")).endpoint == "https://sellingpartnerapi-fe.amazon.com"
    )


def test_sandbox_hosts() -> None:
    na = resolve_endpoints(AmazonSettings(region="NA", sandbox=True))
    assert na.endpoint == "https://sandbox.sellingpartnerapi-na.amazon.com" and na.sandbox


def test_explicit_overrides_win_over_sandbox_and_region() -> None:
    settings = AmazonSettings(
        region="EU",
        sandbox=True,
        endpoint="https://127.0.0.1:8443/",
        lwa_token_url="https://127.0.0.1:8443/auth/o2/token",
    )
    resolved = resolve_endpoints(settings)
    assert resolved.endpoint == "https://127.0.0.1:8443"
    assert resolved.lwa_token_url == "https://127.0.0.1:8443/auth/o2/token"
    assert resolved.overridden


def test_marketplace_currency() -> None:
    assert marketplace_currency("A1PA6795UKMFR9") == "EUR"
    assert marketplace_currency("A1VC38T7YXB528") == "JPY"
    assert marketplace_currency("nope") is None and marketplace_currency(None) is None
