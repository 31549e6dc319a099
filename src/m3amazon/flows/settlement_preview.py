"""Open settlement periods previewed from the Finances API: what the GL postings would be so far.

PROVISIONAL, never posted: an open financial event group (Finances v0 `ProcessingStatus` Open)
still grows, its events can be adjusted before Amazon closes it, and only the settlement report of
the closed group is the document finance posts from. The preview reads the group's shipment and
refund events (Finances v0 `listFinancialEventsByGroupId`), turns them into settlement lines with
the same triples as the settlement report (`ShippingCharge` is called `Shipping` there), and plans
them with the GL table exactly as the settlement flow would - so unmapped triples show up before
the settlement arrives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from m3amazon.amazon.api.finances import FinancesApi
from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.amazon.settlement_file import Group, SettlementDigest
from m3amazon.amazon.translate.finances import lines_from_events
from m3amazon.canonical import SettlementLine
from m3amazon.flows.settlement_plan import SettlementPlan, plan_settlement
from m3amazon.mapping.gl import GLMapping

#: Finances v0 charge names that the settlement report writes differently (research §11.4).
REPORT_NAMES = {"ShippingCharge": "Shipping"}


def digest_of_lines(group_id: str, currency: str, lines: list[SettlementLine]) -> SettlementDigest:
    """Settlement lines (from the Finances API) as a digest the planner takes (pure)."""
    sums: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for n, line in enumerate(lines, start=1):
        posted = line.posted_at or datetime.now(UTC)
        description = REPORT_NAMES.get(line.amount_description, line.amount_description)
        key = (posted.strftime("%Y-%m"), line.transaction_type, line.amount_type, description)
        acc = sums.setdefault(
            key, {"amount": Decimal(0), "count": 0, "quantity": 0, "day": posted.date(), "first": n}
        )
        acc["amount"] += line.amount.amount
        acc["count"] += 1
        acc["quantity"] += line.quantity or 0
        acc["day"] = max(acc["day"], posted.date())
    groups = tuple(
        Group(period, a["day"], tt, at, ad, a["amount"], a["count"], a["quantity"], a["first"])
        for (period, tt, at, ad), a in sorted(sums.items())
    )
    total = sum((line.amount.amount for line in lines), Decimal(0))
    return SettlementDigest(
        settlement_id=group_id,
        currency=currency,
        total=total,
        start=None,
        end=None,
        deposit_date=None,
        marketplace=next((line.marketplace for line in lines if line.marketplace), None),
        decimal_comma=False,
        encoding="",
        columns=0,
        lines=len(lines),
        sum_of_lines=total,
        groups=groups,
    )


def preview_dict(group_id: str, digest: SettlementDigest, plan: SettlementPlan) -> dict[str, Any]:
    return {
        "provisional": True,
        "note": "open financial event group: a preview from the Finances API, not posted",
        "group_id": group_id,
        "currency": digest.currency,
        "total_so_far": str(digest.total),
        "lines": digest.lines,
        "postings": [
            {
                "period_journal": journal.key,
                "accounting_date": journal.accounting_date.isoformat(),
                "account": line.account,
                "dimensions": list(line.dimensions[1:]),
                "amount": str(line.amount.amount),
                "text": line.text,
            }
            for journal in plan.journals
            for line in journal.lines
        ],
        "unmapped": [u.to_dict() for u in plan.unmapped],
    }


async def preview_open_groups(
    gateway: AmazonGateway, gl: GLMapping, *, started_within_days: int = 60
) -> list[dict[str, Any]]:
    """A provisional preview of every open financial event group started in the window."""
    api = FinancesApi(gateway)
    previews = []
    since = datetime.now(UTC) - timedelta(days=started_within_days)
    async for group in api.event_groups(started_after=since):
        if (group.processing_status or "").lower() != "open":
            continue
        group_id = group.financial_event_group_id
        lines: list[SettlementLine] = []
        async for page in api.events_by_group(group_id):
            lines += lines_from_events(group_id, page)
        currency = (
            lines[0].amount.currency
            if lines
            else (
                group.original_total.currency_code
                if group.original_total and group.original_total.currency_code
                else ""
            )
        )
        digest = digest_of_lines(group_id, currency, lines)
        previews.append(preview_dict(group_id, digest, plan_settlement(digest, gl)))
    return previews
