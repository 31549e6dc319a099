"""The one adapter between Amazon's seven money shapes and canonical `Money`.

Why one place: every SP-API model spells money differently (research §7.1), and a single wrong key
or a float on the way silently turns 19.99 into 19.989999. All Amazon amounts enter and leave the
product through `parse_money` / `render_money`:

| shape           | JSON                                   | amount type       |
| --------------- | -------------------------------------- | ----------------- |
| ORDERS_V0       | {"CurrencyCode", "Amount"}             | decimal string    |
| ORDERS_V2026    | {"amount", "currencyCode"}             | decimal string    |
| LISTINGS        | {"currencyCode", "amount"}             | decimal string    |
| MCF_2020        | {"currencyCode", "value"}              | decimal string    |
| MCF_2026        | {"currencyCode", "amount"}             | decimal string    |
| FINANCES_V0     | {"CurrencyCode", "CurrencyAmount"}     | JSON number       |
| FINANCES_2024   | {"currencyCode", "currencyAmount"}     | JSON number       |

Rules:
- Parsing is exact. A JSON number should be read with `json.loads(..., parse_float=Decimal)`; if a
  float arrives anyway it is converted through its shortest repr (`repr(0.1) == "0.1"`), never
  through binary arithmetic.
- Rendering never rounds: an amount with more decimals than the currency's minor unit is refused
  (round it first with `Money.rounded`, naming the rounding mode). Decimal strings are written in
  plain notation (no exponent); number shapes are returned as `Decimal` (the finances APIs are
  read-only, so the product never has to write them as JSON).
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from m3amazon.canonical.money import Money, minor_units


class MoneyShape(StrEnum):
    ORDERS_V0 = "orders_v0"
    ORDERS_V2026 = "orders_v2026"
    LISTINGS = "listings"
    MCF_2020 = "mcf_2020"
    MCF_2026 = "mcf_2026"
    FINANCES_V0 = "finances_v0"
    FINANCES_2024 = "finances_2024"


#: (currency key, amount key, amount is a JSON number)
_KEYS: dict[MoneyShape, tuple[str, str, bool]] = {
    MoneyShape.ORDERS_V0: ("CurrencyCode", "Amount", False),
    MoneyShape.ORDERS_V2026: ("currencyCode", "amount", False),
    MoneyShape.LISTINGS: ("currencyCode", "amount", False),
    MoneyShape.MCF_2020: ("currencyCode", "value", False),
    MoneyShape.MCF_2026: ("currencyCode", "amount", False),
    MoneyShape.FINANCES_V0: ("CurrencyCode", "CurrencyAmount", True),
    MoneyShape.FINANCES_2024: ("currencyCode", "currencyAmount", True),
}


class MoneyShapeError(ValueError):
    """The object is not a valid amount in the given Amazon shape."""


def _exact(value: Any) -> Decimal | str | int:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise MoneyShapeError(f"amount {value!r} is not a number")
    return value


def parse_money(shape: MoneyShape | str, obj: Any) -> Money:
    """Canonical Money from an Amazon money object of `shape`."""
    currency_key, amount_key, _ = _KEYS[MoneyShape(shape)]
    if not isinstance(obj, dict):
        raise MoneyShapeError(f"expected a {shape} money object, got {type(obj).__name__}")
    if obj.get(currency_key) is None or obj.get(amount_key) is None:
        raise MoneyShapeError(f"{shape} money needs {currency_key!r} and {amount_key!r}, got {sorted(obj)}")
    try:
        return Money(_exact(obj[amount_key]), obj[currency_key])
    except ValidationError as exc:
        problem = exc.errors()[0].get("msg", "invalid")
        raise MoneyShapeError(f"invalid {shape} money {obj!r}: {problem}") from None


def _plain(amount: Decimal) -> str:
    """Plain notation without exponent; zero never carries a sign ("-0.00" -> "0.00")."""
    return format(abs(amount) if amount.is_zero() else amount, "f")


def render_money(shape: MoneyShape | str, money: Money) -> dict[str, Any]:
    """The Amazon money object of `shape` for `money`. Refuses sub-minor-unit precision."""
    currency_key, amount_key, as_number = _KEYS[MoneyShape(shape)]
    places = minor_units(money.currency)
    if money.amount != money.amount.quantize(Decimal(1).scaleb(-places)):
        raise MoneyShapeError(f"{money} has more than {places} decimals for {money.currency}: round it first")
    amount: Decimal | str = money.amount if as_number else _plain(money.amount)
    if shape == MoneyShape.ORDERS_V2026:  # the model lists amount first; keep its order on the wire
        return {amount_key: amount, currency_key: money.currency}
    return {currency_key: money.currency, amount_key: amount}


def loads(text: str | bytes) -> Any:
    """json.loads that reads every JSON number with a fraction as Decimal."""
    return json.loads(text, parse_float=Decimal)
