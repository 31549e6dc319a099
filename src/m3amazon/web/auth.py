"""Authentication and authorisation of the web surface: sessions, bearer tokens, roles, CSRF, login.

Who may call what:

- `/healthz`, the IMS endpoints (their own auth) and `/metrics` (a bearer token when
  `web.metrics_token` is set) are open; everything else needs a user.
- The console authenticates with a session cookie (`m3a_session`: HttpOnly, SameSite=Lax, Secure
  when served over TLS or when `web.secure_cookies` says so). Every state-changing request of a
  session must carry its CSRF token (form field `csrf_token` or header `X-CSRF-Token`), compared in
  constant time; SameSite alone is not relied on.
- The admin API (`/api/...`) takes `Authorization: Bearer <token>` (ops/users.py API tokens) or the
  console's session (then with the CSRF header on writes). Bearer requests need no CSRF token: a
  browser never attaches them on its own.
- Roles: viewer reads, operator acts, admin manages users. 401 without a user, 403 with too small
  a role or a missing/wrong CSRF token.
- Logins are throttled per user name and per client address (ops/users.py).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine

from m3amazon.config import WebSettings
from m3amazon.ops import users
from m3amazon.ops.users import Principal, Role

SESSION_COOKIE = "m3a_session"
LOGIN_CSRF_COOKIE = "m3a_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(auto_error=False, description="an API token from `m3amazon users token`")


class LoginRequired(Exception):
    """A console page was asked for without a session: the app answers with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


@dataclass
class WebAuth:
    """What the web surface needs to know who is calling."""

    engine: Engine
    settings: WebSettings

    # -- who is calling -------------------------------------------------------------------------

    async def principal(self, request: Request, bearer: str | None = None) -> Principal | None:
        if bearer:
            return await asyncio.to_thread(users.principal_for_token, self.engine, bearer)
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return None
        return await asyncio.to_thread(
            users.principal_for_session, self.engine, session_id, self.settings.session_idle_s
        )

    def secure(self, request: Request) -> bool:
        if self.settings.secure_cookies == "auto":
            return request.url.scheme == "https"
        return self.settings.secure_cookies == "always"

    def set_cookie(
        self, request: Request, response: Response, name: str, value: str, *, max_age: int, path: str = "/"
    ) -> None:
        """HttpOnly, SameSite=Lax, Secure over TLS (see `web.secure_cookies`)."""
        response.set_cookie(
            name,
            value,
            httponly=True,
            samesite="lax",
            secure=self.secure(request),
            max_age=max_age,
            path=path,
        )

    # -- dependencies ---------------------------------------------------------------------------

    def api(self, role: Role) -> Callable[..., Awaitable[Principal]]:
        """Dependency of an admin API route: a user of at least `role` (401/403 otherwise)."""

        async def dependency(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        ) -> Principal:
            who = await self.principal(request, credentials.credentials if credentials else None)
            if who is None:
                raise HTTPException(
                    401, "authentication required", headers={"WWW-Authenticate": 'Bearer realm="m3amazon"'}
                )
            writes = request.method not in SAFE_METHODS
            if (
                who.via == "session"
                and writes
                and not users.same_secret(request.headers.get(CSRF_HEADER), who.csrf_token)
            ):
                raise HTTPException(403, "missing or wrong CSRF token")
            if not who.can(role):
                raise HTTPException(403, f"this needs the {role} role; {who.username} is {who.role}")
            return who

        return dependency

    def page(self, role: Role) -> Callable[..., Awaitable[Principal]]:
        """Dependency of a console page: a session of at least `role`; CSRF checked on writes.

        Without a session a GET is redirected to the login page; a write is refused (401).
        """

        async def dependency(request: Request) -> Principal:
            who = await self.principal(request)
            if who is None or who.via != "session":
                if request.method in SAFE_METHODS:
                    raise LoginRequired(
                        str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
                    )
                raise HTTPException(401, "log in first")
            if request.method not in SAFE_METHODS:
                given = request.headers.get(CSRF_HEADER)
                if given is None:
                    form = await request.form()
                    field = form.get(CSRF_FIELD)
                    given = field if isinstance(field, str) else None
                if not users.same_secret(given, who.csrf_token):
                    raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
            if not who.can(role):
                raise HTTPException(403, f"this needs the {role} role; {who.username} is {who.role}")
            return who

        return dependency

    async def metrics_allowed(self, request: Request) -> bool:
        expected = self.settings.metrics_token_value()
        if not expected:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and users.same_secret(given.strip(), expected)


def _safe_next(target: str | None) -> str:
    """Only local paths: a login form must not send the user to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login_router(auth: WebAuth, templates: Jinja2Templates) -> APIRouter:
    """GET/POST /login and POST /logout (the console's only pages without a session)."""
    router = APIRouter(include_in_schema=False)
    settings = auth.settings

    def form(
        request: Request, *, error: str | None = None, next_url: str = "/", status: int = 200
    ) -> Response:
        token = secrets.token_urlsafe(24)
        response = templates.TemplateResponse(
            request,
            "login.html",
            {"error": error, "next": _safe_next(next_url), "login_csrf": token, "user": None},
            status_code=status,
        )
        auth.set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=1800, path="/login")
        return response

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/") -> Response:
        return form(request, next_url=next)

    @router.post("/login")
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=100)],
        password: Annotated[str, Form(max_length=1000)],
        csrf_token: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        # Login CSRF: the form's token must match the cookie set with the form (double submit).
        if not users.same_secret(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE)):
            return form(request, error="The form expired: please log in again.", next_url=next, status=403)
        keys = [f"user:{username.strip().lower()}", f"addr:{client_address(request)}"]
        engine = auth.engine
        if await asyncio.to_thread(
            users.throttled, engine, keys, settings.login_max_failures, settings.login_window_s
        ):
            minutes = max(1, settings.login_window_s // 60)
            return form(
                request,
                error=f"Too many failed logins: try again in {minutes} minutes.",
                next_url=next,
                status=429,
            )
        role = await asyncio.to_thread(users.authenticate, engine, username.strip(), password)
        if role is None:
            await asyncio.to_thread(users.record_failure, engine, keys, settings.login_window_s)
            return form(request, error="Wrong user name or password.", next_url=next, status=401)
        await asyncio.to_thread(users.clear_failures, engine, keys[:1])
        session_id = await asyncio.to_thread(
            users.start_session, engine, username.strip(), settings.session_max_age_s
        )
        response = RedirectResponse(_safe_next(next), status_code=303)
        auth.set_cookie(request, response, SESSION_COOKIE, session_id, max_age=settings.session_max_age_s)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout(request: Request, who: Principal = Depends(auth.page("viewer"))) -> Response:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            await asyncio.to_thread(users.end_session, auth.engine, session_id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return router


def login_redirect(_request: Request, exc: Any) -> Response:
    """The app's handler for LoginRequired."""
    return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)
