"""Report documents -> canonical data. Pure: text in, canonical objects out.

The V2 flat-file settlement report (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2) is tab-separated
with a header line; the first data row is the settlement summary (id, period, deposit date,
total, currency) with empty transaction columns; every other row is one amount classified by the
triple transaction-type / amount-type / amount-description (research §11). Because column sets
vary (23 or 24 columns), rows are read by header name, never by position. Amounts are written in
the marketplace's local format ("95,00" in EU files): the last of "." and "," in an amount is the
decimal separator, the other one a thousands separator.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.canonical import Money, SettlementLine

REQUIRED_COLUMNS = ("settlement-id", "transaction-type", "amount-type", "amount-description", "amount")
_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S UTC",
    "%d.%m.%Y %H:%M:%S UTC",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%m/%d/%y",
    "%d.%m.%Y",
    "%Y-%m-%d",
)


@dataclass(frozen=True)
class SettlementReport:
    """A settlement: its summary row and its amount lines (in file order)."""

    settlement_id: str
    start: datetime | None
    end: datetime | None
    deposit_date: datetime | None
    total: Money
    lines: tuple[SettlementLine, ...] = field(default=())

    @property
    def lines_total(self) -> Money:
        return Money.sum((line.amount for line in self.lines), self.total.currency)


def parse_amount(text: str) -> Decimal:
    """'1.234,56', '1,234.56', '95,00', '-4.50' -> Decimal (exact)."""
    value = text.strip().replace("\u00a0", "").replace(" ", "")
    if not value:
        raise ValueError("empty amount")
    decimal_sep = max(value.rfind("."), value.rfind(","))
    if decimal_sep >= 0:
        whole, fraction = value[:decimal_sep], value[decimal_sep + 1 :]
        value = re.sub(r"[.,]", "", whole) + "." + fraction
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None


def parse_date(text: str) -> datetime | None:
    value = text.strip()
    if not value:
        return None
    for pattern in _DATE_FORMATS:
        try:
            moment = datetime.strptime(value, pattern)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date this parser knows") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_settlement(text: str) -> SettlementReport:
    """The settlement in a V2 flat-file report (raises AmazonTranslationError when it is not one)."""

    def fail(reason: str, message: str) -> AmazonTranslationError:
        return AmazonTranslationError(reason, f"settlement report: {message}")

    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter="\t")
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise fail("SETTLEMENT_COLUMNS", f"missing columns {', '.join(missing)}")
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    if not rows:
        raise fail("SETTLEMENT_EMPTY", "no rows")
    summary, body = rows[0], rows[1:]
    if summary.get("transaction-type") or not summary.get("total-amount"):
        raise fail("SETTLEMENT_NO_SUMMARY", "the first row is not the summary row")
    currency = summary.get("currency", "")
    settlement_id = summary["settlement-id"]
    try:
        total = Money(parse_amount(summary["total-amount"]), currency)
        lines = tuple(_line(row, settlement_id, currency, number) for number, row in enumerate(body, start=3))
        return SettlementReport(
            settlement_id=settlement_id,
            start=parse_date(summary.get("settlement-start-date", "")),
            end=parse_date(summary.get("settlement-end-date", "")),
            deposit_date=parse_date(summary.get("deposit-date", "")),
            total=total,
            lines=lines,
        )
    except ValueError as exc:
        raise fail("SETTLEMENT_VALUE", str(exc)) from None


def _line(row: dict[str, str], settlement_id: str, currency: str, number: int) -> SettlementLine:
    if row.get("settlement-id") and row["settlement-id"] != settlement_id:
        raise ValueError(f"line {number}: settlement-id {row['settlement-id']} differs from the summary")
    try:
        amount = parse_amount(row["amount"])
    except ValueError as exc:
        raise ValueError(f"line {number}: {exc}") from None
    posted = row.get("posted-date-time") or row.get("posted-date") or ""
    quantity = row.get("quantity-purchased") or ""
    return SettlementLine(
        settlement_id=settlement_id,
        transaction_type=row.get("transaction-type", ""),
        amount_type=row.get("amount-type", ""),
        amount_description=row.get("amount-description", ""),
        amount=Money(amount, row.get("currency") or currency),
        order_id=row.get("order-id") or None,
        sku=row.get("sku") or None,
        quantity=int(quantity) if quantity.lstrip("-").isdigit() else None,
        posted_at=parse_date(posted),
        marketplace=row.get("marketplace-name") or None,
    )
