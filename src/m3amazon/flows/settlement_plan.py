"""A settlement's digest + the GL table -> balanced journals, one per accounting period. Pure.

Categorise: each group of rows gets the rule of its triple (mapping/gl.py); triples without a rule
are collected with their count and total (the settlement then waits for the table). Aggregate:
per accounting period (the month of each row's posted day), one journal whose lines are the groups
summed per GL target (account, dimensions, VAT code) and, per the table's `aggregation`, per day,
per order or per row; each line posts the settlement amount reversed, and one line debits the
clearing account with the period's share of the deposit, so every journal balances and the
clearing lines of all periods sum to the deposit exactly.

Accounting date of a period's journal: the settlement's end date when it falls in that month, else
the month's last day (the money belongs to the month it was earned in).
"""

from __future__ import annotations

import calendar
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from m3amazon.amazon.settlement_file import Aggregation, Group, SettlementDigest
from m3amazon.canonical import Money
from m3amazon.canonical.journal import JournalLine, JournalPosting
from m3amazon.mapping.gl import GLMapping, GLRule, Triple

KEY_LENGTH = 15  # GLS840MI KEY1


@dataclass(frozen=True)
class Unmapped:
    triple: Triple
    count: int
    total: Decimal

    def to_dict(self) -> dict[str, object]:
        return {
            "transaction_type": self.triple[0],
            "amount_type": self.triple[1],
            "amount_description": self.triple[2],
            "count": self.count,
            "total": str(self.total),
        }


@dataclass(frozen=True)
class Category:
    """One triple's money in the settlement and where it goes."""

    triple: Triple
    rule: str
    account: str
    dimensions: tuple[str, ...]
    sign: str
    count: int
    amount: Decimal  # as in the file (positive = paid to the seller)

    @property
    def normal_amount(self) -> Decimal:
        """The amount on the account's normal side (sales +, fees +)."""
        return -self.amount if self.sign == "debit" else self.amount

    def to_dict(self) -> dict[str, object]:
        return {
            "triple": "/".join(self.triple),
            "rule": self.rule,
            "account": self.account,
            "dimensions": list(self.dimensions),
            "sign": self.sign,
            "lines": self.count,
            "amount": str(self.amount),
            "normal_amount": str(self.normal_amount),
        }


@dataclass(frozen=True)
class SettlementPlan:
    settlement_id: str
    currency: str
    deposit: Decimal
    journals: tuple[JournalPosting, ...] = ()
    categories: tuple[Category, ...] = ()
    unmapped: tuple[Unmapped, ...] = field(default=())

    @property
    def postable(self) -> bool:
        return not self.unmapped

    def clearing_total(self, clearing_account: str) -> Decimal:
        return sum(
            (
                line.amount.amount
                for j in self.journals
                for line in j.lines
                if line.account == clearing_account
            ),
            Decimal(0),
        )


def batch_key(prefix: str, settlement_id: str, index: int) -> str:
    """GLS840MI KEY1 of a settlement's `index`-th period journal (at most 15 characters): the
    prefix, the settlement id (a 10-digit hash when it is too long) and two digits."""
    room = KEY_LENGTH - len(prefix) - 2
    ident = (
        settlement_id
        if len(settlement_id) <= room
        else hashlib.sha1(settlement_id.encode()).hexdigest()[:room]
    )
    return f"{prefix}{ident}{index:02d}"


def accounting_date(period: str, end: date | None, last_day: date) -> date:
    year, month = (int(p) for p in period.split("-"))
    month_end = date(year, month, calendar.monthrange(year, month)[1])
    if end is not None and end.strftime("%Y-%m") == period:
        return end
    return month_end if end is None or end > month_end else max(last_day, end)


def _detail(group: Group, aggregation: Aggregation) -> str:
    if aggregation is Aggregation.DAY:
        return group.day.isoformat()
    if aggregation is Aggregation.ORDER:
        return group.order_id
    if aggregation is Aggregation.LINE:
        return f"line {group.first_line}"
    return ""


def _text(rule: GLRule, group: Group, detail: str) -> str:
    base = rule.text or "/".join(part[:12] for part in group.triple)
    return f"{base} {detail}".strip()[:40]


def plan_settlement(digest: SettlementDigest, gl: GLMapping) -> SettlementPlan:
    """Categorise and aggregate (see the module docstring)."""
    currency = digest.currency
    unmapped: dict[Triple, list[Decimal | int]] = {}
    categories: dict[Triple, Category] = {}
    # period -> (AIT..., vat, detail, text) -> amount
    lines: dict[str, dict[tuple[tuple[str, ...], int | None, str, str], Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    last_day: dict[str, date] = {}
    for group in digest.groups:
        rule = gl.rule_for(group.triple, digest.marketplace)
        if rule is None:
            acc = unmapped.setdefault(group.triple, [0, Decimal(0)])
            acc[0] += group.count
            acc[1] += group.amount
            continue
        known = categories.get(group.triple)
        categories[group.triple] = Category(
            group.triple,
            rule.match,
            rule.account,
            rule.ait[1:],
            rule.sign,
            (known.count if known else 0) + group.count,
            (known.amount if known else Decimal(0)) + group.amount,
        )
        detail = _detail(group, gl.aggregation)
        lines[group.period][(rule.ait, rule.vat_code, detail, _text(rule, group, detail))] += group.amount
        last_day[group.period] = max(last_day.get(group.period, group.day), group.day)
    missing = tuple(
        Unmapped(triple, int(acc[0]), Decimal(acc[1])) for triple, acc in sorted(unmapped.items())
    )
    if missing:
        return SettlementPlan(
            digest.settlement_id, currency, digest.total, (), tuple(categories.values()), missing
        )
    end = digest.end.date() if digest.end else None
    journals = []
    for index, period in enumerate(sorted(lines), start=1):
        entries = [
            JournalLine(
                dimensions=ait,
                amount=Money(-amount, currency),
                text=text,
                vat_code=None if vat is None else str(vat),
            )
            for (ait, vat, _, text), amount in lines[period].items()
            if amount != 0
        ]
        share = sum(lines[period].values(), Decimal(0))
        if share != 0:
            entries.append(
                JournalLine(
                    dimensions=gl.clearing.ait,
                    amount=Money(share, currency),
                    text=f"Amazon deposit {digest.settlement_id}"[:40],
                )
            )
        if len(entries) < 2:
            continue
        journals.append(
            JournalPosting(
                key=batch_key(gl.key_prefix, digest.settlement_id, index),
                accounting_date=accounting_date(period, end, last_day[period]),
                currency=currency,
                description=f"Amazon settlement {digest.settlement_id} {period}"[:40],
                lines=tuple(entries),
            )
        )
    return SettlementPlan(
        digest.settlement_id, currency, digest.total, tuple(journals), tuple(categories.values()), ()
    )
