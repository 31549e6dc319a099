"""M3 orders that Amazon ships from FBA stock (Multi-Channel Fulfillment), as the MCF flow reads them.

An MCF order is an ordinary customer order another sales channel entered (web shop, EDI, customer
service) with an order type or warehouse the settings route to Amazon. The flow needs, from M3:

- the head (order type, warehouse, statuses) and the lines (item, ordered, delivered, status):
  OIS100MI GetHead + LstLine, and the delivery address OIS100MI GetAddress (ADRT 1) - one bulk;
- the seller SKU of each item (only when the order is sent to Amazon): its MMS025MI alias in the
  category (and qualifier) where the integration keeps Amazon SKUs, the aliases the order flow
  reads the other way;
- the candidates of the poll: OIS100MI SearchHead by order type (`ORTP:MCF`).

Reading only; every function raises `MIError`s. `to_fulfillment_request` is pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from m3amazon.canonical import Address, FulfillmentLine, FulfillmentRequest, ShippingSpeed
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError
from m3amazon.m3.order_lines import OIS100MI, M3OrderHead, M3OrderLine, head_from, line_from

MMS025MI = "MMS025MI"
#: OIS100MI GetAddress address type of the delivery address.
DELIVERY_ADDRESS = "1"


class M3McfOrder(BaseModel):
    """An M3 customer order with what Amazon needs to ship it."""

    model_config = ConfigDict(frozen=True)

    head: M3OrderHead
    lines: tuple[M3OrderLine, ...]
    ship_to: Address | None = None
    #: item number -> seller SKU (items without an alias are missing)
    skus: dict[str, str] = {}

    @property
    def open_lines(self) -> tuple[M3OrderLine, ...]:
        """Lines with something still to deliver (not closed, not deleted)."""
        return tuple(line for line in self.lines if not line.is_final and line.undelivered > 0)

    @property
    def cancelled(self) -> bool:
        """Every line closed or deleted with nothing delivered: the order was cancelled in M3."""
        return bool(self.lines) and all(line.is_final and line.delivered == 0 for line in self.lines)


def address_from(row: dict[str, str]) -> Address | None:
    """OIS100MI GetAddress -> canonical address (None without a country)."""
    country = (row.get("CSCD") or "").strip()
    if not country:
        return None
    return Address(
        name=row.get("CUNM") or None,
        line1=row.get("CUA1") or None,
        line2=row.get("CUA2") or None,
        line3=" ".join(x for x in (row.get("CUA3"), row.get("CUA4")) if x) or None,
        city=row.get("TOWN") or None,
        state=row.get("ECAR") or None,
        postal_code=row.get("PONO") or None,
        country_code=country,
        phone=row.get("PHNO") or None,
    )


async def _skus(
    client: MIClient, items: Iterable[str], category: str, qualifier: str | None
) -> dict[str, str]:
    wanted = sorted(set(items))
    if not wanted:
        return {}
    results = await client.bulk(
        MMS025MI, [("LstAlias", {"ITNO": itno, "ALWT": category}) for itno in wanted], maxrecs=0
    )
    found: dict[str, str] = {}
    for itno, result in zip(wanted, results, strict=True):
        if result.error is not None:
            if result.error.is_not_found:
                continue
            raise result.error
        rows = [r for r in result.records if r.get("POPN")]
        chosen = [r for r in rows if (r.get("ALWQ") or None) == qualifier] or rows
        if chosen:
            found[itno] = chosen[0]["POPN"]
    return found


async def read_order(client: MIClient, orno: str) -> M3McfOrder:
    """Head, lines and delivery address of order `orno` (one round trip; `with_skus` adds the SKUs)."""
    head, lines, address = await client.bulk(
        OIS100MI,
        [
            ("GetHead", {"ORNO": orno}),
            ("LstLine", {"ORNO": orno}),
            ("GetAddress", {"ORNO": orno, "ADRT": DELIVERY_ADDRESS}),
        ],
        maxrecs=0,
    )
    for result in (head, lines):
        if result.error is not None:
            raise result.error
    if not head.records:
        raise MIError(f"M3 returned no head for order {orno}", program=OIS100MI, transaction="GetHead")
    if address.error is not None and not address.error.is_not_found and address.error.transient:
        raise address.error
    order_lines = sorted((line_from(r) for r in lines.records), key=lambda x: (x.line_number, x.line_suffix))
    return M3McfOrder(
        head=head_from(head.records[0]),
        lines=tuple(order_lines),
        ship_to=address_from(address.records[0]) if address.error is None and address.records else None,
    )


async def with_skus(
    client: MIClient, order: M3McfOrder, *, alias_category: str, alias_qualifier: str | None
) -> M3McfOrder:
    """The order with the seller SKU of each item of its open lines (one round trip)."""
    items = (line.item_number for line in order.open_lines)
    skus = await _skus(client, items, alias_category, alias_qualifier)
    return order.model_copy(update={"skus": skus})


async def list_orders_of_types(client: MIClient, order_types: Iterable[str]) -> list[dict[str, str]]:
    """Heads (ORNO, ORTP, ORSL, ORST, ...) of every order of these order types (SearchHead)."""
    types = sorted(set(order_types))
    if not types:
        return []
    results = await client.bulk(OIS100MI, [("SearchHead", {"SQRY": f"ORTP:{t}"}) for t in types], maxrecs=0)
    rows: list[dict[str, str]] = []
    for result in results:
        if result.error is not None and not result.error.is_not_found:
            raise result.error
        rows.extend(result.records)
    return rows


@dataclass(frozen=True)
class Problem:
    """Why an M3 order cannot be sent to Amazon as it is."""

    reason_code: str
    message: str


def request_id_for(orno: str, prefix: str) -> str:
    """The sellerFulfillmentOrderId of M3 order `orno`: the natural key at Amazon."""
    return f"{prefix}{orno}"


def to_fulfillment_request(
    order: M3McfOrder, *, prefix: str, speed: ShippingSpeed, comment: str | None = None
) -> FulfillmentRequest | Problem:
    """The M3 order's open lines as a fulfillment request (line id = M3 line number). Pure."""
    orno = order.head.order_number
    lines = order.open_lines
    if not lines:
        return Problem("MCF_NO_OPEN_LINES", f"M3 order {orno} has no open line to ship")
    missing = sorted({line.item_number for line in lines if line.item_number not in order.skus})
    if missing:
        return Problem(
            "MCF_NO_SKU",
            f"item(s) {', '.join(missing)} of M3 order {orno} have no seller SKU (MMS025MI alias)",
        )
    fractional = [line for line in lines if line.undelivered != line.undelivered.to_integral_value()]
    if fractional:
        return Problem(
            "MCF_FRACTIONAL_QUANTITY",
            f"line {fractional[0].line_number} of M3 order {orno} has a fractional quantity"
            f" ({fractional[0].undelivered}); Amazon ships whole units",
        )
    ship_to = order.ship_to
    if ship_to is None or not (ship_to.name and ship_to.line1 and ship_to.postal_code):
        return Problem(
            "MCF_ADDRESS_INCOMPLETE",
            f"M3 order {orno} has no complete delivery address (name, address line, postal code)",
        )
    return FulfillmentRequest(
        request_id=request_id_for(orno, prefix),
        displayable_order_id=(order.head.cuor or orno)[:40],
        m3_order_number=orno,
        ship_to=ship_to,
        speed=speed,
        lines=tuple(
            FulfillmentLine(
                line_id=str(line.line_number),
                sku=order.skus[line.item_number],
                quantity=int(line.undelivered),
            )
            for line in lines
        ),
        comment=comment,
    )
