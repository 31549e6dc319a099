"""Reading an M3 customer order as the order flow sees it: its head and its lines.

Every later step of the order's life (delivery reported for an FBA order, lines closed on
cancellation, shipments matched to Amazon's items, invoices compared) starts by reading where the
order stands in M3, because a durable step may run again after a crash and must change only what
is still missing. Quantities are Decimal (M3 quantities may be fractional), amounts Money in the
order's currency.

The line CUOR is the Amazon orderItemId (see `m3.translate`); lines the translation added for
charges carry `CHARGE_LINE_PREFIX` + the charge kind there instead (`M3OrderLine.charge_kind`).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from m3amazon.canonical import Money
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError

OIS100MI = "OIS100MI"
#: Line CUOR of an order line that carries a charge (shipping, gift wrap, tax) instead of an item.
CHARGE_LINE_PREFIX = "CHG-"
#: Line statuses that no longer change: 90 deleted, 99 closed without delivery (or closed rest).
FINAL_LINE_STATUSES = frozenset({"90", "99"})


def _decimal(value: str | None) -> Decimal:
    try:
        return Decimal(value) if value and value.strip() else Decimal(0)
    except ArithmeticError:
        raise MIError(f"M3 returned {value!r} where a number was expected", program=OIS100MI) from None


class M3OrderLine(BaseModel):
    """One line of a customer order (OIS100MI LstLine)."""

    model_config = ConfigDict(frozen=True)

    #: PONR
    line_number: int
    #: POSX
    line_suffix: int = 0
    #: ITNO
    item_number: str
    #: ORQT: ordered (after a line is closed with part delivered: what was delivered)
    ordered: Decimal
    #: ALQT
    allocated: Decimal = Decimal(0)
    #: DLQT
    delivered: Decimal = Decimal(0)
    #: IVQT
    invoiced: Decimal = Decimal(0)
    #: ORST, the two-digit line status (22 entered ... 66 delivered, 77 invoiced, 90, 99)
    status: str
    #: line CUOR: Amazon's orderItemId, or CHARGE_LINE_PREFIX + kind for a charge line
    amazon_item_id: str | None = None
    #: WHLO
    warehouse: str | None = None
    #: SAPR, in the order's currency
    unit_price: Decimal = Decimal(0)

    @property
    def charge_kind(self) -> str | None:
        """The charge this line carries ("shipping", ...), or None for an item line."""
        ref = self.amazon_item_id or ""
        return ref[len(CHARGE_LINE_PREFIX) :].lower() if ref.startswith(CHARGE_LINE_PREFIX) else None

    @property
    def is_final(self) -> bool:
        """Deleted (90) or closed (99): nothing on this line will change any more."""
        return self.status in FINAL_LINE_STATUSES

    @property
    def undelivered(self) -> Decimal:
        return max(Decimal(0), self.ordered - self.delivered)

    def __str__(self) -> str:
        what = self.item_number if self.charge_kind is None else f"{self.charge_kind} charge"
        return f"{self.line_number} ({what}, {self.delivered} of {self.ordered} delivered)"


class M3OrderHead(BaseModel):
    """The head of a customer order (OIS100MI GetHead)."""

    model_config = ConfigDict(frozen=True)

    order_number: str
    customer: str
    #: CUOR: the Amazon order id
    cuor: str | None = None
    order_type: str | None = None
    warehouse: str | None = None
    facility: str | None = None
    currency: str | None = None
    #: ORSL / ORST: lowest and highest line status
    lowest_status: str
    highest_status: str
    #: STAT: 20 released, 90 deleted (no open lines)
    status: str | None = None
    #: NTAM: net order amount (lines after discounts, plus charges)
    net_amount: Money | None = None


def line_from(row: dict[str, str]) -> M3OrderLine:
    return M3OrderLine(
        line_number=int(_decimal(row.get("PONR"))),
        line_suffix=int(_decimal(row.get("POSX"))),
        item_number=row.get("ITNO", ""),
        ordered=_decimal(row.get("ORQT")),
        allocated=_decimal(row.get("ALQT")),
        delivered=_decimal(row.get("DLQT")),
        invoiced=_decimal(row.get("IVQT")),
        status=row.get("ORST", ""),
        amazon_item_id=row.get("CUOR") or None,
        warehouse=row.get("WHLO") or None,
        unit_price=_decimal(row.get("SAPR")),
    )


def head_from(row: dict[str, str]) -> M3OrderHead:
    currency = row.get("CUCD") or None
    amount = row.get("NTAM")
    return M3OrderHead(
        order_number=row.get("ORNO", ""),
        customer=row.get("CUNO", ""),
        cuor=row.get("CUOR") or None,
        order_type=row.get("ORTP") or None,
        warehouse=row.get("WHLO") or None,
        facility=row.get("FACI") or None,
        currency=currency,
        lowest_status=row.get("ORSL", ""),
        highest_status=row.get("ORST", ""),
        status=row.get("STAT") or None,
        net_amount=Money(_decimal(amount), currency) if currency and amount else None,
    )


async def get_order_lines(client: MIClient, orno: str) -> list[M3OrderLine]:
    """Every line of order `orno`, in line number order."""
    rows = await client.execute(OIS100MI, "LstLine", {"ORNO": orno}, maxrecs=0)
    return sorted((line_from(row) for row in rows), key=lambda line: (line.line_number, line.line_suffix))


async def get_order_head(client: MIClient, orno: str) -> M3OrderHead:
    """The head of order `orno` (statuses, currency, net amount); MIError when M3 has no such order."""
    rows = await client.execute(OIS100MI, "GetHead", {"ORNO": orno}, maxrecs=1)
    if not rows:
        raise MIError(f"M3 returned no head for order {orno}", program=OIS100MI, transaction="GetHead")
    return head_from(rows[0])


async def get_order(client: MIClient, orno: str) -> tuple[M3OrderHead, list[M3OrderLine]]:
    """Head and lines of `orno` in one round trip (a bulk of GetHead and LstLine)."""
    head, lines = await client.bulk(
        OIS100MI, [("GetHead", {"ORNO": orno}), ("LstLine", {"ORNO": orno})], maxrecs=0
    )
    for result in (head, lines):
        if result.error is not None:
            raise result.error
    if not head.records:
        raise MIError(f"M3 returned no head for order {orno}", program=OIS100MI, transaction="GetHead")
    ordered = sorted((line_from(row) for row in lines.records), key=lambda x: (x.line_number, x.line_suffix))
    return head_from(head.records[0]), ordered
