"""Amazon's charges (shipping, gift wrap, promotions, tax) -> M3 batch-order records, by configuration.

Pure: no I/O, so the translation stays replayable and is tested with properties. Amazon puts the
charges on each order line (canonical `OrderLine.shipping`, `gift_wrap`, `promotion_discount`,
`tax` + `shipping_tax`); M3 can take them three ways, chosen per kind in the `charges` mapping:

- `head_charge`: the order's sum of that kind as one OIS100MI AddBatchHeadChg (charge id CRID,
  amount CRAM, currency CUCD). Kinds that share a charge id are added up into one charge, since an
  order has each charge once. Promotions go in as a negative amount.
- `order_line`: the order's sum as one line of a non-stocked item priced at the sum, quantity 1;
  its line CUOR is `CHG-<KIND>` (not an Amazon orderItemId) so later steps know it for a charge.
- `line_discount` (promotions only): each line's promotion as that line's discount amount
  (AddBatchLine DIA1..DIA6, an amount for the whole line).

Money rule: amounts are summed exactly, then rounded half-up to the currency's minor unit once per
record; Amazon's amounts are already in minor units, so nothing is lost or made up (a property test
checks the totals). A charge in another currency than the order, a negative charge line or a
promotion larger than its line are problems (incidents), never silently adjusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from m3amazon.canonical import Money, OrderLine
from m3amazon.m3.order_lines import CHARGE_LINE_PREFIX
from m3amazon.m3.problems import Problem
from m3amazon.mapping.tables import ChargeMapping, ChargeMode, ChargeRule

#: The kinds of charge, in the order their records are produced.
KINDS = ("shipping", "gift_wrap", "promotion", "tax")


def amount_of(line: OrderLine, kind: str) -> list[Money]:
    """The line's amounts of one kind (tax: item tax and shipping tax)."""
    if kind == "shipping":
        found = [line.shipping]
    elif kind == "gift_wrap":
        found = [line.gift_wrap]
    elif kind == "promotion":
        found = [line.promotion_discount]
    elif kind == "tax":
        found = [line.tax, line.shipping_tax]
    else:
        raise ValueError(f"unknown charge kind {kind!r}")
    return [money for money in found if money is not None]


@dataclass(frozen=True)
class ChargeRecords:
    """The M3 records that carry an order's charges."""

    #: AddBatchHeadChg records without ORNO
    head_charges: list[dict[str, str]] = field(default_factory=list)
    #: extra AddBatchLine records (charges as order lines) without ORNO
    lines: list[dict[str, str]] = field(default_factory=list)
    #: Amazon line id -> discount fields of that line's AddBatchLine (DIA1..DIA6)
    discounts: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def _text(money: Money) -> str:
    return format(money.rounded().amount, "f")


def _sum(amounts: Iterable[Money], currency: str, kind: str, problems: list[Problem]) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        if amount.currency != currency:
            problems.append(
                Problem(
                    "CHARGE_CURRENCY",
                    f"a {kind.replace('_', ' ')} amount is in {amount.currency}, the order in {currency}",
                    kind,
                )
            )
            continue
        total = total + amount
    return total


def charge_records(
    lines: Iterable[OrderLine], currency: str, rules: ChargeMapping, *, warehouse: str
) -> ChargeRecords:
    """The records for the charges of `lines` (the order lines that go to M3)."""
    sent = list(lines)
    problems: list[Problem] = []
    head: dict[str, tuple[Money, ChargeRule]] = {}
    extra: list[dict[str, str]] = []
    discounts: dict[str, dict[str, str]] = {}
    for kind in KINDS:
        rule: ChargeRule = getattr(rules, kind)
        if rule.mode is ChargeMode.IGNORE:
            continue
        if rule.mode is ChargeMode.LINE_DISCOUNT:
            for line in sent:
                amount = _sum(amount_of(line, kind), currency, kind, problems).rounded()
                if amount.is_zero:
                    continue
                goods = line.line_amount.rounded()
                if amount > goods or amount.amount < 0:
                    problems.append(
                        Problem(
                            "DISCOUNT_EXCEEDS_LINE",
                            f"the promotion of {amount} on line {line.line_id} (SKU {line.sku}) is not"
                            f" between 0 and the line's {goods}; map promotions to head_charge",
                            line.sku,
                        )
                    )
                    continue
                discounts[line.line_id] = {rule.discount_field: _text(amount)}
            continue
        total = _sum((m for line in sent for m in amount_of(line, kind)), currency, kind, problems)
        if kind == "promotion":
            total = -total
        if rule.mode is ChargeMode.HEAD_CHARGE:
            assert rule.charge_id is not None  # enforced by ChargeRule
            earlier = head.get(rule.charge_id)
            head[rule.charge_id] = (
                (earlier[0] + total) if earlier else total,
                earlier[1] if earlier else rule,
            )
        elif not total.rounded().is_zero:  # ORDER_LINE
            if total.amount < 0:
                problems.append(
                    Problem(
                        "NEGATIVE_CHARGE",
                        f"the {kind.replace('_', ' ')} of the order adds up to {total}; an order line"
                        " cannot have a negative price",
                        kind,
                    )
                )
                continue
            assert rule.item_number is not None  # enforced by ChargeRule
            extra.append(
                {
                    "ITNO": rule.item_number,
                    "ORQT": "1",
                    "SAPR": _text(total),
                    "WHLO": warehouse,
                    "CUOR": CHARGE_LINE_PREFIX + kind.upper(),
                }
            )
    charges = []
    for crid, (total, rule) in head.items():
        if total.rounded().is_zero:
            continue
        record = {"CRID": crid, "CRAM": _text(total), "CUCD": currency}
        if rule.description:
            record["CRD0"] = rule.description
        charges.append(record)
    return ChargeRecords(charges, extra, discounts, tuple(problems))
