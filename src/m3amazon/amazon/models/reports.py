"""Reports API v2021-06-30: report listings, reports and report documents."""

from __future__ import annotations

from datetime import datetime

from m3amazon.amazon.models._base import AmazonModel

#: The only settlement report Amazon still produces (research §1.4); it cannot be requested.
SETTLEMENT_V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


class Report(AmazonModel):
    report_id: str
    report_type: str
    marketplace_ids: list[str] | None = None
    data_start_time: datetime | None = None
    data_end_time: datetime | None = None
    report_schedule_id: str | None = None
    created_time: datetime
    processing_status: str
    processing_start_time: datetime | None = None
    processing_end_time: datetime | None = None
    report_document_id: str | None = None


class GetReportsResponse(AmazonModel):
    reports: list[Report]


class CreateReportResponse(AmazonModel):
    report_id: str


class ReportDocument(AmazonModel):
    report_document_id: str
    url: str
    compression_algorithm: str | None = None
