"""Feeds API v2021-06-30 and the JSON_LISTINGS_FEED documents (feed and processing report).

The feed documents follow Amazon's listings-feed schemas v2 (header + messages; header + issues +
summary): the product builds the feed with `m3amazon.amazon.translate.feeds` and reads the
processing report back into `ProcessingReport`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from m3amazon.amazon.models._base import AmazonModel

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
#: The content type we declare for JSON feed documents (Amazon's examples use this spelling).
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
DONE, CANCELLED, FATAL = "DONE", "CANCELLED", "FATAL"
FINISHED = frozenset({DONE, CANCELLED, FATAL})


class CreateFeedDocumentResponse(AmazonModel):
    feed_document_id: str
    url: str


class CreateFeedResponse(AmazonModel):
    feed_id: str


class Feed(AmazonModel):
    feed_id: str
    feed_type: str
    marketplace_ids: list[str] | None = None
    created_time: datetime
    processing_status: str
    processing_start_time: datetime | None = None
    processing_end_time: datetime | None = None
    result_feed_document_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.processing_status in FINISHED


class FeedDocument(AmazonModel):
    feed_document_id: str
    url: str
    compression_algorithm: str | None = None


class ReportIssue(AmazonModel):
    message_id: int | None = None
    sku: str | None = None
    code: str | None = None
    severity: str
    message: str
    attribute_name: str | None = None


class ReportSummary(AmazonModel):
    errors: int
    warnings: int
    messages_processed: int
    messages_accepted: int
    messages_invalid: int


class ProcessingReportHeader(AmazonModel):
    seller_id: str
    version: str
    feed_id: str


class ProcessingReport(AmazonModel):
    """A JSON_LISTINGS_FEED processing report: which messages were accepted, and why not."""

    header: ProcessingReportHeader
    issues: list[ReportIssue] = Field(default_factory=list)
    summary: ReportSummary
    items: list[dict[str, Any]] | None = None

    def errors_by_message(self) -> dict[int, list[ReportIssue]]:
        """The ERROR issues per messageId (a message with errors was not applied)."""
        found: dict[int, list[ReportIssue]] = {}
        for issue in self.issues:
            if issue.severity == "ERROR" and issue.message_id is not None:
                found.setdefault(issue.message_id, []).append(issue)
        return found
