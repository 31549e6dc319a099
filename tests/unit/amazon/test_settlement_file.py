"""The streaming settlement reader: what finance gets from a file, and how a bad file is refused
(with the line and the reason) before anything could be posted."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from m3amazon.amazon.settlement_file import Aggregation, SettlementFileError, read_settlement
from m3amazon.sim.amazon.settlement import COLUMNS


def settlement_text(
    rows: list[tuple[str, str, str, str, str]],
    total: str,
    *,
    currency: str = "USD",
    market: str = "Amazon.com",
    columns: tuple[str, ...] | list[str] = COLUMNS,
    posted: str = "2026-03-06 08:52:26 UTC",
    settlement_id: str = "11111111111",
) -> str:
    """rows: (transaction-type, order-id, amount-type, amount-description, amount)."""
    summary = {
        "settlement-id": settlement_id,
        "settlement-start-date": "2026-02-27 00:00:00 UTC",
        "settlement-end-date": "2026-03-13 00:00:00 UTC",
        "deposit-date": "2026-03-15 00:00:00 UTC",
        "total-amount": total,
        "currency": currency,
    }
    lines = ["\t".join(columns), "\t".join(summary.get(c, "") for c in columns)]
    for kind, order, amount_type, description, amount in rows:
        values = {
            "settlement-id": settlement_id,
            "transaction-type": kind,
            "order-id": order,
            "adjustment-id": "ADJ1" if kind == "Refund" else "",
            "marketplace-name": market,
            "amount-type": amount_type,
            "amount-description": description,
            "amount": amount,
            "posted-date": "03/06/26",
            "posted-date-time": posted,
            "sku": "SKU-1",
            "quantity-purchased": "1",
        }
        lines.append("\t".join(values.get(c, "") for c in columns))
    return "\n".join(lines) + "\n"


US_ROWS = [
    ("Order", "111-1", "ItemPrice", "Principal", "1,234.50"),
    ("Order", "111-1", "ItemPrice", "Tax", "98.76"),
    ("Order", "111-1", "ItemFees", "Commission", "-185.18"),
    ("Refund", "111-1", "ItemPrice", "Principal", "-20.00"),
]
DE_ROWS = [
    ("Order", "302-1", "ItemPrice", "Principal", "1.234,50"),
    ("Order", "302-1", "ItemFees", "FBAPerUnitFulfillmentFee", "-3,22"),
    ("Order", "302-2", "Promotion", "Principal", "-0,99"),
]


def _write(tmp_path: Path, text: str | bytes, name: str = "s.tsv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _refused(path: Path) -> SettlementFileError:
    with pytest.raises(SettlementFileError) as caught:
        read_settlement(path).check()
    return caught.value


def test_a_us_file_sums_to_its_total_to_the_cent(tmp_path: Path) -> None:
    digest = read_settlement(_write(tmp_path, settlement_text(US_ROWS, "1128.08")))
    digest.check()
    assert (digest.settlement_id, digest.currency, digest.total) == ("11111111111", "USD", Decimal("1128.08"))
    assert digest.lines == 4 and digest.sum_of_lines == Decimal("1128.08") and not digest.decimal_comma
    assert {g.triple: g.amount for g in digest.groups}[("Order", "ItemPrice", "Principal")] == Decimal(
        "1234.50"
    )
    assert [(r.order_id, r.adjustment_id, r.amount) for r in digest.refunds] == [
        ("111-1", "ADJ1", Decimal("-20.00"))
    ]


def test_a_de_file_in_windows_1252_with_decimal_commas_gzipped(tmp_path: Path) -> None:
    text = settlement_text(DE_ROWS, "1.230,29", currency="EUR", market="Amazon.de").replace(
        "SKU-1", "Größe-XL"
    )
    digest = read_settlement(_write(tmp_path, gzip.compress(text.encode("cp1252")), "s.tsv.gz"))
    digest.check()
    assert digest.decimal_comma and digest.encoding == "cp1252" and digest.total == Decimal("1230.29")
    assert digest.sum_of_lines == Decimal("1230.29")


def test_columns_are_read_by_name_23_columns_in_another_order_and_iso_dates(tmp_path: Path) -> None:
    columns = list(reversed(COLUMNS[:-1]))  # no promotion-id, reversed
    text = settlement_text(US_ROWS, "1128.08", columns=columns, posted="2026-03-31T23:10:00-07:00")
    digest = read_settlement(_write(tmp_path, text))
    digest.check()
    assert digest.columns == 23 and digest.sum_of_lines == Decimal("1128.08")
    assert {g.period for g in digest.groups} == {"2026-03"}


def test_only_posted_date_mm_dd_yy_is_enough(tmp_path: Path) -> None:
    columns = [c for c in COLUMNS if c != "posted-date-time"]
    digest = read_settlement(_write(tmp_path, settlement_text(US_ROWS, "1128.08", columns=columns)))
    assert {g.day.isoformat() for g in digest.groups} == {"2026-03-06"}


def test_aggregation_per_order_keeps_orders_apart(tmp_path: Path) -> None:
    rows = [*US_ROWS, ("Order", "111-2", "ItemPrice", "Principal", "10.00")]
    digest = read_settlement(
        _write(tmp_path, settlement_text(rows, "1138.08")), aggregation=Aggregation.ORDER
    )
    principal = sorted(
        (g.order_id, g.amount) for g in digest.groups if g.triple == ("Order", "ItemPrice", "Principal")
    )
    assert principal == [("111-1", Decimal("1234.50")), ("111-2", Decimal("10.00"))]


def test_missing_columns_are_refused_on_line_1(tmp_path: Path) -> None:
    columns = [c for c in COLUMNS if c != "amount-description"]
    error = _refused(_write(tmp_path, settlement_text(US_ROWS, "1128.08", columns=columns)))
    assert (error.reason_code, error.line) == (
        "SETTLEMENT_COLUMNS",
        1,
    ) and "amount-description" in error.message


def test_a_bad_number_names_its_line(tmp_path: Path) -> None:
    rows = [*US_ROWS[:2], ("Order", "111-1", "ItemFees", "Commission", "12.3.4")]
    error = _refused(_write(tmp_path, settlement_text(rows, "1345.56")))
    assert (error.reason_code, error.line) == ("SETTLEMENT_BAD_AMOUNT", 5) and "'12.3.4'" in error.message


def test_a_decimal_point_in_a_decimal_comma_marketplace_is_refused_not_misread(tmp_path: Path) -> None:
    rows = [*DE_ROWS, ("Order", "302-3", "ItemPrice", "Principal", "95.00")]  # would be 9500 otherwise
    error = _refused(_write(tmp_path, settlement_text(rows, "1.325,29", currency="EUR", market="Amazon.de")))
    assert (error.reason_code, error.line) == (
        "SETTLEMENT_BAD_AMOUNT",
        6,
    ) and "decimal comma" in error.message


def test_a_truncated_gzip_is_refused_with_the_last_complete_line(tmp_path: Path) -> None:
    data = gzip.compress(settlement_text(US_ROWS * 200, "1.00").encode())
    error = _refused(_write(tmp_path, data[: len(data) // 2], "s.tsv.gz"))
    assert error.reason_code == "SETTLEMENT_TRUNCATED" and error.line and error.line > 1


def test_a_file_in_an_unknown_encoding_is_refused(tmp_path: Path) -> None:
    utf16 = settlement_text(US_ROWS, "1128.08").encode("utf-16-le")  # no byte-order mark
    error = _refused(_write(tmp_path, utf16))
    assert (error.reason_code, error.line) == ("SETTLEMENT_ENCODING", 1)
    # bytes valid neither in UTF-8 nor in Windows-1252 (0x81 is undefined there), on line 4
    text = settlement_text(US_ROWS, "1128.08").encode()
    lines = text.split(b"\n")
    lines[3] = lines[3].replace(b"SKU-1", b"SKU-\x81\xff")
    error = _refused(_write(tmp_path, b"\n".join(lines), "bad.tsv"))
    assert (error.reason_code, error.line) == ("SETTLEMENT_ENCODING", 4)


def test_lines_that_do_not_sum_to_the_total_are_refused(tmp_path: Path) -> None:
    error = _refused(_write(tmp_path, settlement_text(US_ROWS, "1128.09")))
    assert (
        error.reason_code == "SETTLEMENT_NOT_BALANCED"
        and "1128.08" in error.message
        and "-0.01" in error.message
    )


def test_a_file_without_a_summary_row_is_refused(tmp_path: Path) -> None:
    text = settlement_text(US_ROWS, "1128.08").split("\n")
    del text[1]
    error = _refused(_write(tmp_path, "\n".join(text)))
    assert (error.reason_code, error.line) == ("SETTLEMENT_NO_SUMMARY", 2)


def test_a_bad_posted_date_names_its_line(tmp_path: Path) -> None:
    text = settlement_text(US_ROWS, "1128.08").split("\n")
    text[4] = text[4].replace("2026-03-06 08:52:26 UTC", "someday")
    error = _refused(_write(tmp_path, "\n".join(text)))
    assert (error.reason_code, error.line) == ("SETTLEMENT_BAD_DATE", 5)
