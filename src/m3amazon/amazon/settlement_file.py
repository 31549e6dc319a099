"""The V2 flat-file settlement report, read as a stream: bytes on disk -> validated digest.

Why not `translate/reports.parse_settlement`: that one reads a small report into canonical lines in
memory (fine for a preview); a real settlement can have a million lines, and finance needs every one
of them checked and summed to the cent. This reader keeps memory flat whatever the file's size:

1. **Bytes to UTF-8 text** (`prepare`): a gzip stream is unpacked in chunks (a cut-short stream is an
   error naming the last complete line); the text's encoding is detected - a byte-order mark, else
   strict UTF-8, else Windows-1252 (the fallback for European files, research §11.5) - and the file
   is transcoded to a temporary UTF-8 file only when it is not UTF-8 already. NUL bytes or bytes
   that no candidate encoding accepts are an error naming the line.
2. **By header name** (23 or 24 columns, in any order): the header line is read first and every
   column is given the String type, so polars' lazy `scan_csv` never guesses a type.
3. **One lazy pass** (polars, streaming engine): every row gets its file line number, its amount as
   an exact Decimal (scale 2) in the marketplace's number format (decimal comma for the continental
   European marketplaces, decimal point elsewhere; "1.234,56" vs "1,234.56"), its accounting day
   (`posted-date-time` `YYYY-MM-DD HH:MM:SS UTC` or ISO 8601, else `posted-date` `MM/DD/YY` or
   `DD.MM.YYYY`) and its problems. The rows are grouped by what posting needs (period, triple, and
   per the aggregation also day, order or line) and summed exactly; the first problems found are
   kept with their line numbers.
4. **Validation**: exactly one summary row (the first data row, `total-amount` filled); no row with
   a problem; the lines sum to the summary's `total-amount`. Otherwise `SettlementFileError` with
   a reason code, the line number and a sentence - and nothing is posted.

Dates of the summary row accept the same formats as the existing translator (`parse_date`).
"""

from __future__ import annotations

import codecs
import gzip
import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import polars as pl

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.amazon.translate.reports import parse_date

#: Columns without which a settlement cannot be read (by header name, in any position).
REQUIRED_COLUMNS = (
    "settlement-id",
    "total-amount",
    "currency",
    "transaction-type",
    "amount-type",
    "amount-description",
    "amount",
)
#: Countries whose marketplaces write amounts with a decimal comma ("95,00").
DECIMAL_COMMA_COUNTRIES = frozenset({"DE", "FR", "IT", "ES", "NL", "SE", "PL", "BE", "TR", "BR"})
_CHUNK = 1 << 20
#: At most this many problem lines are kept (the first ones, in file order).
MAX_PROBLEMS = 20
#: At most this many refunds are listed one by one (the largest first); counts and totals cover all.
MAX_REFUNDS = 1000


class Aggregation(StrEnum):
    """How finely settlement rows are summed into GL lines (see docs/mappings.md)."""

    CATEGORY = "category"  # per accounting period and GL target
    DAY = "day"  # ... and posted day
    ORDER = "order"  # ... and Amazon order id
    LINE = "line"  # one GL line per settlement row


class SettlementFileError(Exception):
    """The file cannot be posted: a reason code, the line (1 = header) and a sentence."""

    def __init__(self, reason_code: str, message: str, line: int | None = None) -> None:
        self.reason_code = reason_code
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line else message)

    def to_dict(self) -> dict[str, object]:
        return {"reason_code": self.reason_code, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class Problem:
    line: int
    reason_code: str
    message: str


@dataclass(frozen=True)
class Group:
    """Rows with the same posting key, summed exactly."""

    period: str  # YYYY-MM of the accounting day
    day: date
    transaction_type: str
    amount_type: str
    amount_description: str
    amount: Decimal
    count: int
    quantity: int
    first_line: int
    order_id: str = ""

    @property
    def triple(self) -> tuple[str, str, str]:
        return (self.transaction_type, self.amount_type, self.amount_description)


@dataclass(frozen=True)
class Refund:
    """A refund in the settlement, with the order it gives money back for."""

    order_id: str
    adjustment_id: str
    amount: Decimal
    lines: int


@dataclass(frozen=True)
class SettlementDigest:
    """What posting and reconciliation need from a settlement file, without its million rows."""

    settlement_id: str
    currency: str
    total: Decimal
    start: datetime | None
    end: datetime | None
    deposit_date: datetime | None
    marketplace: str | None
    decimal_comma: bool
    encoding: str
    columns: int
    lines: int
    sum_of_lines: Decimal
    groups: tuple[Group, ...]
    #: the largest refunds (at most MAX_REFUNDS), each with the order it refunds
    refunds: tuple[Refund, ...] = field(default=())
    problems: tuple[Problem, ...] = field(default=())
    #: every refund (order and adjustment) of the settlement: how many, and their sum
    refund_count: int = 0
    refund_total: Decimal = Decimal(0)

    @property
    def balanced(self) -> bool:
        return self.sum_of_lines == self.total and not self.problems

    def check(self) -> None:
        """Raise the first reason this settlement must not be posted."""
        if self.problems:
            first = self.problems[0]
            more = f" (and {len(self.problems) - 1} more problem lines)" if len(self.problems) > 1 else ""
            raise SettlementFileError(first.reason_code, first.message + more, first.line)
        if self.sum_of_lines != self.total:
            raise SettlementFileError(
                "SETTLEMENT_NOT_BALANCED",
                f"the {self.lines} lines of settlement {self.settlement_id} sum to {self.sum_of_lines} "
                f"{self.currency}, the summary row's total-amount is {self.total} {self.currency} "
                f"(difference {self.sum_of_lines - self.total})",
                2,
            )


# -- 1. bytes to UTF-8 ------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedFile:
    path: Path
    encoding: str
    compressed: bool
    temporary: bool


def _line_of(prefix_newlines: int, chunk: bytes, position: int) -> int:
    return prefix_newlines + chunk.count(b"\n", 0, position) + 1


def _raw_chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes in chunks, gunzipped when it is gzip (a cut-short stream raises EOFError)."""
    with open(path, "rb") as head:
        magic = head.read(2)
    if magic == b"\x1f\x8b":
        # zlib directly rather than gzip.open: what arrived before a cut is still yielded, so the
        # error can name the last complete line
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        with open(path, "rb") as stream:
            while raw := stream.read(_CHUNK):
                while raw:
                    if chunk := inflater.decompress(raw):
                        yield chunk
                    raw = inflater.unused_data  # the next member of a multi-member file
                    if raw:
                        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if not inflater.eof:
            raise EOFError("the compressed stream ends before its end marker")
    else:
        with open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as head:
        return head.read(2) == b"\x1f\x8b"


def _bom(path: Path) -> str | None:
    try:
        if _is_gzip(path):
            with gzip.open(path, "rb") as stream:
                first = stream.read(4)
        else:
            with open(path, "rb") as stream:
                first = stream.read(4)
    except (EOFError, OSError, zlib.error):
        return None  # a damaged stream: reported with its line when it is read
    if first.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _transcode(path: Path, encoding: str, out: tempfile._TemporaryFileWrapper[bytes] | None) -> None:
    """Decode the whole stream with `encoding` (writing UTF-8 to `out`); raise on the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    newlines = 0
    check_nul = not encoding.startswith("utf-16")
    try:
        for chunk in _raw_chunks(path):
            if check_nul and b"\x00" in chunk:
                line = _line_of(newlines, chunk, chunk.index(b"\x00"))
                raise SettlementFileError(
                    "SETTLEMENT_ENCODING",
                    "the file holds NUL bytes: it is not text in UTF-8 or Windows-1252 (UTF-16 without a "
                    "byte-order mark, or not a settlement report at all)",
                    line,
                )
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise _BadByte(
                    _line_of(newlines, chunk, exc.start), chunk[exc.start : exc.start + 1]
                ) from None
            if out is not None:
                out.write(text.encode("utf-8"))
            newlines += chunk.count(b"\n")
        tail = decoder.decode(b"", final=True)
        if out is not None and tail:
            out.write(tail.encode("utf-8"))
    except UnicodeDecodeError as exc:  # the stream ended inside a multi-byte character
        raise _BadByte(newlines + 1, exc.object[exc.start : exc.start + 1]) from None
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise SettlementFileError(
            "SETTLEMENT_TRUNCATED",
            f"the gzip stream is cut short or damaged after {newlines} complete lines ({exc})",
            newlines + 1,
        ) from None


class _BadByte(Exception):
    def __init__(self, line: int, byte: bytes) -> None:
        self.line, self.byte = line, byte


def prepare(path: Path, *, tmp_dir: Path | None = None) -> PreparedFile:
    """A UTF-8, uncompressed version of the file at `path` (itself when it already is one)."""
    compressed = _is_gzip(path)
    bom = _bom(path)
    candidates = [bom] if bom else ["utf-8", "cp1252"]
    last: _BadByte | None = None
    for encoding in candidates:
        plain_utf8 = encoding == "utf-8" and not compressed
        out = (
            None
            if plain_utf8
            else tempfile.NamedTemporaryFile(  # noqa: SIM115 - handed to the caller, removed by `opened`
                "wb", suffix=".tsv", dir=tmp_dir, delete=False
            )
        )
        try:
            _transcode(path, encoding, out)
        except _BadByte as exc:
            last = exc
            if out is not None:
                out.close()
                os.unlink(out.name)
            continue
        except BaseException:
            if out is not None:
                out.close()
                os.unlink(out.name)
            raise
        if out is None:
            return PreparedFile(path, encoding, compressed, temporary=False)
        out.close()
        return PreparedFile(Path(out.name), encoding, compressed, temporary=True)
    assert last is not None
    raise SettlementFileError(
        "SETTLEMENT_ENCODING",
        f"byte {last.byte!r} is valid in none of {', '.join(candidates)}: the file is in an encoding this "
        "reader does not know",
        last.line,
    )


@contextmanager
def opened(path: Path, *, tmp_dir: Path | None = None) -> Iterator[PreparedFile]:
    prepared = prepare(path, tmp_dir=tmp_dir)
    try:
        yield prepared
    finally:
        if prepared.temporary:
            prepared.path.unlink(missing_ok=True)


# -- 2. header ---------------------------------------------------------------------------------


def read_header(path: Path) -> list[str]:
    with open(path, "rb") as raw:
        first = raw.readline().decode("utf-8")  # UnicodeDecodeError: the caller decodes the file first
    if "\x00" in first:
        raise SettlementFileError(
            "SETTLEMENT_ENCODING",
            "the header holds NUL bytes: the file is not text in UTF-8 or Windows-1252 (UTF-16?)",
            1,
        )
    columns = [c.strip().lstrip("\ufeff").strip() for c in first.rstrip("\r\n").split("\t")]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if not first.strip() or missing:
        raise SettlementFileError(
            "SETTLEMENT_COLUMNS",
            f"the header has no column {', '.join(missing)}: this is not a V2 flat-file settlement report "
            f"(found {len(columns)} columns: {', '.join(columns[:6])}{', ...' if len(columns) > 6 else ''})",
            1,
        )
    return columns


def decimal_comma_for(marketplace: str | None, currency: str) -> bool:
    """Whether amounts of this marketplace (id or name such as "Amazon.de") use a decimal comma."""
    if marketplace:
        key = marketplace.strip().lower()
        for info in MARKETPLACES.values():
            if key in (info.marketplace_id.lower(), info.domain.lower()):
                return info.country in DECIMAL_COMMA_COUNTRIES
    # No marketplace: by currency (EUR, SEK, PLN, TRY, BRL are written with a decimal comma).
    return currency in {"EUR", "SEK", "PLN", "TRY", "BRL"}


# -- 3. the lazy pass --------------------------------------------------------------------------

_AMOUNT = pl.Decimal(38, 2)
_TRIPLE = ("transaction-type", "amount-type", "amount-description")
_DAY_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%y", "%m/%d/%Y")


def _amount_pattern(comma: bool) -> str:
    if comma:
        return r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d{1,2})?$"
    return r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?$"


def _amount_expr(column: str, comma: bool) -> pl.Expr:
    """The amount as an exact Decimal (null when it does not parse). Cheap enough for every row; the
    strict format check (thousands separators in their place) runs only on rows that have one."""
    text = pl.col(column)
    if comma:
        normal = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    else:
        normal = text.str.replace_all(",", "", literal=True)
    return normal.str.strip_prefix("+").cast(_AMOUNT, strict=False)


def _thousands_separator(comma: bool) -> str:
    return "." if comma else ","


def _day_text(columns: list[str]) -> pl.Expr:
    """The day part of each row's posting moment: posted-date-time, else posted-date (as text).

    The first 10 characters: "2026-03-06 08:52:26 UTC", "2003-10-03T16:00:00-07:00" and
    "06.03.2026 08:52:26 UTC" give their day, "03/06/26" is shorter and stays whole. Days are parsed
    after grouping, once per distinct text."""
    present = [c for c in ("posted-date-time", "posted-date") if c in columns]
    if not present:
        return pl.lit("")
    text = pl.col(present[0]).fill_null("")
    if len(present) == 2:
        text = pl.when(text.str.len_bytes() > 0).then(text).otherwise(pl.col(present[1]).fill_null(""))
    return text.str.slice(0, 10)


def parse_day(text: str) -> date | None:
    """A row's day text -> date (None when it is not one of the known formats)."""
    for pattern in _DAY_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _col(columns: list[str], name: str) -> pl.Expr:
    """A column as text ("" when missing). Not stripped per row (that would cost a pass over every
    string); the group keys are stripped after grouping, where there are few of them."""
    return pl.col(name).fill_null("") if name in columns else pl.lit("")


@dataclass(frozen=True)
class _Summary:
    settlement_id: str
    currency: str
    total_text: str
    start: str
    end: str
    deposit: str
    marketplace: str | None


def _summary(lf: pl.LazyFrame, columns: list[str]) -> _Summary:
    """The summary row (the first data row) and the marketplace of the first transaction rows."""
    head = lf.head(50).collect()
    if head.height == 0:
        raise SettlementFileError("SETTLEMENT_EMPTY", "the file has a header and no rows", 2)
    first = {k: (v or "").strip() for k, v in head.row(0, named=True).items() if isinstance(v, str | None)}
    if not first.get("total-amount") or first.get("transaction-type"):
        raise SettlementFileError(
            "SETTLEMENT_NO_SUMMARY",
            "the first data row is not the settlement summary (total-amount empty or transaction-type set)",
            2,
        )
    marketplace = None
    if "marketplace-name" in columns:
        names = [n.strip() for n in head["marketplace-name"].fill_null("").to_list()[1:] if n and n.strip()]
        marketplace = names[0] if names else None
    return _Summary(
        settlement_id=first.get("settlement-id", ""),
        currency=first.get("currency", ""),
        total_text=first["total-amount"],
        start=first.get("settlement-start-date", ""),
        end=first.get("settlement-end-date", ""),
        deposit=first.get("deposit-date", ""),
        marketplace=marketplace,
    )


def parse_amount_text(text: str, comma: bool) -> Decimal | None:
    """One amount in the marketplace's format -> Decimal (None when it is not one)."""
    value = text.strip()
    if not re.match(_amount_pattern(comma), value):
        return None
    value = value.replace(".", "").replace(",", ".") if comma else value.replace(",", "")
    return Decimal(value.lstrip("+"))


def _date_or_error(text: str, what: str) -> datetime | None:
    try:
        return parse_date(text)
    except ValueError:
        raise SettlementFileError("SETTLEMENT_BAD_DATE", f"{what} '{text}' is not a date", 2) from None


def _scan(path: Path, columns: list[str]) -> pl.LazyFrame:
    return pl.scan_csv(
        path,
        separator="\t",
        has_header=True,
        schema=dict.fromkeys(columns, pl.String),
        quote_char=None,
        truncate_ragged_lines=True,
        encoding="utf8",
        raise_if_empty=False,
    ).with_row_index("line", offset=2)


def _problem_rows(
    rows: pl.LazyFrame, columns: list[str], settlement_id: str, comma: bool
) -> list[pl.LazyFrame]:
    """Queries for the rows with something wrong (each a filter first, so they cost little)."""
    amount = pl.col("amount").fill_null("").str.strip_chars()
    quantity = _col(columns, "quantity-purchased")
    fmt = "a decimal comma, e.g. 1.234,56" if comma else "a decimal point, e.g. 1,234.56"
    sep = _thousands_separator(comma)
    return [
        rows.filter(pl.col("value").is_null()).select(
            "line",
            pl.format("amount '{}' is not a number in this marketplace's format ({})", amount, pl.lit(fmt)),
        ),
        rows.filter(amount.str.contains(sep, literal=True))
        .filter(amount.str.contains(_amount_pattern(comma)).not_())
        .select(
            "line",
            pl.format("amount '{}' is not a number in this marketplace's format ({})", amount, pl.lit(fmt)),
        ),
        rows.filter(_col(columns, "settlement-id").is_in(["", settlement_id]).not_()).select(
            "line",
            pl.format(
                "settlement-id {} differs from the summary's {}",
                pl.col("settlement-id"),
                pl.lit(settlement_id),
            ),
        ),
        rows.filter((_col(columns, "transaction-type") == "") & (_col(columns, "amount-type") == "")).select(
            "line", pl.lit("transaction-type and amount-type are empty")
        ),
        rows.filter((quantity != "") & quantity.cast(pl.Int64, strict=False).is_null()).select(
            "line", pl.format("quantity-purchased '{}' is not a whole number", quantity)
        ),
    ]


def _reason_of(message: str) -> str:
    for prefix, reason in (
        ("amount", "SETTLEMENT_BAD_AMOUNT"),
        ("posted date", "SETTLEMENT_BAD_DATE"),
        ("quantity", "SETTLEMENT_BAD_QUANTITY"),
    ):
        if message.startswith(prefix):
            return reason
    return "SETTLEMENT_BAD_ROW"


def _flags(columns: list[str], settlement_id: str, comma: bool) -> list[pl.Expr]:
    """Per-row counters of what may be wrong, cheap enough for every row; the rows themselves are
    looked for (a second pass) only when a counter is not zero."""
    amount = pl.col("amount").fill_null("")
    quantity = _col(columns, "quantity-purchased")
    settlement = _col(columns, "settlement-id")
    return [
        # amounts with a thousands separator get the strict format check in the second pass
        amount.str.contains(_thousands_separator(comma), literal=True).alias("has_separator"),
        ((settlement != "") & (settlement != settlement_id)).alias("bad_id"),
        quantity.cast(pl.Int64, strict=False).alias("qty"),
        ((quantity != "") & quantity.cast(pl.Int64, strict=False).is_null()).alias("bad_quantity"),
    ]


def _aggregates(*, with_order: bool) -> list[pl.Expr]:
    """Sums per group (only aggregations the streaming engine runs without holding the rows)."""
    out = [
        pl.col("value").sum().alias("amount"),
        pl.len().alias("count"),
        pl.col("qty").sum().alias("quantity"),
        pl.col("line").min().alias("first_line"),
        pl.col("value").null_count().alias("bad_amount"),
        pl.col("has_separator").sum().alias("has_separator"),
        pl.col("bad_id").sum().alias("bad_id"),
        pl.col("bad_quantity").sum().alias("bad_quantity"),
    ]
    if with_order:
        out.append(pl.col("order").first().alias("order"))
    return out


def _refunds(lf: pl.LazyFrame, columns: list[str], comma: bool) -> tuple[tuple[Refund, ...], int, Decimal]:
    """(the largest refunds, how many there are, their sum), each with the order it refunds.

    A second pass that keeps only refund rows (a filter on one column), so the main grouping stays
    small whatever the number of refunds."""
    refund_frame = (
        lf.filter(pl.col("transaction-type").str.contains("Refund", literal=True))
        .group_by(
            _col(columns, "order-id").str.strip_chars().alias("refund_order"),
            _col(columns, "adjustment-id").str.strip_chars().alias("refund_adjustment"),
        )
        .agg(_amount_expr("amount", comma).sum().alias("amount"), pl.len().alias("count"))
        .collect(engine="streaming")
    )
    listed = refund_frame.sort(pl.col("amount").abs(), "refund_order", descending=[True, False]).head(
        MAX_REFUNDS
    )
    refunds = tuple(
        Refund(order, adjustment, Decimal(amount) if amount is not None else Decimal(0), int(count))
        for order, adjustment, amount, count in zip(
            *(listed[c].to_list() for c in ("refund_order", "refund_adjustment", "amount", "count")),
            strict=True,
        )
    )
    return refunds, refund_frame.height, Decimal(refund_frame["amount"].sum() or 0)


def digest(
    path: Path,
    *,
    aggregation: Aggregation = Aggregation.CATEGORY,
    marketplace: str | None = None,
    encoding: str = "utf-8",
    with_refunds: bool = True,
) -> SettlementDigest:
    """Read the (UTF-8, uncompressed) settlement at `path` into a digest (see the module docstring).

    `marketplace` (id or name) overrides the marketplace found in the file for the number format.
    Raises SettlementFileError for files that are not settlements at all; row problems are returned
    in the digest (`check()` raises the first)."""
    columns = read_header(path)
    lf = _scan(path, columns)
    summary = _summary(lf, columns)
    comma = decimal_comma_for(marketplace or summary.marketplace, summary.currency)
    total = parse_amount_text(summary.total_text, comma)
    if total is None:
        raise SettlementFileError(
            "SETTLEMENT_BAD_AMOUNT",
            f"total-amount '{summary.total_text}' is not a number in this marketplace's format "
            f"({'decimal comma' if comma else 'decimal point'})",
            2,
        )
    end = _date_or_error(summary.end, "settlement-end-date")
    deposit = _date_or_error(summary.deposit, "deposit-date")
    fallback_day = (end or deposit or datetime.now()).date()

    rows = lf.filter(pl.col("line") > 2).with_columns(
        _amount_expr("amount", comma).alias("value"),
        _day_text(columns).alias("day_text"),
        *(_col(columns, c).alias(c) for c in _TRIPLE),
    )
    keys = [*_TRIPLE, "day_text"]
    if aggregation is Aggregation.ORDER:
        keys.append("order")
    elif aggregation is Aggregation.LINE:
        keys.append("line")
    # the order id is carried only where the aggregation needs it (per order, or per row)
    order = _col(columns, "order-id") if aggregation in (Aggregation.ORDER, Aggregation.LINE) else pl.lit("")
    grouped = (
        rows.with_columns(order.alias("order"), *_flags(columns, summary.settlement_id, comma))
        .group_by(keys)
        .agg(*_aggregates(with_order="order" not in keys))
        .collect(engine="streaming")
    )
    anomalies = grouped.select(pl.col("bad_amount", "has_separator", "bad_id", "bad_quantity").sum()).row(0)
    problems: dict[int, str] = {}
    if any(anomalies) or grouped.filter((pl.col(_TRIPLE[0]) == "") & (pl.col(_TRIPLE[1]) == "")).height:
        checks = [q.head(MAX_PROBLEMS) for q in _problem_rows(rows, columns, summary.settlement_id, comma)]
        for frame in pl.collect_all(checks, engine="streaming"):
            for line, message in frame.iter_rows():
                problems.setdefault(int(line), message)
    lines = int(grouped["count"].sum())
    total_of_lines = Decimal(grouped["amount"].sum() or 0)
    # days: parsed once per distinct text; rows on unknown days are problems
    texts = grouped["day_text"].unique().to_list()
    parsed = {t: (parse_day(t.strip()) if t.strip() else fallback_day) for t in texts}
    for text, day in parsed.items():
        if day is None:
            line = grouped.filter(pl.col("day_text") == text)["first_line"].min()
            problems.setdefault(int(line), f"posted date '{text.strip()}' is not a date")  # type: ignore[arg-type]
    days = pl.DataFrame(
        {"day_text": list(parsed), "day": list(parsed.values())},
        schema={"day_text": pl.String, "day": pl.Date},
    )
    dated = grouped.join(days, on="day_text", how="left").filter(pl.col("day").is_not_null())
    detail = {Aggregation.DAY: ["day"], Aggregation.ORDER: ["order"], Aggregation.LINE: ["first_line"]}
    merged = (
        dated.with_columns(
            pl.col("day").dt.strftime("%Y-%m").alias("period"),
            *(pl.col(c).str.strip_chars() for c in (*_TRIPLE, "order")),
        )
        .group_by(["period", *_TRIPLE, *detail.get(aggregation, [])])
        .agg(
            pl.col("amount").sum(),
            pl.col("count").sum(),
            pl.col("quantity").sum(),
            pl.col("first_line").min().alias("first"),
            pl.col("day").max().alias("last_day"),
            pl.col("order").first().alias("an_order"),
        )
        .sort("period", "first")
    )
    keep_order = aggregation in (Aggregation.ORDER, Aggregation.LINE)
    groups = [
        Group(
            period=period,
            day=day,
            transaction_type=tt,
            amount_type=at,
            amount_description=ad,
            amount=Decimal(amount) if amount is not None else Decimal(0),
            count=int(count),
            quantity=int(quantity or 0),
            first_line=int(first),
            order_id=(order or "") if keep_order else "",
        )
        for period, tt, at, ad, amount, count, quantity, first, day, order in zip(
            *(
                merged[c].to_list()
                for c in ("period", *_TRIPLE, "amount", "count", "quantity", "first", "last_day", "an_order")
            ),
            strict=True,
        )
    ]
    refunds, refund_count, refund_total = (
        _refunds(lf, columns, comma) if with_refunds else ((), 0, Decimal(0))
    )
    found = tuple(Problem(line, _reason_of(problems[line]), problems[line]) for line in sorted(problems))
    return SettlementDigest(
        settlement_id=summary.settlement_id,
        currency=summary.currency,
        total=total,
        start=_date_or_error(summary.start, "settlement-start-date"),
        end=end,
        deposit_date=deposit,
        marketplace=marketplace or summary.marketplace,
        decimal_comma=comma,
        encoding=encoding,
        columns=len(columns),
        lines=lines,
        sum_of_lines=total_of_lines,
        groups=tuple(groups),
        refunds=refunds,
        problems=found[:MAX_PROBLEMS],
        refund_count=refund_count,
        refund_total=refund_total,
    )


def read_settlement(
    path: Path,
    *,
    aggregation: Aggregation = Aggregation.CATEGORY,
    marketplace: str | None = None,
    tmp_dir: Path | None = None,
    with_refunds: bool = True,
) -> SettlementDigest:
    """Any settlement file (gzip or not, UTF-8 or Windows-1252) -> its digest (row problems included).

    `with_refunds`: also list the refunds with their orders (a second, lighter pass over the file).
    A plain file goes to polars as it is (polars refuses invalid UTF-8 itself); only when it does,
    or when the file is compressed or has a byte-order mark, is it decoded here first."""
    if not _is_gzip(path) and _bom(path) is None:
        try:
            return digest(
                path,
                aggregation=aggregation,
                marketplace=marketplace,
                encoding="utf-8",
                with_refunds=with_refunds,
            )
        except UnicodeDecodeError:
            pass
        except pl.exceptions.ComputeError as exc:
            if "utf-8" not in str(exc).lower() and "utf8" not in str(exc).lower():
                raise
    with opened(path, tmp_dir=tmp_dir) as prepared:
        return digest(
            prepared.path,
            aggregation=aggregation,
            marketplace=marketplace,
            encoding=prepared.encoding,
            with_refunds=with_refunds,
        )
