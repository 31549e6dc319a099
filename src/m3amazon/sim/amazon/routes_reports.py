"""Reports v2021-06-30: createReport, getReports, getReport, getReportDocument.

Rules (model text and research §3.7): getReports needs reportTypes (1-10) unless nextToken is
given, and a nextToken must come alone; pageSize 1-100 (default 10); createdSince defaults to 90
days ago; newest first. Settlement reports cannot be created (reports.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from m3amazon.sim.amazon import lifecycle
from m3amazon.sim.amazon.params import Params, bad, fingerprint, make_token, page, parse_time, read_token
from m3amazon.sim.amazon.reports import RETENTION
from m3amazon.sim.amazon.routes_feeds import document_answer
from m3amazon.sim.amazon.simulator import AmazonSimulator

BASE = "/reports/2021-06-30"
_LIST_PARAMS = (
    "reportTypes",
    "processingStatuses",
    "marketplaceIds",
    "pageSize",
    "createdSince",
    "createdUntil",
    "nextToken",
)
_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")


def get_reports(sim: AmazonSimulator, params: Params) -> dict[str, Any]:
    token = params.get("nextToken")
    if token is not None:
        if len(params.single) > 1:
            raise bad("nextToken must be the only parameter when it is given.")
        data = read_token(token, None)
        filters = data["q"]
        offset = int(data["o"])
    else:
        types = params.list("reportTypes", max_items=10)
        if not types:
            raise bad("reportTypes is required when nextToken is not given.")
        since = params.time("createdSince") or (sim.now() - RETENTION)
        until = params.time("createdUntil")
        filters = {
            "types": types,
            "statuses": params.list("processingStatuses", allowed=_STATUSES),
            "marketplaces": params.list("marketplaceIds", max_items=10),
            "since": since.isoformat(),
            "until": until.isoformat() if until else None,
            "size": params.int("pageSize", 10, 1, 100),
        }
        offset = 0
    found = sim.account.reports.find(
        types=filters["types"],
        statuses=filters["statuses"],
        marketplaces=filters["marketplaces"],
        since=parse_time(filters["since"], "createdSince"),  # type: ignore[arg-type]
        until=parse_time(filters["until"], "createdUntil"),
    )
    chunk, next_offset = page(found, offset, int(filters["size"]))
    body: dict[str, Any] = {"reports": [r.render() for r in chunk]}
    if next_offset is not None:
        body["nextToken"] = make_token(fingerprint(filters), next_offset, q=filters)
    return body


def router(sim: AmazonSimulator) -> APIRouter:
    routes = APIRouter()
    account = sim.account

    @routes.post(BASE + "/reports")
    async def create_report(request: Request) -> Response:
        return await sim.serve(
            request,
            "createReport",
            lambda body: {"reportId": lifecycle.create_report(account, body, sim.now())},
            status=202,
            with_body=True,
        )

    @routes.get(BASE + "/reports")
    async def list_reports(request: Request) -> Response:
        pairs = list(request.query_params.multi_items())
        return await sim.serve(request, "getReports", lambda: get_reports(sim, Params(pairs, _LIST_PARAMS)))

    @routes.get(BASE + "/reports/{reportId}")
    async def get_report(reportId: str, request: Request) -> Response:
        def run() -> dict[str, Any]:
            Params(request.query_params.multi_items(), ())
            report = account.reports.get(reportId)
            if report is None:
                raise bad("Invalid input", f"Unknown reportId {reportId[:40]}.")
            return report.render()

        return await sim.serve(request, "getReport", run)

    @routes.get(BASE + "/documents/{reportDocumentId}")
    async def get_report_document(reportDocumentId: str, request: Request) -> Response:
        def run() -> dict[str, Any]:
            Params(request.query_params.multi_items(), ("enableContentEncodingUrlHeader",))
            known = (r.document_id for r in account.reports.reports.values())
            return document_answer(sim, request, "reportDocumentId", reportDocumentId, known)

        return await sim.serve(request, "getReportDocument", run)

    return routes
