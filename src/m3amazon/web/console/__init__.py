"""The operations console: server-rendered pages (Jinja2) with a little htmx, no front-end build.

Every page needs a session (web/auth.py); reading needs the viewer role, acting the operator role,
the user pages the admin role. Actions go through the same service layer as the admin API and the
CLI (ops/actions.py), so the audit log names the logged-in user. Forms are plain POSTs carrying the
session's CSRF token (they work without JavaScript); htmx only refreshes an incident's status
while a retry runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import DictLoader, Environment, select_autoescape

from m3amazon.ops import audit, dashboard, settlements, trail, users, views
from m3amazon.ops import incidents as store
from m3amazon.ops.actions import SKU_CATEGORY, ActionError, ActionResult, OperatorActions
from m3amazon.ops.redact import mask_keys
from m3amazon.ops.users import Principal
from m3amazon.web.auth import WebAuth
from m3amazon.web.console.charts import bar_chart

#: (seller, operation, tokens, burst, rate/s) rows of the rate governor; M3 circuit per connection.
Headroom = Callable[[], Awaitable[list[dict[str, Any]]]]
Circuits = Callable[[], dict[str, str]]
STATUS_FILTERS = ("open", "retrying", "resolved", "discarded", "all")
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def _no_headroom() -> list[dict[str, Any]]:
    return []


@dataclass
class ConsoleSources:
    """What the console shows beyond the database: the worker's live state."""

    headroom: Headroom = _no_headroom
    circuits: Circuits = field(default_factory=lambda: _circuits)
    executor_id: str = "-"
    mappings_version: Callable[[], str] = lambda: "-"


def _circuits() -> dict[str, str]:
    from m3amazon.m3.circuit import circuit_state

    return circuit_state()


def console_templates() -> Jinja2Templates:
    folder = resources.files("m3amazon.web.console").joinpath("templates")
    sources = {
        item.name: item.read_text(encoding="utf-8")
        for item in folder.iterdir()
        if item.name.endswith(".html")
    }
    env = Environment(loader=DictLoader(sources), autoescape=select_autoescape(["html"]))
    env.filters["when"] = _when
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return Jinja2Templates(env=env)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(resources.files("m3amazon.web.console").joinpath("static")))


def _when(value: Any) -> str:
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _date(text: str | None, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)


def _back(path: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(path + (f"?{query}" if query else ""), status_code=303)


def _done(result: ActionResult) -> str:
    if result.action == "discard":
        return "Discarded."
    retried = len(result.retried)
    text = f"{retried} order(s) queued for a retry."
    if result.skipped:
        text += f" {len(result.skipped)} skipped: " + "; ".join(s.reason for s in result.skipped[:3])
    if result.notes:
        text += " " + " ".join(result.notes)
    return text


def suggestions_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The unknown SKUs of an incident with their suggestions (item, name, score)."""
    return [
        {"sku": p.get("sku"), "message": p.get("message"), "suggestions": p.get("suggestions") or []}
        for p in views.problems(row)
        if p.get("reason_code") == "UNKNOWN_SKU" and p.get("sku")
    ]


def console_router(
    actions: OperatorActions, auth: WebAuth, templates: Jinja2Templates, sources: ConsoleSources
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    engine = actions.engine
    # Dependencies as default values: annotations are strings here, resolved in module scope.
    viewer = Depends(auth.page("viewer"))
    operator = Depends(auth.page("operator"))
    admin = Depends(auth.page("admin"))

    def page(request: Request, name: str, who: Principal, **context: Any) -> HTMLResponse:
        context.update(
            user=who,
            csrf=who.csrf_token,
            msg=request.query_params.get("msg"),
            error=request.query_params.get("error"),
        )
        return templates.TemplateResponse(request, name, context)

    # -- dashboard -------------------------------------------------------------------------------

    def dashboard_data() -> dict[str, Any]:
        orders = dashboard.orders_per_hour(engine)
        opened = dashboard.incidents_per_hour(engine)
        return {
            "outcomes": trail.outcome_counts(engine),
            "open_incidents": store.count_incidents(engine, status="open"),
            "retrying": store.count_incidents(engine, status="retrying"),
            "orders_chart": bar_chart(orders.hours, orders.counts),
            "orders_total": orders.total,
            "incidents_chart": bar_chart(opened.hours, opened.counts, colour="#c0392b"),
            "incidents_total": opened.total,
            "by_age": dashboard.incidents_by_age(engine),
            "age_labels": [label for _, label in dashboard.AGE_BUCKETS],
            "backlog": dashboard.backlog_per_queue(engine),
            "last": dashboard.last_times(engine),
        }

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request, who: Principal = viewer) -> HTMLResponse:
        data = await asyncio.to_thread(dashboard_data)
        headroom = await sources.headroom()
        return page(
            request,
            "dashboard.html",
            who,
            **data,
            headroom=headroom,
            circuits=sources.circuits(),
            executor_id=sources.executor_id,
            mappings_version=sources.mappings_version(),
        )

    # -- orders ----------------------------------------------------------------------------------

    @router.get("/orders", response_class=HTMLResponse)
    async def orders(
        request: Request,
        q: str = "",
        status: str = "",
        since: str = "",
        until: str = "",
        who: Principal = viewer,
    ) -> HTMLResponse:
        rows = await asyncio.to_thread(
            dashboard.search_orders,
            engine,
            text=q[:100],
            status=status[:20] or None,
            since=_date(since),
            until=_date(until, end=True),
        )
        return page(
            request,
            "orders.html",
            who,
            rows=rows,
            q=q,
            status=status,
            since=since,
            until=until,
            outcomes=sorted(await asyncio.to_thread(trail.outcome_counts, engine)),
        )

    @router.get("/orders/{amazon_order_id}", response_class=HTMLResponse)
    async def order(request: Request, amazon_order_id: str, who: Principal = viewer) -> HTMLResponse:
        view = await asyncio.to_thread(views.order_view, engine, amazon_order_id)
        if view is None:
            raise HTTPException(404, f"no trail for Amazon order {amazon_order_id}")
        return page(request, "order.html", who, view=view)

    # -- incidents -------------------------------------------------------------------------------

    @router.get("/incidents", response_class=HTMLResponse)
    async def incidents(
        request: Request, status: str = "open", category: str = "", who: Principal = viewer
    ) -> HTMLResponse:
        chosen = status if status in STATUS_FILTERS else "open"
        rows = await asyncio.to_thread(
            store.list_incidents,
            engine,
            status=None if chosen == "all" else chosen,
            category=category[:40] or None,
            limit=500,
        )
        counts = await asyncio.to_thread(dashboard.open_incident_counts, engine)
        return page(
            request,
            "incidents.html",
            who,
            rows=[views.incident_summary(r) for r in rows],
            status=chosen,
            category=category,
            statuses=STATUS_FILTERS,
            categories=counts,
        )

    async def _incident(incident_id: int) -> dict[str, Any]:
        row = await asyncio.to_thread(store.get_incident, engine, incident_id)
        if row is None:
            raise HTTPException(404, f"there is no incident {incident_id}")
        return row

    @router.get("/incidents/{incident_id}", response_class=HTMLResponse)
    async def incident(request: Request, incident_id: IncidentId, who: Principal = viewer) -> HTMLResponse:
        row = await _incident(incident_id)
        detail = views.incident_detail(row)
        entries = await asyncio.to_thread(audit.list_entries, engine, subject=f"incident:{incident_id}")
        return page(
            request,
            "incident.html",
            who,
            incident=detail,
            payload=mask_keys(detail["payload"]),
            unknown=suggestions_of(row),
            audit=entries,
        )

    @router.get("/incidents/{incident_id}/status", response_class=HTMLResponse)
    async def incident_status(
        request: Request, incident_id: IncidentId, who: Principal = viewer
    ) -> HTMLResponse:
        """The status badge alone: htmx polls it while a retry runs."""
        row = await _incident(incident_id)
        return page(request, "incident_status.html", who, incident=views.incident_summary(row))

    async def act(path: str, work: Awaitable[ActionResult]) -> RedirectResponse:
        try:
            result = await work
        except ActionError as exc:
            return _back(path, error=exc.message)
        return _back(path, msg=_done(result))

    @router.post("/incidents/{incident_id}/retry")
    async def retry(incident_id: IncidentId, who: Principal = operator) -> Response:
        return await act(f"/incidents/{incident_id}", actions.retry_incident(incident_id, who.username))

    @router.post("/incidents/{incident_id}/discard")
    async def discard(
        incident_id: IncidentId, reason: Annotated[str, Form(max_length=2000)] = "", who: Principal = operator
    ) -> Response:
        return await act(
            f"/incidents/{incident_id}", actions.discard_incident(incident_id, who.username, reason)
        )

    @router.post("/incidents/{incident_id}/accept")
    async def accept(
        incident_id: IncidentId,
        item_number: Annotated[str, Form(max_length=15)],
        sku: Annotated[str, Form(max_length=100)] = "",
        target: Annotated[str, Form(max_length=10)] = "alias",
        back: Annotated[str, Form(max_length=20)] = "",
        who: Principal = operator,
    ) -> Response:
        path = "/skus" if back == "skus" else f"/incidents/{incident_id}"
        return await act(
            path,
            actions.accept_suggestion(
                incident_id,
                who.username,
                item_number,
                "local" if target == "local" else "alias",
                sku=sku or None,
            ),
        )

    @router.post("/incidents/retry-category")
    async def retry_category(
        category: Annotated[str, Form(min_length=1, max_length=40)], who: Principal = operator
    ) -> Response:
        return await act(
            f"/incidents?{urlencode({'category': category})}",
            actions.retry_category(category, who.username),
        )

    # -- SKU review ------------------------------------------------------------------------------

    def sku_review() -> list[dict[str, Any]]:
        rows = store.list_incidents(engine, status="open", category=SKU_CATEGORY, limit=5000)
        by_sku: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda r: r["id"]):
            for unknown in suggestions_of(row):
                entry = by_sku.setdefault(
                    unknown["sku"],
                    {"sku": unknown["sku"], "incident_id": row["id"], "orders": [], "suggestions": []},
                )
                entry["orders"].append(row["subject"])
                if not entry["suggestions"]:
                    entry["suggestions"] = unknown["suggestions"]
        return sorted(by_sku.values(), key=lambda e: (-len(e["orders"]), e["sku"]))

    @router.get("/skus", response_class=HTMLResponse)
    async def skus(request: Request, who: Principal = viewer) -> HTMLResponse:
        return page(request, "skus.html", who, skus=await asyncio.to_thread(sku_review))

    # -- settlements, inventory (what their flows recorded) -------------------------------------

    @router.get("/settlements", response_class=HTMLResponse)
    async def settlement_list(request: Request, status: str = "", who: Principal = viewer) -> HTMLResponse:
        rows = await asyncio.to_thread(settlements.list_all, engine, status=status[:20] or None, limit=500)
        return page(request, "settlements.html", who, rows=rows, status=status)

    @router.get("/settlements/{settlement_id}", response_class=HTMLResponse)
    async def settlement(request: Request, settlement_id: str, who: Principal = viewer) -> HTMLResponse:
        row = await asyncio.to_thread(settlements.get, engine, settlement_id[:40])
        if row is None:
            raise HTTPException(404, f"there is no settlement {settlement_id}")
        found = await asyncio.to_thread(
            store.list_incidents, engine, status=None, subject=row["settlement_id"], limit=100
        )
        return page(
            request,
            "settlement.html",
            who,
            s=row,
            report=row.get("reconciliation") or {},
            rows=[views.incident_summary(r) for r in found],
        )

    @router.get("/inventory", response_class=HTMLResponse)
    async def inventory(request: Request, who: Principal = viewer) -> HTMLResponse:
        data = await asyncio.to_thread(dashboard.inventory_view, engine)
        return page(request, "inventory.html", who, **data)

    # -- audit log, users ----------------------------------------------------------------------------

    @router.get("/audit", response_class=HTMLResponse)
    async def audit_log(
        request: Request, actor: str = "", action: str = "", subject: str = "", who: Principal = viewer
    ) -> HTMLResponse:
        entries = await asyncio.to_thread(
            audit.list_entries,
            engine,
            actor=actor[:100] or None,
            action=action[:40] or None,
            subject=subject[:200] or None,
            limit=500,
        )
        return page(request, "audit.html", who, entries=entries, actor=actor, action=action, subject=subject)

    @router.get("/users", response_class=HTMLResponse)
    async def user_list(request: Request, who: Principal = admin) -> HTMLResponse:
        people = await asyncio.to_thread(users.list_users, engine)
        tokens = await asyncio.to_thread(users.list_tokens, engine)
        return page(request, "users.html", who, people=people, tokens=tokens)

    return router
