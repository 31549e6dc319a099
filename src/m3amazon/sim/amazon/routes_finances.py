"""Finances v0 (listFinancialEventGroups, listFinancialEventsByGroupId) and v2024-06-19
(listTransactions), from the simulated finance ledger (finances.py).

Rules from the models: the Before bounds must be after their After bound and more than two
minutes (/ time_scale) in the past; MaxResultsPerPage 1-100; an unknown event group id is 400
"Bad event group ID provided." (the sandbox's answer); listTransactions needs postedAfter unless a
related identifier (FINANCIAL_EVENT_GROUP_ID or ORDER_ID, the only filterable ones) is given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from m3amazon.sim.amazon.finances import FinanceEvent, render_group, render_transaction, render_v0_event
from m3amazon.sim.amazon.params import Params, SpApiError, bad, fingerprint, make_token, page, read_token
from m3amazon.sim.amazon.simulator import AmazonSimulator

_GROUP_PARAMS = (
    "MaxResultsPerPage",
    "FinancialEventGroupStartedBefore",
    "FinancialEventGroupStartedAfter",
    "NextToken",
)
_EVENT_PARAMS = ("MaxResultsPerPage", "PostedAfter", "PostedBefore", "NextToken")
_TX_PARAMS = (
    "postedAfter",
    "postedBefore",
    "marketplaceId",
    "transactionStatus",
    "relatedIdentifierName",
    "relatedIdentifierValue",
    "nextToken",
)
TX_PAGE = 50


def _window(
    sim: AmazonSimulator, after: datetime | None, before: datetime | None, names: tuple[str, str]
) -> None:
    if before is not None and (before > sim.now() - sim.lag or (after is not None and before <= after)):
        raise bad(f"{names[1]} must be later than {names[0]} and more than two minutes before now.")
    if after is not None and after > sim.now() - sim.lag:
        raise bad(f"{names[0]} must be more than two minutes before now.")


def _offset(params: Params, name: str, filters: str) -> int:
    token = params.get(name)
    return int(read_token(token, filters, name)["o"]) if token else 0


def list_groups(sim: AmazonSimulator, params: Params) -> dict[str, Any]:
    size = params.int("MaxResultsPerPage", 10, 1, 100)
    after, before = (
        params.time("FinancialEventGroupStartedAfter"),
        params.time("FinancialEventGroupStartedBefore"),
    )
    _window(sim, after, before, ("FinancialEventGroupStartedAfter", "FinancialEventGroupStartedBefore"))
    filters = fingerprint({"a": str(after), "b": str(before), "s": size})
    groups = [
        g
        for g in sim.account.finances.groups
        if (after is None or g.start >= after) and (before is None or g.start < before)
    ]
    chunk, next_offset = page(groups, _offset(params, "NextToken", filters), size)
    payload: dict[str, Any] = {"FinancialEventGroupList": [render_group(g) for g in chunk]}
    if next_offset is not None:
        payload["NextToken"] = make_token(filters, next_offset)
    return {"payload": payload}


def list_events(sim: AmazonSimulator, group_id: str, params: Params) -> dict[str, Any]:
    group = sim.account.finances.group(group_id)
    if group is None:
        raise SpApiError(400, "InvalidInput", "Bad event group ID provided.")
    size = params.int("MaxResultsPerPage", 100, 1, 100)
    after, before = params.time("PostedAfter"), params.time("PostedBefore")
    _window(sim, after, before, ("PostedAfter", "PostedBefore"))
    filters = fingerprint({"g": group_id, "a": str(after), "b": str(before), "s": size})
    events = [
        e
        for e in group.events
        if (after is None or e.posted >= after) and (before is None or e.posted < before)
    ]
    chunk, next_offset = page(events, _offset(params, "NextToken", filters), size)
    shipments = [render_v0_event(e) for e in chunk if e.kind == "Order"]
    refunds = [render_v0_event(e) for e in chunk if e.kind == "Refund"]
    lists: dict[str, Any] = {}
    if shipments:
        lists["ShipmentEventList"] = shipments
    if refunds:
        lists["RefundEventList"] = refunds
    payload: dict[str, Any] = {"FinancialEvents": lists}
    if next_offset is not None:
        payload["NextToken"] = make_token(filters, next_offset)
    return {"payload": payload}


def list_transactions(sim: AmazonSimulator, params: Params) -> dict[str, Any]:
    after, before = params.time("postedAfter"), params.time("postedBefore")
    name, value = params.get("relatedIdentifierName"), params.get("relatedIdentifierValue")
    if name is not None and name not in ("FINANCIAL_EVENT_GROUP_ID", "ORDER_ID"):
        raise bad("relatedIdentifierName must be FINANCIAL_EVENT_GROUP_ID or ORDER_ID.")
    if (name is None) != (value is None):
        raise bad("relatedIdentifierName and relatedIdentifierValue go together.")
    if after is None and name is None:
        raise SpApiError(400, "InvalidInput", "Start date cannot be null", "Start date cannot be null")
    _window(sim, after, before, ("postedAfter", "postedBefore"))
    marketplace, status = params.get("marketplaceId"), params.get("transactionStatus")
    filters = fingerprint({k: params.get(k) for k in _TX_PARAMS if k != "nextToken"})
    rows: list[tuple[FinanceEvent, Any]] = []
    for group in sim.account.finances.groups:
        if name == "FINANCIAL_EVENT_GROUP_ID" and group.group_id != value:
            continue
        for event in group.events:
            if name == "ORDER_ID" and event.order_id != value:
                continue
            if (after and event.posted < after) or (before and event.posted >= before):
                continue
            if marketplace and event.marketplace_id != marketplace:
                continue
            rows.append((event, group))
    rendered = [
        render_transaction(e, g, sim.account.seller_id) for e, g in sorted(rows, key=lambda r: r[0].posted)
    ]
    if status:
        rendered = [t for t in rendered if t["transactionStatus"] == status]
    chunk, next_offset = page(rendered, _offset(params, "nextToken", filters), TX_PAGE)
    payload: dict[str, Any] = {"transactions": chunk}
    if next_offset is not None:
        payload["nextToken"] = make_token(filters, next_offset)
    return {"payload": payload}


def router(sim: AmazonSimulator) -> APIRouter:
    routes = APIRouter()

    @routes.get("/finances/v0/financialEventGroups")
    async def groups(request: Request) -> Response:
        pairs = list(request.query_params.multi_items())
        return await sim.serve(
            request, "listFinancialEventGroups", lambda: list_groups(sim, Params(pairs, _GROUP_PARAMS))
        )

    @routes.get("/finances/v0/financialEventGroups/{eventGroupId}/financialEvents")
    async def events(eventGroupId: str, request: Request) -> Response:
        pairs = list(request.query_params.multi_items())
        return await sim.serve(
            request,
            "listFinancialEventsByGroupId",
            lambda: list_events(sim, eventGroupId, Params(pairs, _EVENT_PARAMS)),
        )

    @routes.get("/finances/2024-06-19/transactions")
    async def transactions(request: Request) -> Response:
        pairs = list(request.query_params.multi_items())
        return await sim.serve(
            request, "listTransactions", lambda: list_transactions(sim, Params(pairs, _TX_PARAMS))
        )

    return routes
