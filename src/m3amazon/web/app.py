"""The web surface of a worker: health, metrics, the operations console and the admin API.

Open without a user: `/healthz`, `/metrics` (a bearer token when `web.metrics_token` is set) and the
IMS endpoints under `/service` (ION's own credentials). Everything else needs a user (web/auth.py):
the console (web/console/) a session, the admin API (web/admin_api.py) an API token or the session.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import m3amazon
from m3amazon.amazon.governor import describe
from m3amazon.bootstrap import Runtime
from m3amazon.flows.dispatch import submit_bod
from m3amazon.ops import incidents, trail
from m3amazon.ops.actions import OperatorActions
from m3amazon.ops.logs import RequestContext
from m3amazon.ops.metrics import RuntimeCollector
from m3amazon.ops.metrics import refresh as refresh_metrics
from m3amazon.web.admin_api import admin_router, worker_actions
from m3amazon.web.auth import LoginRequired, WebAuth, login_redirect, login_router
from m3amazon.web.console import ConsoleSources, console_router, console_templates, static_files
from m3amazon.web.ims import ims_router

#: The console's pages load only their own script and styles; nobody may frame them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


async def _security_headers(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.url.path != "/docs":  # Swagger UI loads its script from a CDN
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def secured_surface(app: FastAPI, actions: OperatorActions, auth: WebAuth, sources: ConsoleSources) -> None:
    """The parts of the web surface that need a user: login, console pages, admin API.

    Shared by the worker's app below and the tests, which build it on a bare engine.
    """
    templates = console_templates()
    app.mount("/static", static_files(), name="static")
    app.middleware("http")(_security_headers)
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_middleware(RequestContext)
    app.include_router(login_router(auth, templates))
    # Orders, incidents, the audit log and the operators' actions (/api/orders, /api/incidents, ...).
    app.include_router(admin_router(actions, auth))
    app.include_router(console_router(actions, auth, templates, sources))

    # The admin API's schema and its browsable docs, for users too (create the app without them).
    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(auth.api("viewer"))])
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(auth.page("viewer"))])
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} admin API")


def create_app(rt: Runtime) -> FastAPI:
    # No anonymous schema or docs: `secured_surface` serves them to users.
    app = FastAPI(
        title="m3-amazon", version=m3amazon.__version__, openapi_url=None, docs_url=None, redoc_url=None
    )
    # ION delivers BODs here; they are stored in m3a_bod_inbox (handing them to flows: issue 5/7).
    app.include_router(ims_router(rt.engine, rt.settings.m3.ion, on_bod=submit_bod))
    auth = WebAuth(rt.engine, rt.settings.web)

    async def headroom() -> list[dict[str, Any]]:
        return describe(await rt.amazon.governor.headroom())

    secured_surface(
        app,
        worker_actions(rt),
        auth,
        ConsoleSources(
            headroom=headroom,
            executor_id=rt.settings.engine.executor_id,
            mappings_version=lambda: str(rt.mappings.version),
        ),
    )
    RuntimeCollector.install(rt)

    def summary() -> dict[str, Any]:
        return {
            "orders": trail.outcome_counts(rt.engine),
            "open_incidents": incidents.count_incidents(rt.engine),
            "mappings_version": rt.mappings.version,
            "executor_id": rt.settings.engine.executor_id,
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        try:
            await asyncio.to_thread(trail.outcome_counts, rt.engine)
        except Exception as exc:  # the database is the one thing a worker cannot do without
            raise HTTPException(503, f"database unavailable: {exc.__class__.__name__}") from exc
        return {"status": "ok", "version": m3amazon.__version__}

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if not await auth.metrics_allowed(request):
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        await refresh_metrics(rt)
        return Response(await asyncio.to_thread(generate_latest), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/summary", tags=["admin"], dependencies=[Depends(auth.api("viewer"))])
    async def api_summary() -> dict[str, Any]:
        return await asyncio.to_thread(summary)

    return app
