"""Amazon shipped an FBA order: M3's delivered quantities brought up to Amazon's, idempotently.

For orders Amazon fulfils, M3 only has to learn what left Amazon's warehouse, so that the lines
reach 66 (delivered) and M3 invoices them. The path is the warehouse interface M3 offers external
warehouses (research notes §3.6): MHS850MI AddCOPick reports a picked quantity of one order line
on its picking list (delivery number DLIX, picking list suffix PLSX), AddCfmPickList confirms a
whole picking list at its allocated quantities. Both post the stock transaction at once
(UNVERIFIED for every tenant: some dispatch policies need a later confirmation).

The steps, each safe to repeat:

1. read the order (GetHead + LstLine, one bulk) and its delivery lines (MWS411MI LstDelLnByOrd:
   per delivery and line, released PLQT and reported TRQT) - in parallel;
2. per line, what is missing: Amazon's shipped quantity (capped at M3's ordered quantity) minus
   M3's delivered quantity (DLQT). Nothing missing: nothing is sent - a second call with the same
   numbers changes nothing, a partial shipment adds the difference;
3. the missing quantity is taken from the line's open picking lists (PLQT - TRQT), their suffixes
   read with MWS420MI LstPickHeader;
4. one MHS850MI bulk POST: AddCfmPickList for a picking list reported entirely, else AddCOPick
   per line with QTYP; RPDT/RPTM are Amazon's shipping time;
5. the tracking number (when given) is kept as the external tracking number (ETRN) of a package
   of the delivery (MWS423MI AddPackage, the carrier in its remark), unless a package of the
   order's deliveries already has it (MWS410MI LstPackages);
6. the order is read again for the result (lowest and highest status).

Charge lines (shipping etc. entered as order lines, see `m3.charges`) are reported in full with
the order's first delivery. What cannot be reported (no line for an Amazon item, Amazon shipped
more than M3 ordered, the quantity is not released for picking in M3, M3 refused a report) raises
`DeliveryShortfall` after everything else was reported, with one sentence per problem.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import DeliveryShortfall
from m3amazon.m3.order_lines import M3OrderHead, M3OrderLine, get_order

MHS850MI = "MHS850MI"
#: Reference order category of customer orders in the delivery tables (RORC).
CUSTOMER_ORDER = "3"


@dataclass(frozen=True)
class PickReporting:
    """The warehouse-interface identity M3 expects on MHS850MI messages (set up per tenant)."""

    #: E0PA: partner (17 characters)
    partner: str = "AMAZON"
    #: E065: message type (6 characters)
    message_type: str = "PICK"


class ReportedPick(BaseModel):
    """A quantity this call reported delivered."""

    model_config = ConfigDict(frozen=True)

    line_number: int
    amazon_item_id: str | None
    item_number: str
    quantity: Decimal
    delivery_number: str
    transaction: str


class DeliveryResult(BaseModel):
    """The order after reporting: what was reported now, and where the order stands."""

    model_config = ConfigDict(frozen=True)

    order_number: str
    reported: tuple[ReportedPick, ...] = ()
    tracking_recorded: bool = False
    lines: tuple[M3OrderLine, ...] = ()
    #: ORSL / ORST of the order after reporting (66 = all delivered, 77 = all invoiced)
    lowest_status: str | None = None
    highest_status: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.reported) or self.tracking_recorded


@dataclass(frozen=True)
class _DeliveryLine:
    dlix: str
    line_number: int
    released: Decimal
    reported: Decimal

    @property
    def open(self) -> Decimal:
        return max(Decimal(0), self.released - self.reported)


def _decimal(value: str | None) -> Decimal:
    return Decimal(value) if value and value.strip() else Decimal(0)


async def _delivery_lines(client: MIClient, orno: str) -> list[_DeliveryLine]:
    rows = await client.execute(
        "MWS411MI", "LstDelLnByOrd", {"RIDN": orno, "RORC": CUSTOMER_ORDER}, maxrecs=0
    )
    return [
        _DeliveryLine(row["DLIX"], int(row["RIDL"]), _decimal(row.get("PLQT")), _decimal(row.get("TRQT")))
        for row in rows
        if row.get("DLIX") and row.get("RIDL")
    ]


def _key(line: M3OrderLine, by_line_number: bool) -> str | None:
    return str(line.line_number) if by_line_number else line.amazon_item_id


def _missing(
    lines: list[M3OrderLine],
    quantities: Mapping[str, int | Decimal],
    orno: str,
    problems: list[str],
    by_line_number: bool = False,
) -> list[tuple[M3OrderLine, Decimal]]:
    """Per line, the quantity M3 must still deliver to match Amazon (charge lines included)."""
    items = [line for line in lines if line.charge_kind is None]
    known = {_key(line, by_line_number) for line in items}
    for item_id in sorted(set(quantities) - known):
        what = "line" if by_line_number else "Amazon item"
        problems.append(f"{what} {item_id} has no line in M3 order {orno}")
    wanted: list[tuple[M3OrderLine, Decimal]] = []
    for line in items:
        key = _key(line, by_line_number)
        if key is None or key not in quantities:
            continue
        target = Decimal(str(quantities[key]))
        if target > line.ordered:
            problems.append(
                f"line {line.line_number} ({line.item_number}): Amazon shipped {target},"
                f" M3 ordered {line.ordered}{' (line closed)' if line.is_final else ''}"
            )
            target = line.ordered
        if target > line.delivered:
            wanted.append((line, target - line.delivered))
    if wanted or any(line.delivered > 0 for line in items):
        wanted.extend(
            (line, line.undelivered)
            for line in lines
            if line.charge_kind is not None and not line.is_final and line.undelivered > 0
        )
    return wanted


def _assign(
    wanted: list[tuple[M3OrderLine, Decimal]], deliveries: list[_DeliveryLine], problems: list[str]
) -> list[tuple[M3OrderLine, _DeliveryLine, Decimal]]:
    """Take each missing quantity from the line's open picking lists, oldest delivery first."""
    picks = []
    for line, missing in wanted:
        for delivery in sorted(
            (d for d in deliveries if d.line_number == line.line_number and d.open > 0),
            key=lambda d: int(d.dlix),
        ):
            quantity = min(missing, delivery.open)
            picks.append((line, delivery, quantity))
            missing -= quantity
            if missing == 0:
                break
        if missing > 0:
            problems.append(
                f"line {line.line_number} ({line.item_number}): {missing} more to deliver, but M3 has no"
                f" more released for picking (line status {line.status}); allocate stock in warehouse"
                f" {line.warehouse or '?'} or release the line"
            )
    return picks


async def _picking_lists(client: MIClient, dlixes: set[str]) -> dict[str, str]:
    ordered = sorted(dlixes, key=int)
    results = await client.bulk(
        "MWS420MI", [("LstPickHeader", {"DLIX": dlix}) for dlix in ordered], maxrecs=0
    )
    found: dict[str, str] = {}
    for dlix, result in zip(ordered, results, strict=True):
        if result.error is not None:
            raise result.error
        suffixes = [int(row["PLSX"]) for row in result.records if row.get("PLSX")]
        if suffixes:
            found[dlix] = str(max(suffixes))
    return found


def _stamp(shipped_at: dt.datetime) -> dict[str, str]:
    when = shipped_at.astimezone(dt.UTC) if shipped_at.tzinfo else shipped_at
    return {"RPDT": when.strftime("%Y%m%d"), "RPTM": when.strftime("%H%M%S")}


def _calls(
    head: M3OrderHead,
    picks: list[tuple[M3OrderLine, _DeliveryLine, Decimal]],
    deliveries: list[_DeliveryLine],
    suffixes: dict[str, str],
    common: dict[str, str],
) -> list[tuple[str, dict[str, object], list[tuple[M3OrderLine, _DeliveryLine, Decimal]]]]:
    """The MHS850MI transactions, each with the picks it reports."""
    by_delivery: dict[str, list[tuple[M3OrderLine, _DeliveryLine, Decimal]]] = {}
    for pick in picks:
        by_delivery.setdefault(pick[1].dlix, []).append(pick)
    calls: list[tuple[str, dict[str, object], list[tuple[M3OrderLine, _DeliveryLine, Decimal]]]] = []
    for dlix, chosen in sorted(by_delivery.items(), key=lambda item: int(item[0])):
        plsx = suffixes[dlix]
        whlo = chosen[0][0].warehouse or head.warehouse or ""
        open_lines = {(d.line_number, d.open) for d in deliveries if d.dlix == dlix and d.open > 0}
        if open_lines == {(line.line_number, quantity) for line, _, quantity in chosen}:
            record: dict[str, object] = {"WHLO": whlo, "DLIX": dlix, "PLSX": plsx, **common}
            calls.append(("AddCfmPickList", record, chosen))
            continue
        for line, delivery, quantity in chosen:
            record = {
                "WHLO": line.warehouse or whlo,
                "CUNO": head.customer,
                "RIDN": head.order_number,
                "RIDL": line.line_number,
                "PLSX": plsx,
                "DLIX": delivery.dlix,
                "ITNO": line.item_number,
                "QTYP": quantity,
                **common,
            }
            if line.line_suffix:
                record["RIDX"] = line.line_suffix
            calls.append(("AddCOPick", record, [(line, delivery, quantity)]))
    return calls


async def _record_tracking(client: MIClient, dlixes: list[str], tracking: str, carrier: str | None) -> bool:
    """Keep the tracking number on a package of the newest delivery, unless one already has it."""
    etrn = tracking.strip()[:30]
    results = await client.bulk("MWS410MI", [("LstPackages", {"DLIX": dlix}) for dlix in dlixes], maxrecs=0)
    for result in results:
        if result.error is not None and not result.error.is_not_found:
            raise result.error
        if any(row.get("ETRN") == etrn for row in result.records):
            return False
    record: dict[str, object] = {"DLIX": max(dlixes, key=int), "ETRN": etrn}
    if carrier and carrier.strip():
        record["DLRM"] = carrier.strip()[:40]
    await client.execute("MWS423MI", "AddPackage", record, maxrecs=1)
    return True


async def ensure_delivery_reported(
    client: MIClient,
    orno: str,
    quantities: Mapping[str, int | Decimal],
    *,
    shipped_at: dt.datetime,
    carrier: str | None = None,
    tracking: str | None = None,
    reporting: PickReporting | None = None,
    by_line_number: bool = False,
) -> DeliveryResult:
    """Bring M3's delivered quantities of order `orno` up to Amazon's shipped quantities.

    `quantities`: Amazon orderItemId (the line CUOR) -> quantity Amazon shipped in total; with
    `by_line_number`, M3's line number (PONR) -> quantity instead (Multi-Channel Fulfillment, whose
    orders come from other channels). See the module docstring for the steps; raises
    `DeliveryShortfall` (an MIError) for what cannot be reported, after reporting the rest.
    """
    reporting = reporting or PickReporting()
    (head, lines), deliveries = await asyncio.gather(get_order(client, orno), _delivery_lines(client, orno))
    problems: list[str] = []
    picks = _assign(_missing(lines, quantities, orno, problems, by_line_number), deliveries, problems)
    reported: list[ReportedPick] = []
    if picks:
        suffixes = await _picking_lists(client, {delivery.dlix for _, delivery, _ in picks})
        for dlix in sorted({d.dlix for _, d, _ in picks} - set(suffixes)):
            problems.append(f"delivery {dlix} of order {orno} has no picking list in M3")
        picks = [pick for pick in picks if pick[1].dlix in suffixes]
        common = {"E0PA": reporting.partner, "E065": reporting.message_type, **_stamp(shipped_at)}
        calls = _calls(head, picks, deliveries, suffixes, common)
        results = await client.bulk(MHS850MI, [(transaction, record) for transaction, record, _ in calls])
        for (transaction, _, covered), result in zip(calls, results, strict=True):
            if result.error is not None:
                problems.extend(
                    f"line {line.line_number} ({line.item_number}): M3 refused {transaction}:"
                    f" {result.error.message}"
                    for line, _, _ in covered
                )
                continue
            reported.extend(
                ReportedPick(
                    line_number=line.line_number,
                    amazon_item_id=line.amazon_item_id,
                    item_number=line.item_number,
                    quantity=quantity,
                    delivery_number=delivery.dlix,
                    transaction=transaction,
                )
                for line, delivery, quantity in covered
            )
    recorded = False
    if tracking and tracking.strip():
        touched = sorted({pick.delivery_number for pick in reported}, key=int) or sorted(
            {d.dlix for d in deliveries if d.reported > 0}, key=int
        )
        if touched:
            recorded = await _record_tracking(client, touched, tracking, carrier)
    if problems:
        raise DeliveryShortfall(orno, problems, tuple(reported))
    if reported:
        head, lines = await get_order(client, orno)
    return DeliveryResult(
        order_number=orno,
        reported=tuple(reported),
        tracking_recorded=recorded,
        lines=tuple(lines),
        lowest_status=head.lowest_status or None,
        highest_status=head.highest_status or None,
    )
