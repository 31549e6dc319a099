"""The web surface of a worker: health, metrics, a read-only status page and admin API.

This first cut serves read-only views on loopback; the operations console with users, roles,
CSRF protection and actions is built on the same services later (see docs/architecture.md).
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
from m3amazon.ops import incidents, trail
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
    app.include_router(ims_router(rt.engine, rt.settings.m3.ion))

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

    @app.get("/api/orders/{amazon_order_id}")
    async def api_order(amazon_order_id: str) -> dict[str, Any]:
        entry = await asyncio.to_thread(trail.get, rt.engine, amazon_order_id)
        if entry is None:
            raise HTTPException(404, f"no trail for Amazon order {amazon_order_id}")
        return entry

    @app.get("/api/incidents")
    async def api_incidents(status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(incidents.list_incidents, rt.engine, status=status, limit=limit)
        for row in rows:
            row.pop("payload", None)  # payloads are shown one incident at a time, masked
        return rows

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        data = await asyncio.to_thread(summary)
        recent = await asyncio.to_thread(trail.recent, rt.engine, 25)
        open_incidents = await asyncio.to_thread(incidents.list_incidents, rt.engine, limit=25)
        return templates.TemplateResponse(
            request, "index.html", {"summary": data, "recent": recent, "incidents": open_incidents}
        )

    return app
