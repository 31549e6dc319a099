"""Login with Amazon (LWA) access tokens for SP-API calls.

Why our own provider instead of python-amazon-sp-api's: the library caches tokens in a module-global
TTLCache with a fixed TTL (3200 s by default) that ignores `expires_in`, shares it between every
client in the process, and cannot be told that a token was refused. This provider:

- exchanges the refresh token (`grant_type=refresh_token`) for seller operations, or the client
  credentials with a scope (`grant_type=client_credentials`) for grantless operations;
- caches each token until `refresh_margin_s` before its `expires_in` runs out;
- serialises token requests with one asyncio.Lock, so N concurrent callers make one LWA call;
- forgets a token on `invalidate()` when the SP-API answered 403 (expired or revoked);
- never shows the client secret, the refresh token or an access token in its repr or in logs.

One provider belongs to one event loop (its lock and HTTP client bind to the loop that uses them).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from m3amazon.amazon.errors import AmazonApiError, AuthError, Throttled, Unavailable, connection_error

log = logging.getLogger(__name__)

SELLER = "refresh_token"
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
MIGRATION_SCOPE = "sellingpartnerapi::migration"


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float

    def __repr__(self) -> str:
        return f"_Token(refresh_at={self.refresh_at})"


class LwaTokenProvider:
    """Access tokens from an LWA token endpoint, cached per grant until shortly before they expire."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str | None = None,
        *,
        verify: ssl.SSLContext | bool | str = True,
        timeout: float = 30.0,
        refresh_margin_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("LWA needs a client id and a client secret")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._margin = refresh_margin_s
        self._clock = clock
        if isinstance(verify, str):  # a CA bundle path; httpx wants a context
            verify = ssl.create_default_context(cafile=verify)
        self._http = client or httpx.AsyncClient(verify=verify, timeout=timeout)
        self._owns_http = client is None
        self._lock = asyncio.Lock()
        self._cache: dict[str, _Token] = {}
        #: Number of token requests sent to LWA (successful or not): what tests and stats look at.
        self.requests_made = 0

    def __repr__(self) -> str:
        return f"LwaTokenProvider(token_url={self.token_url!r}, client_id={self.client_id!r})"

    async def access_token(self) -> str:
        """A token for seller operations (refresh-token grant)."""
        if not self._refresh_token:
            raise AuthError(0, "MissingRefreshToken", "no LWA refresh token is configured", "lwa")
        return await self._get(SELLER, {"grant_type": "refresh_token", "refresh_token": self._refresh_token})

    async def grantless_token(self, scope: str = NOTIFICATIONS_SCOPE) -> str:
        """A token for grantless operations (client-credentials grant with `scope`)."""
        return await self._get("scope:" + scope, {"grant_type": "client_credentials", "scope": scope})

    def invalidate(self, token: str | None = None) -> None:
        """Forget cached tokens: all of them, or only the entries holding `token`.

        Passing the refused token means that when several calls fail with the same expired token
        at once, only the first invalidation drops it and a fresh one fetched meanwhile survives.
        """
        for key, cached in list(self._cache.items()):
            if token is None or cached.value == token:
                del self._cache[key]

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _get(self, key: str, grant: dict[str, str]) -> str:
        cached = self._fresh(key)
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._fresh(key)
            if cached is not None:
                return cached
            token = await self._request(grant)
            self._cache[key] = token
            return token.value

    def _fresh(self, key: str) -> str | None:
        cached = self._cache.get(key)
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.value
        return None

    async def _request(self, grant: dict[str, str]) -> _Token:
        form = {**grant, "client_id": self.client_id, "client_secret": self._client_secret}
        operation = f"lwa:{grant['grant_type']}"
        self.requests_made += 1
        started = self._clock()
        try:
            response = await self._http.post(
                self.token_url, data=form, headers={"accept": "application/json"}
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(0, "Timeout", f"LWA did not answer: {type(exc).__name__}", operation) from None
        except httpx.TransportError as exc:
            raise connection_error(exc, operation, "cannot reach LWA: ") from None
        body = _json_or_empty(response)
        if response.status_code != 200:
            raise _lwa_error(response.status_code, body, operation)
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not value:
            raise AuthError(
                response.status_code, "InvalidTokenResponse", "LWA answered without a token", operation
            )
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 3600.0
        margin = min(self._margin, lifetime / 2)
        log.info("LWA %s token obtained, valid for %.0f s", grant["grant_type"], lifetime)
        return _Token(value, started + lifetime - margin)


def _json_or_empty(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _lwa_error(status: int, body: dict[str, object], operation: str) -> AmazonApiError:
    """LWA answers errors as {"error": ..., "error_description": ...} (OAuth 2.0 style)."""
    code = str(body.get("error") or f"HTTP{status}")
    message = str(body.get("error_description") or "LWA refused the token request")
    if status == 429:
        return Throttled(status, code, message, operation)
    if status >= 500:
        return Unavailable(status, code, message, operation)
    return AuthError(status, code, message, operation)
