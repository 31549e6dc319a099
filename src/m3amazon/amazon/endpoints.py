"""Where the SP-API and Login with Amazon live for a seller's region, and which marketplace is where.

Why a module of its own: the gateway, the CLI's `config check` and the simulators all need the same
answer to "which host do I call?", and the answer has two overrides (a loopback simulator, Amazon's
sandbox) that must win in one well-defined order: explicit `endpoint` / `lwa_token_url` settings
first, then the sandbox flag, then the region's production host.

LWA token URL: Amazon's SP-API documentation gives `https://api.amazon.com/auth/o2/token` for every
selling region, and both the official and the python-amazon-sp-api clients use it everywhere. LWA
also answers on regional hosts (api.amazon.co.uk, api.amazon.co.jp) per Amazon's Data Portability
pages; whether SP-API sellers of EU/FE must use them is unverified, so the default is the documented
global URL and `amazon.lwa_token_url` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass

from m3amazon.config import AmazonSettings

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
#: LWA hosts by region as listed on Amazon's Data Portability pages (not used by default).
LWA_REGIONAL_TOKEN_URLS = {
    "NA": "https://api.amazon.com/auth/o2/token",
    "EU": "https://api.amazon.co.uk/auth/o2/token",
    "FE": "https://api.amazon.co.jp/auth/o2/token",
}


@dataclass(frozen=True)
class RegionEndpoints:
    region: str
    endpoint: str
    sandbox_endpoint: str
    #: The AWS region Amazon associates with the endpoint (no longer used for signing since 2023).
    aws_region: str
    lwa_token_url: str = LWA_TOKEN_URL


REGIONS: dict[str, RegionEndpoints] = {
    "NA": RegionEndpoints(
        "NA",
        "https://sellingpartnerapi-na.amazon.com",
        "https://sandbox.sellingpartnerapi-na.amazon.com",
        "us-east-1",
    ),
    "EU": RegionEndpoints(
        "EU",
        "https://sellingpartnerapi-eu.amazon.com",
        "https://sandbox.sellingpartnerapi-eu.amazon.com",
        "eu-west-1",
    ),
    "FE": RegionEndpoints(
        "FE",
        "https://sellingpartnerapi-fe.amazon.com",
        "https://sandbox.sellingpartnerapi-fe.amazon.com",
        "us-west-2",
    ),
}


@dataclass(frozen=True)
class ResolvedEndpoints:
    """What a client actually calls, after overrides."""

    endpoint: str
    lwa_token_url: str
    aws_region: str
    region: str
    sandbox: bool
    #: True when `endpoint` came from the settings (a simulator or a proxy), not from the region.
    overridden: bool


def resolve_endpoints(settings: AmazonSettings) -> ResolvedEndpoints:
    """Endpoint and LWA URL for `settings`: explicit overrides win, then sandbox, then the region."""
    region = REGIONS[settings.region]
    default = region.sandbox_endpoint if settings.sandbox else region.endpoint
    endpoint = (settings.endpoint or default).rstrip("/")
    return ResolvedEndpoints(
        endpoint=endpoint,
        lwa_token_url=settings.lwa_token_url or region.lwa_token_url,
        aws_region=region.aws_region,
        region=region.region,
        sandbox=settings.sandbox,
        overridden=settings.endpoint is not None,
    )


@dataclass(frozen=True)
class MarketplaceInfo:
    marketplace_id: str
    country: str
    currency: str
    region: str
    domain: str


#: Amazon's marketplace ids (developer docs "Marketplace IDs"), with the currency orders are priced in.
MARKETPLACES: dict[str, MarketplaceInfo] = {
    m.marketplace_id: m
    for m in (
        MarketplaceInfo("ATVPDKIKX0DER", "US", "USD", "NA", "Amazon.com"),
        MarketplaceInfo("A2EUQ1WTGCTBG2", "CA", "CAD", "NA", "Amazon.ca"),
        MarketplaceInfo("A1AM78C64UM0Y8", "MX", "MXN", "NA", "Amazon.com.mx"),
        MarketplaceInfo("A2Q3Y263D00KWC", "BR", "BRL", "NA", "Amazon.com.br"),
        MarketplaceInfo("A1F83G8C2ARO7P", "GB", "GBP", "EU", "Amazon.co.uk"),
        MarketplaceInfo("A28R8C7NBKEWEA", "IE", "EUR", "EU", "Amazon.ie"),
        MarketplaceInfo("A1PA6795UKMFR9", "DE", "EUR", "EU", "Amazon.de"),
        MarketplaceInfo("A13V1IB3VIYZZH", "FR", "EUR", "EU", "Amazon.fr"),
        MarketplaceInfo("APJ6JRA9NG5V4", "IT", "EUR", "EU", "Amazon.it"),
        MarketplaceInfo("A1RKKUPIHCS9HS", "ES", "EUR", "EU", "Amazon.es"),
        MarketplaceInfo("A1805IZSGTT6HS", "NL", "EUR", "EU", "Amazon.nl"),
        MarketplaceInfo("AMEN7PMS3EDWL", "BE", "EUR", "EU", "Amazon.com.be"),
        MarketplaceInfo("A2NODRKZP88ZB9", "SE", "SEK", "EU", "Amazon.se"),
        MarketplaceInfo("A1C3SOZRARQ6R3", "PL", "PLN", "EU", "Amazon.pl"),
        MarketplaceInfo("A33AVAJ2PDY3EV", "TR", "TRY", "EU", "Amazon.com.tr"),
        MarketplaceInfo("A2VIGQ35RCS4UG", "AE", "AED", "EU", "Amazon.ae"),
        MarketplaceInfo("A17E79C6D8DWNP", "SA", "SAR", "EU", "Amazon.sa"),
        MarketplaceInfo("ARBP9OOSHTCHU", "EG", "EGP", "EU", "Amazon.eg"),
        MarketplaceInfo("A21TJRUUN4KGV", "IN", "INR", "EU", "Amazon.in"),
        MarketplaceInfo("AE08WJ6YKNBMC", "ZA", "ZAR", "EU", "Amazon.co.za"),
        MarketplaceInfo("A19VAU5U5O7RUS", "SG", "SGD", "FE", "Amazon.sg"),
        MarketplaceInfo("A39IBJ37TRP1C6", "AU", "AUD", "FE", "Amazon.com.au"),
        MarketplaceInfo("A1VC38T7YXB528", "JP", "JPY", "FE", "Amazon.co.jp"),
    )
}


def marketplace_currency(marketplace_id: str | None) -> str | None:
    """The currency a marketplace prices orders in, or None for an unknown marketplace."""
    info = MARKETPLACES.get(marketplace_id or "")
    return info.currency if info else None
