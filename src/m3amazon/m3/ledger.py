"""Journals into M3's general ledger through GLS840MI, exactly once per batch key.

GLS840MI usage type 2 (field-based): `AddBatchHead` opens a batch under KEY1, `AddBatchLineFld`
adds its lines (AIT1..AIT7, ACAM recorded amount, CUAM foreign amount, CUCD, ACDT, VTXT, VTCD),
`CtrlBatch` validates it (option 6) and `UpdBatch` posts it (option 9), after which M3 removes the
batch from its interface files - so a key can be used again, and a retried posting would post
twice. Hence `ensure_gl_batch` looks first:

1. The vouchers of the journal's accounting date (GLS200MI LstVouchersByDt) whose voucher text
   starts with the batch key: found -> the batch is posted already (a run that crashed after
   UpdBatch); nothing is sent.
2. Otherwise the batch is (re)built: a head that already exists (a run that crashed after
   AddBatchHead) is taken over, and lines are added by their fixed line numbers - a line that
   exists already, or a batch that is controlled already, is fine: the same journal gives the
   same lines. Then CtrlBatch and UpdBatch, and the vouchers are read back.

Every line's voucher text (VTXT, 40 characters) starts with the batch key, which is what step 1
finds. M3's message ids for "already exists" and "controlled" are the simulator's (WKE0201,
WLI0201, WKE0601) and are also recognised by their text; real tenants' ids are UNVERIFIED.

Currency: a journal in the division's local currency posts ACAM = CUAM. Otherwise each line's ACAM
is its amount converted at the rate (rounded half-up to the local currency's minor unit), CUAM
keeps the settlement amount, ARAT the rate; the voucher's rounding residue goes to the rounding
account on one more line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from m3amazon.canonical.journal import JournalPosting
from m3amazon.canonical.money import minor_units
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError

GLS840MI, GLS200MI, CRS055MI = "GLS840MI", "GLS200MI", "CRS055MI"
#: Input record identity of a field-based line (UNVERIFIED beyond the simulator, which takes any).
INRI = "1"
_EXISTS = ("WKE0201", "WLI0201")
_CONTROLLED = ("WKE0601",)


@dataclass(frozen=True)
class Conversion:
    local_currency: str
    rate: Decimal
    rounding: tuple[str, ...]  # AIT of the rounding account


@dataclass(frozen=True)
class PostedBatch:
    key: str
    accounting_date: date
    #: "YEA4/VONO" of each voucher the batch became
    vouchers: tuple[str, ...]
    lines: int
    #: True when M3 had it already (nothing was sent)
    already_posted: bool
    #: Sum of the posted recorded amounts (ACAM) per AIT1, as M3 reports them
    by_account: dict[str, Decimal]


def _mi_date(day: date) -> str:
    return day.strftime("%Y%m%d")


def _amount(value: Decimal) -> str:
    return format(value, "f")


def batch_lines(
    journal: JournalPosting, key: str, *, division: str | None = None, conversion: Conversion | None = None
) -> list[dict[str, str]]:
    """The AddBatchLineFld records of a journal (pure)."""
    records: list[dict[str, str]] = []
    residue = Decimal(0)
    acdt = _mi_date(journal.accounting_date)
    for line in journal.lines:
        amount = line.amount.amount
        recorded = amount
        record = {"KEY1": key, "INRI": INRI, "ACDT": acdt, "CUCD": journal.currency}
        if conversion is not None:
            exponent = Decimal(1).scaleb(-minor_units(conversion.local_currency))
            recorded = (amount * conversion.rate).quantize(exponent, rounding=ROUND_HALF_UP)
            record["ARAT"] = _amount(conversion.rate)
        residue += recorded
        record |= {"ACAM": _amount(recorded), "CUAM": _amount(amount)}
        for n, dim in enumerate(line.dimensions, start=1):
            if dim:
                record[f"AIT{n}"] = dim
        if line.vat_code:
            record["VTCD"] = line.vat_code
        record["VTXT"] = f"{key} {line.text or journal.description}"[:40]
        if division:
            record["DIVI"] = division
        records.append(record)
    if residue != 0:
        assert conversion is not None  # without conversion a balanced journal has no residue
        record = {
            "KEY1": key,
            "INRI": INRI,
            "ACDT": acdt,
            "CUCD": journal.currency,
            "ACAM": _amount(-residue),
            "CUAM": "0",
            "VTXT": f"{key} rounding"[:40],
        }
        for n, dim in enumerate(conversion.rounding, start=1):
            record[f"AIT{n}"] = dim
        if division:
            record["DIVI"] = division
        records.append(record)
    for number, record in enumerate(records, start=1):
        record["LINE"] = str(number)
    return records


async def posted_lines(
    client: MIClient, key: str, day: date, division: str | None = None
) -> list[dict[str, str]]:
    """The voucher lines of `day` that batch `key` posted (empty when it was not posted)."""
    record = {"FRDT": _mi_date(day), "TODT": _mi_date(day)}
    if division:
        record["DIVI"] = division
    rows = await client.execute(GLS200MI, "LstVouchersByDt", record, maxrecs=0)
    return [row for row in rows if (row.get("VTXT") or "").startswith(f"{key} ")]


def _summary(key: str, day: date, rows: list[dict[str, str]], already: bool) -> PostedBatch:
    by_account: dict[str, Decimal] = {}
    for row in rows:
        account = row.get("AIT1", "")
        by_account[account] = by_account.get(account, Decimal(0)) + Decimal(row.get("ACAM") or "0")
    vouchers = tuple(sorted({f"{row.get('YEA4', '')}/{row.get('VONO', '')}" for row in rows}))
    return PostedBatch(key, day, vouchers, len(rows), already, by_account)


def _tolerable(error: MIError | None, codes: tuple[str, ...], words: str) -> bool:
    if error is None:
        return True
    return (error.code in codes) or words in error.message.lower()


async def ensure_gl_batch(
    client: MIClient,
    journal: JournalPosting,
    *,
    interface: str,
    division: str | None = None,
    conversion: Conversion | None = None,
) -> PostedBatch:
    """Post `journal` as GLS840MI batch `journal.key`, unless M3 has it already (module docstring)."""
    key, day = journal.key, journal.accounting_date
    found = await posted_lines(client, key, day, division)
    if found:
        return _summary(key, day, found, already=True)
    head: dict[str, str] = {"KEY1": key, "INTN": interface, "DESC": journal.description[:40]}
    if division:
        head["DIVI"] = division
    try:
        await client.execute(GLS840MI, "AddBatchHead", head, idempotent=False)
    except MIError as exc:
        if not _tolerable(exc, _EXISTS, "already exists"):
            raise
    results = await client.bulk(
        GLS840MI,
        [
            ("AddBatchLineFld", line)
            for line in batch_lines(journal, key, division=division, conversion=conversion)
        ],
        idempotent=False,
    )
    for result in results:
        if not (
            _tolerable(result.error, _EXISTS, "already exists")
            or _tolerable(result.error, _CONTROLLED, "controlled")
        ):
            assert result.error is not None
            raise result.error
    control = {"KEY1": key} | ({"DIVI": division} if division else {})
    await client.execute(GLS840MI, "CtrlBatch", control, idempotent=False)
    await client.execute(GLS840MI, "UpdBatch", control, idempotent=False)
    return _summary(key, day, await posted_lines(client, key, day, division), already=False)


async def exchange_rate(client: MIClient, currency: str, rate_type: int, on: date) -> Decimal:
    """The rate of `currency` (local units per unit) of rate type `rate_type` valid on `on`
    (CRS055MI LstRatesPerType: the latest rate dated on or before `on`)."""
    rows = await client.execute(
        CRS055MI, "LstRatesPerType", {"CUCD": currency, "CRTP": rate_type, "CUTD": _mi_date(on)}, maxrecs=0
    )
    dated = [row for row in rows if row.get("ARAT") and (row.get("CUTD") or "") <= _mi_date(on)]
    if not dated:
        raise MIError(f"M3 has no exchange rate of type {rate_type} for {currency} on {on}", program=CRS055MI)
    best = max(dated, key=lambda row: row.get("CUTD") or "")
    try:
        return Decimal(best["ARAT"])
    except InvalidOperation:
        raise MIError(f"M3 returned {best['ARAT']!r} as the rate of {currency}", program=CRS055MI) from None
