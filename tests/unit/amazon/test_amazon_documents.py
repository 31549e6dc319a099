"""Report documents: settlement parsing, gzip, charset fallback, and transfers that fail on the way."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from m3amazon.amazon.api.documents import (
    DocumentExpired,
    DocumentTransfer,
    TransferPolicy,
    decode_text,
    decompress,
)
from m3amazon.amazon.api.feeds import _download
from m3amazon.amazon.errors import AmazonTranslationError, Unavailable
from m3amazon.amazon.translate.reports import parse_amount, parse_date, parse_settlement
from m3amazon.canonical import Money

HEADER = "\t".join(
    [
        "settlement-id",
        "settlement-start-date",
        "settlement-end-date",
        "deposit-date",
        "total-amount",
        "currency",
        "transaction-type",
        "order-id",
        "amount-type",
        "amount-description",
        "amount",
        "posted-date",
        "sku",
        "quantity-purchased",
    ]
)


def _settlement(rows: list[list[str]], total: str = "1.234,50", currency: str = "EUR") -> str:
    summary = [
        "S1",
        "01.03.2026 00:00:00 UTC",
        "2026-03-14 23:59:59 UTC",
        "2026-03-15T10:00:00+00:00",
        total,
        currency,
    ]
    lines = [HEADER, "\t".join(summary + [""] * 8)]
    lines += ["\t".join(["S1", "", "", "", "", "", *row]) for row in rows]
    return "\n".join(lines) + "\n"


def test_settlement_with_decimal_commas_and_mixed_date_formats() -> None:
    text = _settlement(
        [
            ["Order", "302-1", "ItemPrice", "Principal", "1.250,00", "03/02/26", "SKU-1", "2"],
            ["Order", "302-1", "ItemFees", "Commission", "-15,50", "03/02/26", "SKU-1", "2"],
        ]
    )
    report = parse_settlement(text)
    assert report.settlement_id == "S1" and report.total == Money("1234.50", "EUR")
    assert report.start == datetime(2026, 3, 1, tzinfo=UTC) and report.deposit_date is not None
    assert [line.amount for line in report.lines] == [Money("1250.00", "EUR"), Money("-15.50", "EUR")]
    assert report.lines_total == report.total
    assert report.lines[0].quantity == 2 and report.lines[0].posted_at == datetime(2026, 3, 2, tzinfo=UTC)
    assert report.lines[0].category_key == ("Order", "ItemPrice", "Principal")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a\tb\n1\t2\n", "SETTLEMENT_COLUMNS"),
        (HEADER + "\n", "SETTLEMENT_EMPTY"),
        (_settlement([], total=""), "SETTLEMENT_NO_SUMMARY"),
        (_settlement([["Order", "1", "ItemPrice", "Principal", "zwölf", "", "", ""]]), "SETTLEMENT_VALUE"),
    ],
)
def test_files_that_are_not_settlements_say_why(text: str, reason: str) -> None:
    with pytest.raises(AmazonTranslationError) as caught:
        parse_settlement(text)
    assert caught.value.reason == reason


@given(st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2))
def test_amounts_read_the_same_in_either_local_format(amount: Decimal) -> None:
    plain = format(amount, "f")
    whole, _, cents = plain.lstrip("-").partition(".")
    sign = "-" if amount < 0 else ""
    european = sign + f"{int(whole):,}".replace(",", ".") + "," + cents
    american = sign + f"{int(whole):,}" + "." + cents
    assert parse_amount(plain) == parse_amount(european) == parse_amount(american) == amount


def test_dates_in_the_formats_settlements_use() -> None:
    assert parse_date("2026-03-06 08:52:26 UTC") == datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)
    assert parse_date("2003-10-03T16:00:00-07:00") == datetime(2003, 10, 3, 23, 0, tzinfo=UTC)
    assert parse_date("") is None
    with pytest.raises(ValueError):
        parse_date("next tuesday")


@pytest.mark.parametrize(
    ("data", "content_type", "text", "encoding"),
    [
        ("Größe €".encode(), "text/plain; charset=UTF-8", "Größe €", "UTF-8"),
        ("Größe €".encode("cp1252"), None, "Größe €", "cp1252"),
        (b"\xef\xbb\xbfabc", None, "abc", "utf-8-sig"),
        ("Größe".encode("cp1252"), "text/plain; charset=utf-8", "Größe", "cp1252"),  # declared wrongly
        (b"\x81\x8d", None, "\x81\x8d", "iso-8859-1"),  # nothing else decodes it
    ],
)
def test_text_decoding_falls_back_until_it_decodes(
    data: bytes, content_type: str | None, text: str, encoding: str
) -> None:
    assert decode_text(data, content_type) == (text, encoding)


def test_gzip_documents_are_unpacked_and_cut_ones_detected() -> None:
    packed = gzip.compress(b"x" * 1000)
    assert decompress(packed, "GZIP") == b"x" * 1000
    assert decompress(b"plain", None) == b"plain"
    with pytest.raises(EOFError):
        decompress(packed[: len(packed) // 2], "GZIP")


def _transfer(handler: httpx.MockTransport) -> tuple[DocumentTransfer, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=handler)

    async def no_sleep(_: float) -> None:
        return None

    return DocumentTransfer(http, policy=TransferPolicy(retries=2), sleep=no_sleep, seed=1), http


def test_a_cut_download_is_tried_again() -> None:
    packed = gzip.compress(b"betrag\t95,00\n")
    answers = [packed[:10], packed]

    def handler(request: httpx.Request) -> httpx.Response:
        assert "x-amz-access-token" not in request.headers
        return httpx.Response(200, content=answers.pop(0))

    async def run() -> None:
        transfer, http = _transfer(httpx.MockTransport(handler))
        async with http:
            text, encoding = await transfer.download_text("https://docs.example/x", compression="GZIP")
        assert text == "betrag\t95,00\n" and encoding == "utf-8" and transfer.retried == 1

    asyncio.run(run())


def test_downloads_that_keep_failing_raise_typed_errors() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="busy")

    def refused(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>")

    async def run() -> None:
        transfer, http = _transfer(httpx.MockTransport(broken))
        async with http:
            with pytest.raises(Unavailable):
                await transfer.download("https://docs.example/x")
        assert transfer.retried == 2
        transfer, http = _transfer(httpx.MockTransport(refused))
        async with http:
            with pytest.raises(DocumentExpired):
                await transfer.download("https://docs.example/x")
        assert transfer.retried == 0

    asyncio.run(run())


def test_an_expired_url_is_fetched_anew_once() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if request.url.path == "/fresh" else 403, content=b"ok")

    urls = ["https://docs.example/stale", "https://docs.example/fresh"]

    async def get_document(document_id: str) -> SimpleNamespace:
        return SimpleNamespace(url=urls.pop(0), compression_algorithm=None)

    async def run() -> None:
        transfer, http = _transfer(httpx.MockTransport(handler))
        async with http:
            assert await _download(get_document, transfer, "D1") == "ok"

    asyncio.run(run())


def test_uploads_send_the_declared_content_type() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async def run() -> None:
        transfer, http = _transfer(httpx.MockTransport(handler))
        async with http:
            await transfer.upload("https://docs.example/up", b"{}", "application/json; charset=UTF-8")

    asyncio.run(run())
    assert seen[0].method == "PUT" and seen[0].headers["content-type"] == "application/json; charset=UTF-8"
