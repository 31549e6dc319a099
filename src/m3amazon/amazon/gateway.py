"""The Amazon gateway: the one door from the flows to the SP-API (first cut: Orders v2026-01-01).

It owns what python-amazon-sp-api leaves to its users (see docs/decisions.md):

- endpoints: resolved from settings (simulator / sandbox / region), set on the client after
  construction so `SP_API_DEFAULT_MARKETPLACE` cannot redirect calls;
- tokens: our `LwaTokenProvider` (honours `expires_in`, one refresh for concurrent callers,
  invalidation on 403). The token is handed to the library per call through the client's
  `restricted_data_token` attribute, so the library's module-global token cache is never used;
- errors: every non-2xx response becomes a typed `AmazonApiError` (the library would return an
  empty payload for a 5xx without a JSON body);
- rate: every attempt first takes a token from the rate governor (amazon/governor.py: a token
  bucket per (seller, operation), shared by all workers through PostgreSQL), waiting rather than
  failing; each response's `x-amzn-RateLimit-Limit` is handed back to it;
- retries: 429 -> drain the governor's bucket, wait for its next token plus jitter (and back off
  exponentially when the same call is throttled again) up to a budget, then `Throttled`;
  500/502/503/504 and timeouts -> bounded backoff, then `Unavailable`; 403 -> refresh the token and
  try once more, then `AuthError`; 400/404 -> raised at once. The library's `throttle_retry` is not
  used (shared attempt counter, ignores headers);
- translation: responses become canonical orders; one order that cannot be translated does not
  sink a search page (it is returned in `OrdersPage.rejected`).

One gateway per event loop; it reuses one HTTP client for all calls. Close it with `aclose()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import httpx
from sp_api.asyncio.api import Orders
from sp_api.asyncio.base._transport_httpx import AsyncHttpxTransport
from sp_api.base import ApiResponse
from sp_api.base.credential_provider import FromCodeCredentialProvider

from m3amazon.amazon.endpoints import ResolvedEndpoints, resolve_endpoints
from m3amazon.amazon.errors import (
    AmazonApiError,
    AmazonTranslationError,
    AuthError,
    Throttled,
    TlsError,
    Unavailable,
    connection_error,
    error_from_response,
)
from m3amazon.amazon.governor import RateGovernor
from m3amazon.amazon.lwa import NOTIFICATIONS_SCOPE, LwaTokenProvider
from m3amazon.amazon.translate.orders import order_from_v2026
from m3amazon.canonical import Order, OrderStatus
from m3amazon.config import AmazonSettings, GovernorSettings

log = logging.getLogger(__name__)

ORDERS_VERSION = "2026-01-01"
GET_ORDER = "getOrder"
SEARCH_ORDERS = "searchOrders"
#: Operations the models call grantless: they take a client-credentials token with the
#: notifications scope instead of the seller's token (Notifications API destinations and the
#: by-id subscription operations).
GRANTLESS_OPERATIONS = frozenset(
    {
        "createDestination",
        "getDestinations",
        "getDestination",
        "deleteDestination",
        "getSubscriptionById",
        "deleteSubscriptionById",
    }
)
#: The library logs request headers (with the access token) at DEBUG; keep that logger quieter.
logging.getLogger("sp_api").setLevel(logging.INFO)
logging.getLogger("sp_api.asyncio.base.client").setLevel(logging.INFO)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry budgets and backoff. Delays: min(max_delay, base * 2**attempt), fully jittered."""

    throttle_retries: int = 6
    server_retries: int = 3
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return rng.uniform(ceiling / 2, ceiling)

    @classmethod
    def from_settings(cls, settings: GovernorSettings) -> RetryPolicy:
        return cls(
            throttle_retries=settings.throttle_retries,
            server_retries=settings.server_retries,
            base_delay_s=settings.backoff_base_s,
            max_delay_s=settings.backoff_max_s,
        )


@dataclass
class GatewayStats:
    """What the gateway has seen since it started (for metrics and the future rate governor)."""

    calls: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    auth_retries: Counter[str] = field(default_factory=Counter)
    #: Last `x-amzn-RateLimit-Limit` seen per operation (requests per second).
    rate_limits: dict[str, float] = field(default_factory=dict)

    @property
    def throttled_total(self) -> int:
        return sum(self.throttled.values())


@dataclass(frozen=True)
class OrdersPage:
    orders: list[Order]
    next_token: str | None
    #: Orders Amazon returned that could not be translated (each with its reason and payload).
    rejected: list[AmazonTranslationError] = field(default_factory=list)


class _HttpStatus(Exception):
    """Raised by the transport for a non-2xx response, before the library parses it."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__(response.status_code)


class _CheckedTransport(AsyncHttpxTransport):
    """The library's transport with two fixes: no hand-made Host header, errors raised by status."""

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        headers.pop("host", None)  # the library derives it as endpoint[8:]; httpx knows better
        response = await super().request(method, url, headers=headers, **kwargs)
        if response.status_code >= 300:
            await response.aread()
            raise _HttpStatus(response)
        return response


def _tls(settings: AmazonSettings) -> ssl.SSLContext | bool:
    """Trust the system roots plus `ca_bundle` (the simulator's local CA) when one is configured."""
    if settings.ca_bundle is None:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(settings.ca_bundle))
    return context


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime (UTC)")
    return moment.isoformat().replace("+00:00", "Z")


def _csv(value: Any) -> Any:
    """Array parameters as one comma-separated value (Swagger 2.0's default collectionFormat).

    The library joins some arrays itself but not searchOrders' includedData, which httpx would
    send as a repeated parameter; joining every list here keeps all requests in the model's format.
    """
    return ",".join(value) if isinstance(value, list | tuple) else value


class AmazonGateway:
    """Orders API v2026-01-01 reads for one seller, as canonical orders."""

    def __init__(
        self,
        settings: AmazonSettings,
        *,
        retry: RetryPolicy | None = None,
        tokens: LwaTokenProvider | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int | None = None,
        governor: RateGovernor | None = None,
    ) -> None:
        self.settings = settings
        self.endpoints: ResolvedEndpoints = resolve_endpoints(settings)
        self.retry = retry or RetryPolicy.from_settings(settings.governor)
        #: Token buckets per (seller, operation); in this process unless one is passed (bootstrap
        #: passes one backed by PostgreSQL when the workers share a PostgreSQL database).
        self.governor = governor or RateGovernor(settings=settings.governor)
        #: The selling partner the buckets are kept for.
        self.seller_key = settings.seller_id or "default"
        self.stats = GatewayStats()
        self._sleep = sleep
        self._rng = random.Random(seed)
        verify = _tls(settings)
        self._owns_tokens = tokens is None
        if tokens is None:
            client_secret, refresh_token = settings.client_secret(), settings.refresh_token_value()
            if not settings.lwa_client_id or not client_secret:
                raise ValueError("amazon.lwa_client_id and amazon.lwa_client_secret must be set")
            tokens = LwaTokenProvider(
                self.endpoints.lwa_token_url,
                settings.lwa_client_id,
                client_secret,
                refresh_token,
                verify=verify,
                timeout=settings.timeout_s,
            )
        self.tokens = tokens
        self._verify = verify
        #: One library client per (API class, version), reused for every call (see library_client).
        self._clients: dict[tuple[type, str | None], Any] = {}
        self._orders = self.library_client(Orders, ORDERS_VERSION)

    def library_client(self, api: type, version: str | None = None) -> Any:
        """This gateway's python-amazon-sp-api client for `api` (e.g. `Feeds`), built on first use.

        Every client gets our endpoint and transport and placeholder credentials, and receives the
        access token of each call from `_attempt` (see `_hand_token`), like the Orders client.
        """
        key = (api, version)
        if key not in self._clients:
            self._clients[key] = self._build_client(self._verify, api, version)
        return self._clients[key]

    def _build_client(
        self, verify: ssl.SSLContext | bool, api: type = Orders, version: str | None = None
    ) -> Any:
        ep = self.endpoints
        marketplace_id = self.settings.marketplaces[0] if self.settings.marketplaces else ""
        market = SimpleNamespace(endpoint=ep.endpoint, marketplace_id=marketplace_id, region=ep.aws_region)
        client = api(
            market,
            **({"version": version} if version else {}),
            # The library insists on LWA credentials but never uses them: tokens come from us.
            credentials={"lwa_app_id": "unused", "lwa_client_secret": "unused", "refresh_token": "unused"},
            credential_providers=(FromCodeCredentialProvider,),
            verify=verify,
            timeout=self.settings.timeout_s,
        )
        # SP_API_DEFAULT_MARKETPLACE replaces the constructor's marketplace: set ours back.
        client.endpoint, client.marketplace_id, client.region = ep.endpoint, marketplace_id, ep.aws_region
        client._transport = _CheckedTransport(client=client._transport._client)
        return client

    def __repr__(self) -> str:
        return f"AmazonGateway(endpoint={self.endpoints.endpoint!r}, seller_id={self.settings.seller_id!r})"

    async def __aenter__(self) -> AmazonGateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client._transport.aclose()
            await client._auth.aclose()
        if self._owns_tokens:  # an injected provider belongs to whoever passed it
            await self.tokens.aclose()

    # -- operations -----------------------------------------------------------------------
    def _included_data(self) -> list[str]:
        """The configured datasets, plus FULFILLMENT, without which an order has no status."""
        wanted = list(dict.fromkeys(self.settings.order_included_data))
        return wanted if "FULFILLMENT" in wanted else [*wanted, "FULFILLMENT"]

    async def get_order(self, order_id: str) -> Order:
        """The order `order_id` as a canonical order (NotFound if Amazon does not know it)."""
        response = await self._call(
            GET_ORDER, lambda: self._orders.get_order(order_id, includedData=_csv(self._included_data()))
        )
        document = response.payload.get("order") if isinstance(response.payload, dict) else None
        if not isinstance(document, dict):
            raise AmazonApiError(200, "MalformedResponse", "getOrder answered without an order", GET_ORDER)
        return order_from_v2026(document, seller_id=self.settings.seller_id)

    async def search_orders(
        self,
        *,
        created_after: datetime | None = None,
        last_updated_after: datetime | None = None,
        last_updated_before: datetime | None = None,
        marketplace_ids: Sequence[str] | None = None,
        fulfillment_statuses: Sequence[OrderStatus | str] | None = None,
        next_token: str | None = None,
        max_results: int = 100,
    ) -> OrdersPage:
        """One page of searchOrders. For the next page pass `next_token` with the same filters."""
        if (created_after is None) == (last_updated_after is None):
            raise ValueError("give exactly one of created_after and last_updated_after")
        if last_updated_before is not None and created_after is not None:
            raise ValueError("last_updated_before goes with last_updated_after, not created_after")
        if not 1 <= max_results <= 100:
            raise ValueError("max_results must be between 1 and 100")
        params: dict[str, Any] = {
            "createdAfter": _iso(created_after),
            "lastUpdatedAfter": _iso(last_updated_after),
            "lastUpdatedBefore": _iso(last_updated_before),
            "marketplaceIds": list(marketplace_ids or self.settings.marketplaces),
            "fulfillmentStatuses": [str(s) for s in fulfillment_statuses] if fulfillment_statuses else None,
            "maxResultsPerPage": max_results,
            "includedData": self._included_data(),
            "paginationToken": next_token,
        }
        params = {k: _csv(v) for k, v in params.items() if v is not None}
        response = await self._call(SEARCH_ORDERS, lambda: self._orders.search_orders(**dict(params)))
        documents = response.payload.get("orders") if isinstance(response.payload, dict) else None
        if not isinstance(documents, list):
            raise AmazonApiError(
                200, "MalformedResponse", "searchOrders answered without orders", SEARCH_ORDERS
            )
        orders, rejected = [], []
        for document in documents:
            try:
                orders.append(order_from_v2026(document, seller_id=self.settings.seller_id))
            except AmazonTranslationError as exc:
                log.warning("order %s cannot be translated: %s", exc.order_id, exc.reason)
                rejected.append(exc)
        return OrdersPage(orders, response.next_token, rejected)

    async def search_pages(self, **filters: Any) -> AsyncIterator[OrdersPage]:
        """Every page of one search. Amazon requires the same filters with each pagination token,
        so this is the safe way to page (the filters are those of `search_orders`)."""
        token: str | None = None
        while True:
            page = await self.search_orders(**filters, next_token=token)
            yield page
            if not page.next_token:
                return
            token = page.next_token

    # -- the call loop --------------------------------------------------------------------
    async def _call(self, operation: str, invoke: Callable[[], Awaitable[ApiResponse]]) -> ApiResponse:
        """One operation: a governor token before every attempt, then the retry rules of the module
        docstring. Every SP-API operation goes through here, so every one is governed."""
        attempts: Counter[str] = Counter()
        while True:
            # The LWA token first (cached; a failure shows again in _attempt): a governor token
            # should go to Amazon at once, not wait for LWA after it was taken.
            with contextlib.suppress(AmazonApiError):
                await self._token_for(operation)
            await self.governor.acquire(self.seller_key, operation)
            token, outcome = await self._attempt(operation, invoke)
            await self.governor.observe(self.seller_key, operation, _rate(outcome))
            if not isinstance(outcome, AmazonApiError):
                return outcome
            await self._recover(operation, outcome, token, attempts)

    async def _attempt(
        self, operation: str, invoke: Callable[[], Awaitable[ApiResponse]]
    ) -> tuple[str | None, ApiResponse | AmazonApiError]:
        """One try: the token used and the response, or the typed error."""
        token: str | None = None
        try:
            token = await self._token_for(operation)
            self.stats.calls[operation] += 1
            # No await between setting the token and the library building the headers.
            self._hand_token(token)
            response = await invoke()
        except _HttpStatus as exc:
            status, body, headers = exc.response.status_code, exc.response.content, exc.response.headers
            error = error_from_response(status, body, headers, operation)
        except httpx.TimeoutException as exc:
            error = Unavailable(
                0, "Timeout", f"no answer within the timeout ({type(exc).__name__})", operation
            )
        except httpx.TransportError as exc:
            error = connection_error(exc, operation)
        except (Unavailable, TlsError) as exc:  # LWA could not be reached
            error = exc
        else:
            self._note_rate_limit(operation, response.rate_limit)
            return token, response
        self._note_rate_limit(operation, error.rate_limit)
        return token, error

    async def _recover(
        self, operation: str, error: AmazonApiError, token: str | None, attempts: Counter[str]
    ) -> None:
        """Wait (429, 5xx, timeouts) or refresh the token (first 403) before the next try, or raise."""
        if isinstance(error, AuthError) and error.status == 403 and token and not attempts["auth"]:
            log.info("%s refused the access token (%s); fetching a new one", operation, error.code)
            self.stats.auth_retries[operation] += 1
            self.tokens.invalidate(token)
            attempts["auth"] += 1
            return
        if isinstance(error, Throttled):
            # Amazon's bucket is empty: so is ours now, and the next attempt waits for its next
            # token. Jitter spreads the retries; a call throttled again also backs off.
            await self.governor.throttled(self.seller_key, operation)
            self.stats.throttled[operation] += 1
            if attempts["throttled"] >= self.retry.throttle_retries:
                raise error
            pause = self.governor.jitter(self.seller_key, operation, self._rng)
            if attempts["throttled"]:
                pause += self.retry.delay(attempts["throttled"] - 1, self._rng)
            attempts["throttled"] += 1
            await self._sleep(pause)
            return
        if not isinstance(error, Unavailable):
            raise error
        self.stats.server_errors[operation] += 1
        if attempts["unavailable"] >= self.retry.server_retries:
            raise error
        await self._sleep(self.retry.delay(attempts["unavailable"], self._rng))
        attempts["unavailable"] += 1

    async def _token_for(self, operation: str) -> str:
        """The seller's token, or a client-credentials token for the grantless operations."""
        if operation in GRANTLESS_OPERATIONS:
            return await self.tokens.grantless_token(NOTIFICATIONS_SCOPE)
        return await self.tokens.access_token()

    def _hand_token(self, token: str) -> None:
        """Give `token` to every library client; it sends it as `x-amz-access-token`."""
        for client in self._clients.values():
            client.restricted_data_token = token

    def _note_rate_limit(self, operation: str, value: Any) -> None:
        try:
            if value is not None:
                self.stats.rate_limits[operation] = float(value)
        except (TypeError, ValueError):
            pass


def _rate(outcome: ApiResponse | AmazonApiError) -> float | None:
    """The x-amzn-RateLimit-Limit of a response or error, as a number (None when absent or odd)."""
    try:
        value = outcome.rate_limit
        return float(value) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None
