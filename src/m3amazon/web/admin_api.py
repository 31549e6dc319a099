"""The admin API: orders, incidents and the audit log as JSON, and the operators' actions on incidents.

A thin HTTP face on ops/views.py (what to show) and ops/actions.py (what to do), the same services
the `m3amazon incidents` and `m3amazon order` commands use. Response models are typed so the
OpenAPI schema at /docs tells a client exactly what it gets.

Who acts: every route needs a user (web/auth.py): an API token (`Authorization: Bearer ...`) or
the console's session (with its CSRF token on writes). Reading needs the viewer role, acting the
operator role; the actor in the audit log is the authenticated user.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import AfterValidator, BaseModel, Field

from m3amazon.bootstrap import Runtime
from m3amazon.ops import audit, views
from m3amazon.ops import incidents as store
from m3amazon.ops.actions import ActionError, ActionResult, OperatorActions, shared_client
from m3amazon.ops.users import Principal
from m3amazon.web.auth import WebAuth

_STATUS = {"not_found": 404, "conflict": 409, "invalid": 422, "unavailable": 503}
StatusFilter = Literal["open", "retrying", "resolved", "discarded", "all"]


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes (written as UTC): answer RFC 3339 times with their offset."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


#: An incident's number (the column is a 32-bit integer on PostgreSQL).
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the incident's number")]
#: A moment as RFC 3339 with its offset (the schema's `date-time`).
Moment = Annotated[datetime, AfterValidator(_utc)]


# -- response and request models ------------------------------------------------------------


class IncidentSummary(BaseModel):
    id: int
    key: str
    category: str
    reason_code: str
    message: str
    subject: str | None = None
    actions: list[str] = Field(description="what an operator can do about it")
    status: str = Field(description="open, retrying, resolved or discarded")
    resolution: str | None = None
    occurrences: int
    created_at: Moment
    updated_at: Moment


class IncidentDetail(IncidentSummary):
    payload: Any = Field(
        None,
        description="the original input (an order incident: event, order with personal data masked, "
        "problems with SKU suggestions)",
    )


class IncidentState(BaseModel):
    """An incident's state as the audit log records it."""

    id: int
    key: str
    category: str
    reason_code: str
    subject: str | None = None
    status: str
    resolution: str | None = None
    occurrences: int


class TimelineEntry(BaseModel):
    id: int
    kind: str = Field(description="received, created, delivered, shipped, invoiced, incident, retry, ...")
    summary: str
    detail: str | None = None
    workflow_id: str | None = None
    at: Moment


class OrderDetail(BaseModel):
    """The order's trail (where it stands), its timeline and its incidents."""

    amazon_order_id: str
    outcome: str | None = None
    marketplace_id: str | None = None
    channel: str | None = None
    amazon_status: str | None = None
    m3_customer: str | None = None
    m3_order_number: str | None = None
    workflow_id: str | None = None
    detail: str | None = None
    currency: str | None = None
    goods_total: str | None = Field(None, description="decimal as text, exact")
    order_total: str | None = Field(None, description="decimal as text, exact")
    m3_invoiced_total: str | None = Field(None, description="decimal as text, exact")
    created_at: Moment | None = None
    updated_at: Moment | None = None
    timeline: list[TimelineEntry]
    incidents: list[IncidentSummary]


class RetriedOrder(BaseModel):
    incident_id: IncidentId
    amazon_order_id: str
    workflow_id: str


class SkippedIncident(BaseModel):
    incident_id: IncidentId
    reason: str


class ActionOutcome(BaseModel):
    action: str
    incident: IncidentState | None = None
    retried: list[RetriedOrder] = []
    skipped: list[SkippedIncident] = []
    notes: list[str] = []
    audit_ids: list[int] = []


class AuditRecord(BaseModel):
    id: int
    at: Moment
    actor: str
    action: str
    subject: str
    before: Any = None
    after: Any = None
    reason: str | None = None


class RetryRequest(BaseModel):
    reason: str | None = Field(None, max_length=500)


class DiscardRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why no action is needed (audited)")


class AcceptRequest(BaseModel):
    item_number: str = Field(min_length=1, max_length=15, description="the M3 item (ITNO) the SKU is")
    target: Literal["alias", "local"] = Field(
        "alias", description="alias: an MMS025MI alias in M3; local: the mapping file's items.sku_to_item"
    )
    sku: str | None = Field(None, description="which unknown SKU, when the incident names several")


class CategoryRequest(BaseModel):
    category: str = Field(min_length=1, max_length=40)


class Problem(BaseModel):
    """Why a request was refused: a sentence, or (422 from validation) the fields that are wrong."""

    detail: str | list[dict[str, Any]]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        401: "no user: send an API token as a bearer token",
        403: "the user's role does not allow it, or the session's CSRF token is missing",
        404: "no such order or incident",
        409: "the incident is not in a state the action applies to",
        422: "the request is not valid (the fields that are wrong, or a sentence saying why)",
        503: "the action needs a system that cannot be reached now (M3, the engine)",
    }
    return {code: {"model": Problem, "description": meaning[code]} for code in (401, 403, 422, *codes)}


# -- the router -----------------------------------------------------------------------------


def _fail(exc: ActionError) -> NoReturn:
    raise HTTPException(_STATUS[exc.kind], exc.message) from exc


def _outcome(result: ActionResult) -> ActionOutcome:
    return ActionOutcome.model_validate(result.as_dict())


def admin_router(actions: OperatorActions, auth: WebAuth) -> APIRouter:
    """The routes under /api: reading needs a viewer, acting an operator (web/auth.py)."""
    router = APIRouter(prefix="/api", tags=["admin"], dependencies=[Depends(auth.api("viewer"))])
    engine = actions.engine
    operator = Depends(auth.api("operator"))

    @router.get("/orders/{amazon_order_id}", response_model=OrderDetail, responses=_errors(404))
    async def get_order(amazon_order_id: str) -> OrderDetail:
        view = await asyncio.to_thread(views.order_view, engine, amazon_order_id)
        if view is None:
            raise HTTPException(404, f"no trail for Amazon order {amazon_order_id}")
        return OrderDetail.model_validate(
            {
                **(view.trail or {}),
                "amazon_order_id": amazon_order_id,
                "timeline": view.timeline,
                "incidents": view.incidents,
            }
        )

    @router.get("/incidents", response_model=list[IncidentSummary], responses=_errors())
    async def list_incidents(
        status: StatusFilter = "open",
        category: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(
            store.list_incidents,
            engine,
            status=None if status == "all" else status,
            category=category,
            limit=limit,
        )
        return [views.incident_summary(r) for r in rows]  # payloads one incident at a time

    @router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses=_errors(404))
    async def get_incident(incident_id: IncidentId) -> dict[str, Any]:
        row = await asyncio.to_thread(store.get_incident, engine, incident_id)
        if row is None:
            raise HTTPException(404, f"there is no incident {incident_id}")
        return views.incident_detail(row)

    @router.post("/incidents/retry-category", response_model=ActionOutcome, responses=_errors(503))
    async def retry_category(body: CategoryRequest, who: Principal = operator) -> ActionOutcome:
        try:
            return _outcome(await actions.retry_category(body.category, who.username))
        except ActionError as exc:
            _fail(exc)

    @router.post(
        "/incidents/{incident_id}/retry", response_model=ActionOutcome, responses=_errors(404, 409, 503)
    )
    async def retry(
        incident_id: IncidentId, body: RetryRequest | None = None, who: Principal = operator
    ) -> ActionOutcome:
        try:
            return _outcome(
                await actions.retry_incident(incident_id, who.username, reason=body.reason if body else None)
            )
        except ActionError as exc:
            _fail(exc)

    @router.post(
        "/incidents/{incident_id}/discard", response_model=ActionOutcome, responses=_errors(404, 409)
    )
    async def discard(
        incident_id: IncidentId, body: DiscardRequest, who: Principal = operator
    ) -> ActionOutcome:
        try:
            return _outcome(await actions.discard_incident(incident_id, who.username, body.reason))
        except ActionError as exc:
            _fail(exc)

    @router.post(
        "/incidents/{incident_id}/accept-suggestion",
        response_model=ActionOutcome,
        responses=_errors(404, 409, 503),
    )
    async def accept_suggestion(
        incident_id: IncidentId, body: AcceptRequest, who: Principal = operator
    ) -> ActionOutcome:
        try:
            result = await actions.accept_suggestion(
                incident_id, who.username, body.item_number, body.target, sku=body.sku
            )
        except ActionError as exc:
            _fail(exc)
        return _outcome(result)

    @router.get("/audit", response_model=list[AuditRecord], responses=_errors())
    async def audit_log(
        subject: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        entries = await asyncio.to_thread(
            audit.list_entries, engine, subject=subject, actor=actor, action=action, limit=limit
        )
        return [vars(e) for e in entries]

    return router


def worker_actions(rt: Runtime) -> OperatorActions:
    """The actions as a worker offers them: retries through its engine, M3 through its own client."""
    from m3amazon.flows.dispatch import retry_order
    from m3amazon.mapping import load_mappings

    def reload_mappings(path: Any) -> None:
        rt.mappings = load_mappings(path)  # the next run of any order uses the new table

    return OperatorActions(
        engine=rt.engine,
        enqueue=retry_order,
        mappings=lambda: rt.mappings,
        mapping_file=rt.settings.mapping_file,
        m3=lambda: shared_client(rt.m3),
        on_mapping_written=reload_mappings,
    )
