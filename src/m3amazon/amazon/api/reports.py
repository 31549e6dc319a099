"""Reports v2021-06-30: find reports, read their documents; settlement reports in particular.

Settlement reports (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2) cannot be requested: Amazon
generates them and the seller lists them with getReports (research §1.4), so the product never
calls createReport for them. `getReports` takes its filters or a `nextToken` alone (model text).
The library's `get_report` adds undeclared marketplace parameters and `get_report_document`
downloads with its own call, so all three go through `ApiBase.send`; documents are downloaded with
`DocumentTransfer` (gzip, charset fallback, retries of cut-short downloads).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sp_api.asyncio.api import Reports

from m3amazon.amazon.api._base import ApiBase
from m3amazon.amazon.api.documents import DocumentTransfer
from m3amazon.amazon.api.feeds import _download
from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.amazon.models.reports import SETTLEMENT_V2, GetReportsResponse, Report, ReportDocument
from m3amazon.amazon.translate.reports import SettlementReport, parse_settlement

GET_REPORTS, GET_REPORT, GET_REPORT_DOCUMENT = "getReports", "getReport", "getReportDocument"
BASE = "/reports/2021-06-30"


class ReportsApi(ApiBase):
    library = Reports

    def __init__(self, gateway: AmazonGateway, documents: DocumentTransfer | None = None) -> None:
        super().__init__(gateway)
        self.documents = documents or DocumentTransfer(self.client._transport._client)

    async def reports(
        self,
        report_types: Sequence[str],
        *,
        statuses: Sequence[str] | None = None,
        marketplace_ids: Sequence[str] | None = None,
        created_since: datetime | None = None,
        created_until: datetime | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Report]:
        """Every report of `report_types` (newest first, as Amazon lists them), page by page."""
        params: dict[str, object] = {
            "reportTypes": list(report_types),
            "processingStatuses": list(statuses) if statuses else None,
            "marketplaceIds": list(marketplace_ids) if marketplace_ids else None,
            "createdSince": created_since,
            "createdUntil": created_until,
            "pageSize": page_size,
        }
        while True:
            response, page = await self.send(
                GET_REPORTS, "GET", BASE + "/reports", params=params, model=GetReportsResponse
            )
            assert page is not None
            for report in page.reports:
                yield report
            if not response.next_token:
                return
            params = {"nextToken": response.next_token}  # the token goes alone

    async def report(self, report_id: str) -> Report:
        return await self.fetch(
            GET_REPORT, "GET", BASE + "/reports/{id}", Report, path_params={"id": report_id}
        )

    async def report_document(self, document_id: str) -> ReportDocument:
        return await self.fetch(
            GET_REPORT_DOCUMENT,
            "GET",
            BASE + "/documents/{id}",
            ReportDocument,
            path_params={"id": document_id},
        )

    async def document_text(self, document_id: str) -> str:
        """A report document's text (gunzipped, decoded; the URL fetched anew once if it expired)."""
        return await _download(self.report_document, self.documents, document_id)

    async def settlement_reports(self, *, created_since: datetime | None = None) -> AsyncIterator[Report]:
        """The finished V2 flat-file settlement reports (Amazon keeps reports for 90 days)."""
        async for report in self.reports([SETTLEMENT_V2], statuses=["DONE"], created_since=created_since):
            if report.report_document_id:
                yield report

    async def settlement(self, report: Report) -> SettlementReport:
        """A settlement report's summary and lines, in canonical money."""
        if not report.report_document_id:
            raise ValueError(f"report {report.report_id} has no document yet ({report.processing_status})")
        return parse_settlement(await self.document_text(report.report_document_id))
