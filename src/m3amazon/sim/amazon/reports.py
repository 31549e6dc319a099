"""Simulated reports: requested reports processed on the simulated clock, and settlement reports.

- createReport accepts GET_MERCHANT_LISTINGS_ALL_DATA (a listings TSV made from the simulated
  listings when the report is DONE, after two ticks) and refuses the settlement types: Amazon
  generates settlement reports itself and they "cannot be requested or scheduled" (research §1.4),
  so createReport answers 400 for them. Other report types are refused as the sandbox's invalid
  type example is ("Invalid input").
- Settlement reports are added DONE when a financial event group closes (lifecycle).
- getReports filters by type (required unless a nextToken is given, and then it must come alone),
  status, marketplace and creation time (default: the last 90 days), newest first.

Guarded by the account's lock (see state.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from m3amazon.sim.amazon.params import iso

SETTLEMENT_V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
#: Settlement report types: never creatable (the retired ones included).
SETTLEMENT_TYPES = frozenset(
    {SETTLEMENT_V2, "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE", "GET_V2_SETTLEMENT_REPORT_DATA_XML"}
)
MERCHANT_LISTINGS = "GET_MERCHANT_LISTINGS_ALL_DATA"
REQUESTABLE = frozenset({MERCHANT_LISTINGS})
RETENTION = timedelta(days=90)
IN_QUEUE, IN_PROGRESS, DONE = "IN_QUEUE", "IN_PROGRESS", "DONE"


@dataclass
class ReportRecord:
    report_id: str
    report_type: str
    marketplace_ids: list[str]
    created: datetime
    status: str = IN_QUEUE
    data_start: datetime | None = None
    data_end: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    document_id: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "reportId": self.report_id,
            "reportType": self.report_type,
            "marketplaceIds": list(self.marketplace_ids),
            "createdTime": iso(self.created),
            "processingStatus": self.status,
        }
        for key, value in (
            ("dataStartTime", self.data_start),
            ("dataEndTime", self.data_end),
            ("processingStartTime", self.started),
            ("processingEndTime", self.ended),
        ):
            if value is not None:
                report[key] = iso(value)
        if self.document_id:
            report["reportDocumentId"] = self.document_id
        return report


class ReportStore:
    def __init__(self) -> None:
        self.reports: dict[str, ReportRecord] = {}
        self._next = 70_000_000_000

    def add(self, report_type: str, marketplace_ids: list[str], now: datetime, **fields: Any) -> ReportRecord:
        self._next += 1
        record = ReportRecord(str(self._next), report_type, marketplace_ids, now, **fields)
        self.reports[record.report_id] = record
        return record

    def get(self, report_id: str) -> ReportRecord | None:
        return self.reports.get(report_id)

    def unfinished(self) -> list[ReportRecord]:
        return [r for r in self.reports.values() if r.status in (IN_QUEUE, IN_PROGRESS)]

    def find(
        self,
        *,
        types: list[str],
        statuses: list[str],
        marketplaces: list[str],
        since: datetime,
        until: datetime | None,
    ) -> list[ReportRecord]:
        found = [
            r
            for r in self.reports.values()
            if r.report_type in types
            and (not statuses or r.status in statuses)
            and (not marketplaces or set(r.marketplace_ids) & set(marketplaces))
            and r.created >= since
            and (until is None or r.created <= until)
        ]
        return sorted(found, key=lambda r: (r.created, r.report_id), reverse=True)
