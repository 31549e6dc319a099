"""Simulated feeds: createFeed, processing on the simulated clock, the processing report.

A feed goes IN_QUEUE -> IN_PROGRESS -> DONE (or FATAL), one step per tick (see lifecycle.advance).
Only JSON_LISTINGS_FEED is processed: the legacy flat-file and XML listing feeds were retired in
July 2025 (research §1.5), so createFeed refuses other types. Processing applies each message to the
listings with the same rules as patchListingsItem (listings.apply_patches) and writes a processing
report in Amazon's listings-feed-processing-report schema v2: per message the issues, and a
summary of messages processed, accepted and invalid. A document that is not a JSON listings feed
(not JSON, no header, another seller) ends FATAL with a report saying why.

Guarded by the account's lock (see state.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from m3amazon.sim.amazon.listings import ListingsBook
from m3amazon.sim.amazon.params import iso

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
IN_QUEUE, IN_PROGRESS, DONE, FATAL, CANCELLED = "IN_QUEUE", "IN_PROGRESS", "DONE", "FATAL", "CANCELLED"


@dataclass
class FeedRecord:
    feed_id: str
    feed_type: str
    marketplace_ids: list[str]
    input_document_id: str
    created: datetime
    status: str = IN_QUEUE
    started: datetime | None = None
    ended: datetime | None = None
    result_document_id: str | None = None

    def render(self) -> dict[str, Any]:
        feed: dict[str, Any] = {
            "feedId": self.feed_id,
            "feedType": self.feed_type,
            "marketplaceIds": list(self.marketplace_ids),
            "createdTime": iso(self.created),
            "processingStatus": self.status,
        }
        if self.started:
            feed["processingStartTime"] = iso(self.started)
        if self.ended:
            feed["processingEndTime"] = iso(self.ended)
        if self.result_document_id:
            feed["resultFeedDocumentId"] = self.result_document_id
        return feed


@dataclass
class QuantityChange:
    sku: str
    marketplace_id: str
    old: int | None
    new: int


@dataclass
class Processed:
    report: dict[str, Any]
    fatal: bool
    quantity_changes: list[QuantityChange] = field(default_factory=list)


class FeedStore:
    def __init__(self) -> None:
        self.feeds: dict[str, FeedRecord] = {}
        self._next = 50_000_000_000

    def create(
        self, feed_type: str, marketplace_ids: list[str], document_id: str, now: datetime
    ) -> FeedRecord:
        self._next += 1
        record = FeedRecord(str(self._next), feed_type, marketplace_ids, document_id, now)
        self.feeds[record.feed_id] = record
        return record

    def get(self, feed_id: str) -> FeedRecord | None:
        return self.feeds.get(feed_id)

    def unfinished(self) -> list[FeedRecord]:
        return [f for f in self.feeds.values() if f.status in (IN_QUEUE, IN_PROGRESS)]


def _issue(
    message_id: int | None, sku: str | None, code: str, message: str, severity: str = "ERROR"
) -> dict[str, Any]:
    issue: dict[str, Any] = {"code": code, "severity": severity, "message": message}
    if message_id is not None:
        issue["messageId"] = message_id
    if sku:
        issue["sku"] = sku
    return issue


def _report(
    seller_id: str, feed_id: str, issues: list[dict[str, Any]], processed: int, invalid: set[int]
) -> dict[str, Any]:
    return {
        "header": {"sellerId": seller_id, "version": "2.0", "feedId": feed_id},
        "issues": issues,
        "summary": {
            "errors": sum(1 for i in issues if i["severity"] == "ERROR"),
            "warnings": sum(1 for i in issues if i["severity"] == "WARNING"),
            "messagesProcessed": processed,
            "messagesAccepted": processed - len(invalid),
            "messagesInvalid": len(invalid),
        },
    }


def _patches_of(message: dict[str, Any]) -> list[Any] | None:
    """The JSON Patch operations a message stands for (PARTIAL_UPDATE and UPDATE replace attributes)."""
    operation = message.get("operationType")
    if operation == "PATCH":
        patches = message.get("patches")
        return patches if isinstance(patches, list) else None
    attributes = message.get("attributes")
    if not isinstance(attributes, dict) or not attributes:
        return None
    return [
        {"op": "replace", "path": f"/attributes/{name}", "value": value} for name, value in attributes.items()
    ]


def process_listings_feed(
    content: bytes | None,
    *,
    seller_id: str,
    feed_id: str,
    marketplace_ids: Sequence[str],
    listings: ListingsBook,
    now: datetime,
) -> Processed:
    try:
        document = json.loads((content or b"").decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Processed(
            _report(
                seller_id, feed_id, [_issue(None, None, "100001", "The feed is not valid JSON.")], 0, set()
            ),
            True,
        )
    header = document.get("header") if isinstance(document, dict) else None
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(header, dict) or header.get("version") != "2.0" or not isinstance(messages, list):
        issue = _issue(None, None, "100002", "The feed has no header with version 2.0 and messages array.")
        return Processed(_report(seller_id, feed_id, [issue], 0, set()), True)
    if header.get("sellerId") != seller_id:
        issue = _issue(None, None, "100003", "The sellerId in the feed header is not the submitting seller.")
        return Processed(_report(seller_id, feed_id, [issue], 0, set()), True)
    issues: list[dict[str, Any]] = []
    invalid: set[int] = set()
    changes: list[QuantityChange] = []
    for position, message in enumerate(messages, start=1):
        message = message if isinstance(message, dict) else {}
        given = message.get("messageId")
        message_id = given if isinstance(given, int) and not isinstance(given, bool) else position
        sku = message.get("sku") if isinstance(message.get("sku"), str) else None
        found = _apply_message(message, message_id, sku, marketplace_ids, listings, now, changes)
        if found:
            issues += found
            invalid.add(message_id)
    return Processed(_report(seller_id, feed_id, issues, len(messages), invalid), False, changes)


def _apply_message(
    message: dict[str, Any],
    message_id: int,
    sku: str | None,
    marketplace_ids: Sequence[str],
    listings: ListingsBook,
    now: datetime,
    changes: list[QuantityChange],
) -> list[dict[str, Any]]:
    operation = message.get("operationType")
    if not sku or operation not in ("UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE"):
        return [_issue(message_id, sku, "100004", "Each message needs a sku and an operationType.")]
    targets = [listings.get(sku, m) for m in marketplace_ids]
    if any(t is None for t in targets):
        return [_issue(message_id, sku, "4000009", f"The SKU {sku} has no listing in this marketplace.")]
    if operation == "DELETE":
        for marketplace in marketplace_ids:
            listings.listings.pop((sku, marketplace), None)
        return []
    patches = _patches_of(message)
    product_type = message.get("productType")
    if patches is None or not isinstance(product_type, str):
        return [
            _issue(message_id, sku, "100005", f"A {operation} message needs a productType and its content.")
        ]
    # Validate in every marketplace first, so a message is applied everywhere or nowhere.
    for listing in targets:
        assert listing is not None
        check = listings.apply_patches(listing, product_type, patches, now, validate_only=True)
        if check.issues:
            return [
                _issue(message_id, sku, i["code"], i["message"])
                | ({"attributeName": i["attributeNames"][0]} if i.get("attributeNames") else {})
                for i in check.issues
            ]
    for listing in targets:
        assert listing is not None
        outcome = listings.apply_patches(listing, product_type, patches, now)
        if outcome.quantity_change is not None:
            changes.append(QuantityChange(sku, listing.marketplace_id, *outcome.quantity_change))
    return []
