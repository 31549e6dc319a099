"""JSON_LISTINGS_FEED documents: MFN quantities -> feed, processing report -> per-SKU results. Pure.

The feed follows Amazon's listings-feed schema v2 (a reference test validates what we build):
a header with the seller id and version "2.0", then one PATCH message per SKU (the same `merge`
patch as `patchListingsItem`, see translate/listings.py), numbered from 1. The processing report
says per messageId what went wrong; a message without ERROR issues was accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from m3amazon.amazon.models.feeds import ProcessingReport, ReportIssue
from m3amazon.amazon.translate.listings import QUANTITY_PATH, quantity_value

FEED_VERSION = "2.0"
MAX_MESSAGES = 25_000


@dataclass(frozen=True)
class QuantityUpdate:
    """Set the seller-fulfilled quantity of `sku` (a listing of `product_type`) to `quantity`."""

    sku: str
    quantity: int
    product_type: str


@dataclass(frozen=True)
class QuantityResult:
    sku: str
    message_id: int
    accepted: bool
    issues: tuple[ReportIssue, ...] = field(default=())


def quantity_feed(seller_id: str, updates: Sequence[QuantityUpdate]) -> dict[str, Any]:
    """The JSON_LISTINGS_FEED document for `updates` (message ids are positions, from 1)."""
    if not updates:
        raise ValueError("a listings feed needs at least one message")
    if len(updates) > MAX_MESSAGES:
        raise ValueError(f"a listings feed holds at most {MAX_MESSAGES} messages, got {len(updates)}")
    return {
        "header": {"sellerId": seller_id, "version": FEED_VERSION},
        "messages": [
            {
                "messageId": number,
                "sku": update.sku,
                "operationType": "PATCH",
                "productType": update.product_type,
                "patches": [{"op": "merge", "path": QUANTITY_PATH, "value": quantity_value(update.quantity)}],
            }
            for number, update in enumerate(updates, start=1)
        ],
    }


def quantity_results(report: ProcessingReport, updates: Sequence[QuantityUpdate]) -> list[QuantityResult]:
    """One result per update sent, in order: accepted unless the report has ERROR issues for it."""
    errors = report.errors_by_message()
    by_message: dict[int, list[ReportIssue]] = {}
    for issue in report.issues:
        if issue.message_id is not None:
            by_message.setdefault(issue.message_id, []).append(issue)
    return [
        QuantityResult(
            sku=update.sku,
            message_id=number,
            accepted=number not in errors,
            issues=tuple(by_message.get(number, ())),
        )
        for number, update in enumerate(updates, start=1)
    ]
