"""LwaTokenProvider: grants, caching until expires_in, one call for concurrent callers, invalidation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from m3amazon.amazon.errors import AuthError, Unavailable
from m3amazon.amazon.lwa import LwaTokenProvider

URL = "https://lwa.test/auth/o2/token"
T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(
    scenario: Callable[[LwaTokenProvider], Awaitable[T]],
    clock: Clock | None = None,
    refresh_token: str | None = "Atzr|refresh-me",
) -> T:
    """Run `scenario` with a fresh provider on its own event loop, closing it afterwards."""

    async def main() -> T:
        lwa = LwaTokenProvider(
            URL, "client-id", "very-secret", refresh_token, clock=clock or Clock(), refresh_margin_s=60
        )
        try:
            return await scenario(lwa)
        finally:
            await lwa.aclose()

    return asyncio.run(main())


def token_route(expires_in: int = 3600) -> respx.Route:
    counter = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        counter["n"] += 1
        body = {"access_token": f"Atza|t{counter['n']}", "token_type": "bearer", "expires_in": expires_in}
        return httpx.Response(200, json=body)

    return respx.mock.post(URL).mock(side_effect=answer)


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@respx.mock
def test_refresh_grant_sends_the_documented_form_and_caches() -> None:
    route = token_route()

    async def twice(lwa: LwaTokenProvider) -> list[str]:
        return [await lwa.access_token(), await lwa.access_token()]

    assert run(twice) == ["Atza|t1", "Atza|t1"]
    assert route.call_count == 1
    assert form(route.calls[0].request) == {
        "grant_type": "refresh_token",
        "refresh_token": "Atzr|refresh-me",
        "client_id": "client-id",
        "client_secret": "very-secret",
    }


@respx.mock
def test_token_is_refreshed_shortly_before_expires_in() -> None:
    route = token_route(expires_in=600)
    clock = Clock()

    async def over_time(lwa: LwaTokenProvider) -> list[str]:
        first = await lwa.access_token()
        clock.now += 539  # 1 s before the refresh point (600 s lifetime - 60 s margin)
        second = await lwa.access_token()
        clock.now += 1
        return [first, second, await lwa.access_token()]

    assert run(over_time, clock) == ["Atza|t1", "Atza|t1", "Atza|t2"]
    assert route.call_count == 2


@respx.mock
def test_grantless_tokens_use_client_credentials_with_scope_and_their_own_cache() -> None:
    route = token_route()

    async def both(lwa: LwaTokenProvider) -> tuple[str, str, str]:
        return await lwa.grantless_token(), await lwa.grantless_token(), await lwa.access_token()

    grantless, again, seller = run(both)
    assert grantless == again != seller
    assert form(route.calls[0].request) == {
        "grant_type": "client_credentials",
        "scope": "sellingpartnerapi::notifications",
        "client_id": "client-id",
        "client_secret": "very-secret",
    }


@respx.mock
def test_concurrent_callers_make_one_token_call() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200, json={"access_token": "Atza|only", "expires_in": 3600})

    route = respx.mock.post(URL).mock(side_effect=slow)

    async def crowd(lwa: LwaTokenProvider) -> set[str]:
        return set(await asyncio.gather(*(lwa.access_token() for _ in range(20))))

    assert run(crowd) == {"Atza|only"}
    assert route.call_count == 1


@respx.mock
def test_invalidate_only_drops_the_refused_token() -> None:
    route = token_route()

    async def refused(lwa: LwaTokenProvider) -> list[str]:
        first = await lwa.access_token()
        lwa.invalidate("Atza|something-else")
        same = await lwa.access_token()
        lwa.invalidate(first)
        return [first, same, await lwa.access_token()]

    assert run(refused) == ["Atza|t1", "Atza|t1", "Atza|t2"]
    assert route.call_count == 2


async def _seller_token(lwa: LwaTokenProvider) -> str:
    return await lwa.access_token()


@respx.mock
@pytest.mark.parametrize(("status", "error"), [(400, AuthError), (401, AuthError), (503, Unavailable)])
def test_lwa_errors_become_typed_errors(status: int, error: type[AuthError | Unavailable]) -> None:
    respx.mock.post(URL).mock(
        return_value=httpx.Response(
            status,
            json={
                "error": "invalid_grant",
                "error_description": "The request has an invalid grant parameter",
            },
        )
    )
    with pytest.raises(error) as caught:
        run(_seller_token)
    assert caught.value.status == status and caught.value.code == "invalid_grant"


@respx.mock
def test_timeouts_are_unavailable() -> None:
    respx.mock.post(URL).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(Unavailable):
        run(_seller_token)


def test_seller_token_needs_a_refresh_token() -> None:
    with pytest.raises(AuthError, match="refresh token"):
        run(_seller_token, refresh_token=None)


def test_repr_never_shows_secrets() -> None:
    async def text(lwa: LwaTokenProvider) -> str:
        return repr(lwa)

    shown = run(text)
    assert "very-secret" not in shown and "refresh-me" not in shown and "client-id" in shown
