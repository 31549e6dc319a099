"""Canonical order -> M3 batch-order records (OIS100MI AddBatchHead / AddBatchAddress / AddBatchLine).

Pure functions: no I/O, so they are tested with properties and run identically on replay. What
they need from M3 (the customer, the item behind each SKU) is looked up beforehand and passed in
as `References`. Field lengths come from the MI field table, never from constants here.

Choices (see docs/mappings.md):
- The Amazon order id travels in the head's CUOR (the natural key used to find the order again);
  each line's CUOR carries Amazon's orderItemId so shipments can be matched line by line.
- The name goes to CUNM; what does not fit there, the company and the address lines are packed in
  order, comma-separated and wrapped at word boundaries, into CUA1..CUA4; what still does not fit
  is a problem (an incident) unless truncation is allowed.
- The state/region goes to ECAR only when it is a two-letter code (M3's area codes are its own
  table); the phone goes to PHN2 (16 characters) with blanks removed when needed, or is left out.
- Unit prices are rounded half-up to the currency's minor unit; lines with quantity 0 (cancelled
  before release) are not sent, nor are their charges.
- Shipping, gift wrap, promotions and tax go to M3 as the `charges` mapping says: head charges,
  charge lines or line discounts (see `m3.charges`).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from m3amazon.canonical import Address, Order
from m3amazon.config import M3Settings
from m3amazon.m3.charges import charge_records
from m3amazon.m3.fields import FieldTable
from m3amazon.m3.orders import CustomerOrderPlan
from m3amazon.m3.problems import Problem
from m3amazon.mapping import Mappings

_ADDRESS_LINES = ("CUA1", "CUA2", "CUA3", "CUA4")


class ItemRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    item_number: str | None = None
    #: M3 item status (STAT); 20 means released for sale
    status: str | None = None
    #: where the item number came from: "alias" (MMS025MI) or "table" (the mapping file)
    source: str | None = None


class References(BaseModel):
    """What the order needs from M3, looked up before translating."""

    model_config = ConfigDict(frozen=True)

    customer: str | None
    customer_exists: bool
    items: dict[str, ItemRef]


@dataclass(frozen=True)
class Translation:
    plan: CustomerOrderPlan | None
    problems: tuple[Problem, ...] = field(default=())


def _length(program: str, transaction: str, name: str) -> int:
    return FieldTable.default().length(program, transaction, name)


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), width, break_long_words=True, break_on_hyphens=False)


def fit_address(
    address: Address,
    *,
    allow_truncation: bool,
    program: str = "OIS100MI",
    transaction: str = "AddBatchAddress",
) -> tuple[dict[str, str], list[Problem]]:
    """The AddBatchAddress fields for a delivery address, and what did not fit.

    With another `program`/`transaction` (CRS610MI Add for a buyer's customer record) the same
    rules fit the address to that transaction's lengths; ADRT is then left out.
    """
    pgm, trn = program, transaction
    problems: list[Problem] = []
    record: dict[str, str] = {"ADRT": "1"} if (pgm, trn) == ("OIS100MI", "AddBatchAddress") else {}
    line_width = _length(pgm, trn, "CUA1")
    name_width = _length(pgm, trn, "CUNM")

    segments: list[str] = []
    if address.name:
        name_parts = _wrap(address.name, name_width)
        record["CUNM"] = name_parts[0]
        if len(name_parts) > 1:
            segments.append(" ".join(name_parts[1:]))
    segments.extend(
        text.strip()
        for text in (address.company, address.line1, address.line2, address.line3)
        if text and text.strip()
    )
    # Pack the segments in order, separated by commas, into as few lines as possible.
    pieces = _wrap(", ".join(segments), line_width) if segments else []
    if len(pieces) > len(_ADDRESS_LINES):
        if allow_truncation:
            pieces = pieces[: len(_ADDRESS_LINES)]
        else:
            problems.append(
                Problem(
                    "ADDRESS_DOES_NOT_FIT",
                    f"the delivery address needs {len(pieces)} lines of {line_width} characters; "
                    f"M3 has {len(_ADDRESS_LINES)}",
                )
            )
    for name, text in zip(_ADDRESS_LINES, pieces, strict=False):
        record[name] = text

    for m3_field, value, label in (
        ("TOWN", address.city, "town"),
        ("PONO", address.postal_code, "postal code"),
    ):
        if not value:
            continue
        width = _length(pgm, trn, m3_field)
        if len(value) > width:
            if allow_truncation:
                value = value[:width]
            else:
                problems.append(
                    Problem(
                        "ADDRESS_DOES_NOT_FIT",
                        f"the {label} is {len(value)} characters; M3 allows {width} ({m3_field})",
                    )
                )
                continue
        record[m3_field] = value
    record["CSCD"] = address.country_code
    if address.state and len(address.state.strip()) == 2:
        record["ECAR"] = address.state.strip().upper()
    if address.phone:
        width = _length(pgm, trn, "PHN2")
        phone = address.phone if len(address.phone) <= width else "".join(address.phone.split())
        if len(phone) <= width:
            record["PHN2"] = phone
    return record, problems


def to_m3_order(order: Order, refs: References, mappings: Mappings, m3: M3Settings) -> Translation:
    """The batch order that represents `order` in M3, or the problems that prevent it."""
    problems: list[Problem] = []
    if not refs.customer:
        problems.append(
            Problem(
                "UNMAPPED_MARKETPLACE",
                f"no M3 customer is mapped for marketplace {order.marketplace_id}; "
                "add it to customers.per_marketplace",
                order.marketplace_id,
            )
        )
    elif not refs.customer_exists:
        problems.append(
            Problem("UNKNOWN_CUSTOMER", f"M3 has no customer {refs.customer} (CRS610MI)", refs.customer)
        )

    channel = m3.channels[order.channel.value]
    sent = [line for line in order.lines if line.quantity > 0]
    charges = charge_records(sent, order.currency, mappings.charges, warehouse=channel.whlo)
    problems.extend(charges.problems)
    lines: list[dict[str, str]] = []
    for line in sent:
        ref = refs.items.get(line.sku)
        if ref is None or ref.item_number is None:
            problems.append(
                Problem(
                    "UNKNOWN_SKU",
                    f"SKU {line.sku} has no M3 item: no MMS025MI alias and no entry in items.sku_to_item",
                    line.sku,
                )
            )
            continue
        if ref.status is not None and ref.status != "20":
            problems.append(
                Problem(
                    "ITEM_NOT_SELLABLE",
                    f"M3 item {ref.item_number} (SKU {line.sku}) has status {ref.status}; it must be 20",
                    line.sku,
                )
            )
            continue
        lines.append(
            {
                "ITNO": ref.item_number,
                "ORQT": str(line.quantity),
                "SAPR": str(line.unit_price.rounded().amount),
                "WHLO": channel.whlo,
                "CUOR": line.line_id[: _length("OIS100MI", "AddBatchLine", "CUOR")],
                **charges.discounts.get(line.line_id, {}),
            }
        )
    if not lines and not problems:
        problems.append(
            Problem("NO_LINES", f"order {order.order_id} has no line with a quantity", order.order_id)
        )

    address: dict[str, str] | None = None
    if order.ship_to is not None:
        address, address_problems = fit_address(
            order.ship_to, allow_truncation=mappings.addresses.allow_truncation
        )
        problems.extend(address_problems)
    elif order.channel.value == "MERCHANT":
        problems.append(
            Problem(
                "MISSING_ADDRESS", f"seller-fulfilled order {order.order_id} came without a delivery address"
            )
        )

    if problems:
        return Translation(None, tuple(problems))
    head = {
        "ORTP": channel.ortp,
        "WHLO": channel.whlo,
        "FACI": channel.faci or m3.faci,
        "CUCD": order.currency,
        "ORDT": order.created_at.strftime("%Y%m%d"),
    }
    assert refs.customer is not None
    plan = CustomerOrderPlan(
        cuor=order.order_id,
        customer=refs.customer,
        head=head,
        address=address,
        lines=[*lines, *charges.lines],
        charges=charges.head_charges,
    )
    return Translation(plan)
