"""The secured web surface on a bare engine, users of each role, and logging in as a browser does.

Shared by the admin API, console, security and schemathesis tests. The app is the worker's own
(`web.app.secured_surface`: login, console, admin API), only without a running engine: retries are
recorded by `ops_samples.RecordingEnqueue` unless a test passes its own actions.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from m3amazon.config import WebSettings
from m3amazon.mapping import load_mappings
from m3amazon.ops import users
from m3amazon.ops.actions import OperatorActions
from m3amazon.web.app import secured_surface
from m3amazon.web.auth import WebAuth
from m3amazon.web.console import ConsoleSources
from ops_samples import RecordingEnqueue

#: Cheap argon2 parameters for the tests (the default costs ~0.1 s per hash, seconds on a busy CI
#: machine); the hashes are still argon2id, verified the same way.
users.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "operator", "admin")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def secured_app(
    engine: Engine, actions: OperatorActions | None = None, settings: WebSettings | None = None
) -> FastAPI:
    app = FastAPI(title="m3-amazon (test)", openapi_url=None, docs_url=None, redoc_url=None)
    actions = actions or OperatorActions(
        engine=engine, enqueue=RecordingEnqueue(), mappings=lambda: load_mappings(None)
    )
    secured_surface(app, actions, WebAuth(engine, settings or WebSettings()), ConsoleSources())
    return app


def add_users(engine: Engine) -> dict[str, str]:
    """One user per role (named after it) and an API token for each: {role: token}."""
    tokens = {}
    for role in ROLES:
        users.add_user(engine, role, PASSWORD, role)
        tokens[role] = users.issue_token(engine, role, f"{role} token")
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_for(app: FastAPI, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console", **kwargs)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Fill in the login form (with its CSRF token) and post it; the client keeps the cookie."""
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text), "next": "/"},
    )


async def session_csrf(client: httpx.AsyncClient) -> str:
    """The logged-in session's CSRF token, as the console pages carry it."""
    return csrf_of((await client.get("/incidents")).text)
