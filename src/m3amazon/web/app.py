"""The web surface of a worker: health, metrics, a read-only status page and the admin API.

It binds to loopback by default: the admin API's actions (web/admin_api.py) have no users or roles
yet; the operations console with users, roles and CSRF protection is built on the same services
later (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import DictLoader, Environment, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import m3amazon
from m3amazon.bootstrap import Runtime
from m3amazon.flows.dispatch import submit_bod
from m3amazon.ops import incidents, trail
from m3amazon.web.admin_api import admin_router, worker_actions
from m3amazon.web.ims import ims_router


def _templates() -> Jinja2Templates:
    folder = resources.files("m3amazon.web").joinpath("templates")
    sources = {
        item.name: item.read_text(encoding="utf-8")
        for item in folder.iterdir()
        if item.name.endswith(".html")
    }
    env = Environment(loader=DictLoader(sources), autoescape=select_autoescape(["html"]))
    return Jinja2Templates(env=env)


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(title="m3-amazon", version=m3amazon.__version__)
    templates = _templates()
    # ION delivers BODs here; they are stored in m3a_bod_inbox (handing them to flows: issue 5/7).
    app.include_router(ims_router(rt.engine, rt.settings.m3.ion, on_bod=submit_bod))
    # Orders, incidents, the audit log and the operators' actions (/api/orders, /api/incidents, ...).
    app.include_router(admin_router(worker_actions(rt)))

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

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/summary")
    async def api_summary() -> dict[str, Any]:
        return await asyncio.to_thread(summary)

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        data = await asyncio.to_thread(summary)
        recent = await asyncio.to_thread(trail.recent, rt.engine, 25)
        open_incidents = await asyncio.to_thread(incidents.list_incidents, rt.engine, limit=25)
        return templates.TemplateResponse(
            request, "index.html", {"summary": data, "recent": recent, "incidents": open_incidents}
        )

    return app
