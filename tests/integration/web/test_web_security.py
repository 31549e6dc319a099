"""Who may do what on the web surface: no user, the wrong role, no CSRF token are all refused.

The worker's secured surface (login, console, admin API) over ASGI on a real SQLite database.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from m3amazon.config import WebSettings
from m3amazon.ops import audit, incidents, users
from m3amazon.ops.logs import JsonFormatter
from m3amazon.web.auth import CSRF_HEADER, SESSION_COOKIE
from ops_samples import make_engine, order_incident, problem
from web_samples import PASSWORD, bearer, client_for, login, secured_app, session_csrf

ORDER = "113-0000001-0000001"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def env(tmp_path: Path) -> Any:
    engine = make_engine(tmp_path)
    from web_samples import add_users

    tokens = add_users(engine)
    incident_id = order_incident(engine, ORDER, "m3_unavailable", [problem("M3_UNAVAILABLE", "M3 was down")])
    yield engine, tokens, incident_id
    engine.dispose()


def test_nothing_but_login_is_open_without_a_user(env: Any) -> None:
    engine, _, incident_id = env

    async def scenario() -> None:
        async with client_for(secured_app(engine)) as client:
            for path in (
                "/api/incidents",
                f"/api/incidents/{incident_id}",
                "/api/audit",
                f"/api/orders/{ORDER}",
            ):
                response = await client.get(path)
                assert response.status_code == 401, path
                assert response.headers["www-authenticate"].startswith("Bearer")
            assert (await client.get("/openapi.json")).status_code == 401
            for path in (
                "/",
                "/incidents",
                f"/incidents/{incident_id}",
                "/audit",
                "/skus",
                "/orders",
                "/docs",
            ):
                page = await client.get(path)
                assert page.status_code == 303 and page.headers["location"].startswith("/login?next="), path
            assert (await client.post(f"/api/incidents/{incident_id}/retry")).status_code == 401
            assert (await client.post(f"/incidents/{incident_id}/retry")).status_code == 401
            assert (await client.get("/login")).status_code == 200
            wrong = await client.get("/api/incidents", headers=bearer("m3a_" + "x" * 43))
            assert wrong.status_code == 401
        assert incidents.get_incident(engine, incident_id)["status"] == "open"  # type: ignore[index]

    run(scenario())


def test_a_viewer_reads_but_cannot_retry_or_discard(env: Any) -> None:
    engine, tokens, incident_id = env

    async def scenario() -> None:
        app = secured_app(engine)
        async with client_for(app, headers=bearer(tokens["viewer"])) as api:
            assert (await api.get("/api/incidents")).status_code == 200
            retry = await api.post(f"/api/incidents/{incident_id}/retry")
            assert retry.status_code == 403 and "operator" in retry.json()["detail"]
            discard = await api.post(f"/api/incidents/{incident_id}/discard", json={"reason": "no"})
            assert discard.status_code == 403
            bulk = await api.post("/api/incidents/retry-category", json={"category": "m3_unavailable"})
            assert bulk.status_code == 403
        async with client_for(app) as browser:
            assert (await login(browser, "viewer")).status_code == 303
            page = (await browser.get(f"/incidents/{incident_id}")).text
            assert "Retry</button>" not in page and "Discard</button>" not in page  # no buttons shown
            csrf = await session_csrf(browser)
            forced = await browser.post(f"/incidents/{incident_id}/retry", data={"csrf_token": csrf})
            assert forced.status_code == 403
            forced = await browser.post(
                f"/incidents/{incident_id}/discard", data={"csrf_token": csrf, "reason": "x"}
            )
            assert forced.status_code == 403
            assert (await browser.get("/users")).status_code == 403  # admin only
            headers = (await browser.get("/")).headers
            assert (
                headers["x-frame-options"] == "DENY"
                and "frame-ancestors 'none'" in headers["content-security-policy"]
            )
        assert incidents.get_incident(engine, incident_id)["status"] == "open"  # type: ignore[index]
        assert audit.list_entries(engine) == []

    run(scenario())


def test_session_writes_need_the_csrf_token(env: Any) -> None:
    engine, _, incident_id = env

    async def scenario() -> None:
        async with client_for(secured_app(engine)) as browser:
            await login(browser, "operator")
            csrf = await session_csrf(browser)
            # console form without / with a wrong token
            assert (await browser.post(f"/incidents/{incident_id}/retry")).status_code == 403
            wrong = await browser.post(f"/incidents/{incident_id}/retry", data={"csrf_token": "forged"})
            assert wrong.status_code == 403
            # the admin API with the session cookie: the header is required
            assert (await browser.post(f"/api/incidents/{incident_id}/retry")).status_code == 403
            assert (await browser.post("/logout")).status_code == 403
            assert incidents.get_incident(engine, incident_id)["status"] == "open"  # type: ignore[index]

            done = await browser.post(f"/api/incidents/{incident_id}/retry", headers={CSRF_HEADER: csrf})
            assert done.status_code == 200, done.text
            assert audit.list_entries(engine)[0].actor == "operator"

            out = await browser.post("/logout", data={"csrf_token": csrf})
            assert out.status_code == 303
            assert (await browser.get("/incidents")).status_code == 303  # the session is gone

    run(scenario())


def test_login_is_throttled_and_needs_its_form_token(env: Any) -> None:
    engine, _, _ = env
    settings = WebSettings(login_max_failures=3, login_window_s=600)

    async def scenario() -> None:
        async with client_for(secured_app(engine, settings=settings)) as browser:
            no_form = await browser.post("/login", data={"username": "operator", "password": PASSWORD})
            assert no_form.status_code == 403 and SESSION_COOKIE not in browser.cookies
            for _ in range(3):
                assert (await login(browser, "operator", "wrong password!")).status_code == 401
            blocked = await login(browser, "operator")  # even the right password now
            assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
            assert SESSION_COOKIE not in browser.cookies
        async with client_for(secured_app(engine, settings=settings)) as other:
            # The same address is throttled for other user names too.
            assert (await login(other, "viewer")).status_code == 429

    run(scenario())


@pytest.mark.parametrize(("base_url", "secure"), [("http://console", False), ("https://console", True)])
def test_session_cookie_is_httponly_samesite_and_secure_over_tls(
    env: Any, base_url: str, secure: bool
) -> None:
    engine, _, _ = env

    async def scenario() -> None:
        async with client_for(secured_app(engine)) as browser:
            browser.base_url = base_url  # type: ignore[assignment]
            response = await login(browser, "viewer")
            cookie = next(
                v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v
            )
            assert "HttpOnly" in cookie and "SameSite=lax" in cookie
            assert ("Secure" in cookie) is secure

    run(scenario())


def test_disabled_users_and_revoked_tokens_are_refused(env: Any) -> None:
    engine, tokens, _ = env

    async def scenario() -> None:
        async with client_for(secured_app(engine)) as client:
            users.set_disabled(engine, "operator", True)
            assert (await client.get("/api/incidents", headers=bearer(tokens["operator"]))).status_code == 401
            assert (await login(client, "operator")).status_code == 401
            (viewer_token,) = [t for t in users.list_tokens(engine) if t["username"] == "viewer"]
            users.revoke_token(engine, int(viewer_token["id"]))  # type: ignore[call-overload]
            assert (await client.get("/api/incidents", headers=bearer(tokens["viewer"]))).status_code == 401

    run(scenario())


def test_passwords_and_tokens_never_appear_in_logs_or_pages(
    env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    engine, tokens, incident_id = env
    caplog.set_level(logging.DEBUG)

    async def scenario() -> list[str]:
        pages = []
        async with client_for(secured_app(engine)) as browser:
            await login(browser, "admin", "a wrong password")
            await login(browser, "admin")
            for path in ("/", "/users", "/incidents", f"/incidents/{incident_id}", "/audit"):
                pages.append((await browser.get(path)).text)
            api = await browser.get("/api/incidents", headers=bearer(tokens["admin"]))
            pages.append(api.text)
        return pages

    pages = run(scenario())
    secrets = [PASSWORD, "a wrong password", *tokens.values()]
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    for secret in secrets:
        assert secret not in caplog.text
        assert all(secret not in line for line in formatted)
        assert all(secret not in page for page in pages)
    stored = str(users.list_users(engine)) + str(users.list_tokens(engine))
    assert all(secret not in stored for secret in secrets)  # hashes only
    # and a careless log call is redacted by the JSON formatter
    record = logging.makeLogRecord(
        {"msg": "calling with Authorization: Bearer %s password=%s", "args": (tokens["admin"], PASSWORD)}
    )
    line = JsonFormatter().format(record)
    assert tokens["admin"] not in line and PASSWORD not in line
