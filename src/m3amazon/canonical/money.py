"""Money: a Decimal amount with an ISO 4217 currency.

Why a type of its own: every amount that crosses the integration (Amazon prices, M3 sales prices,
settlement lines, GL postings) must keep its currency and never pass through a float. Arithmetic
refuses to mix currencies, multiplication only takes exact numbers, and rounding happens only where
a caller asks for it, with the rounding mode named.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pycountry
from pydantic import BaseModel, ConfigDict, field_validator

# ISO 4217 minor units that are not 2. pycountry carries the codes but not the exponents.
_MINOR_UNITS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "CLF": 4,
    "UYW": 4,
}

#: The rounding mode used when a caller does not choose one: commercial rounding, as M3 and
#: Amazon's invoices use for amounts shown to customers.
DEFAULT_ROUNDING = ROUND_HALF_UP
#: Banker's rounding, for aggregations where a systematic half-up bias would accumulate.
BANKERS_ROUNDING = ROUND_HALF_EVEN


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


@lru_cache(maxsize=512)
def is_iso_currency(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


def minor_units(currency: str) -> int:
    """Number of decimals of the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD)."""
    return _MINOR_UNITS.get(currency, 2)


def to_decimal(value: Any) -> Decimal:
    """Exact conversion to Decimal. Floats are refused: they cannot represent most cents exactly."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
    elif isinstance(value, float):
        raise TypeError(f"refusing float amount {value!r}: pass a string or a Decimal")
    else:
        raise TypeError(f"not an amount: {value!r}")
    if not result.is_finite():
        raise ValueError(f"amount must be finite, got {value!r}")
    return result


class Money(BaseModel):
    """An exact amount in one currency. Immutable; operators return new values."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: str

    def __init__(self, amount: Any = None, currency: str | None = None, **data: Any) -> None:
        if amount is not None:
            data["amount"] = amount
        if currency is not None:
            data["currency"] = currency
        super().__init__(**data)

    @field_validator("amount", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Decimal:
        try:
            return to_decimal(value)
        except TypeError as exc:  # surfaced as a ValidationError, like every other bad input
            raise ValueError(str(exc)) from exc

    @field_validator("currency", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("currency must be an ISO 4217 code")
        code = value.strip().upper()
        if len(code) != 3 or not is_iso_currency(code):
            raise ValueError(f"unknown ISO 4217 currency {value!r}")
        return code

    # -- construction -------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def sum(cls, items: Iterable[Money], currency: str) -> Money:
        """Sum of amounts that must all be in `currency` (an empty sum is zero)."""
        total = cls.zero(currency)
        for item in items:
            total = total + item
        return total

    # -- arithmetic ---------------------------------------------------------------------
    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: int | Decimal | str) -> Money:
        return Money(self.amount * to_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def __hash__(self) -> int:
        return hash((self.amount.normalize() if self.amount else Decimal(0), self.currency))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    # -- rounding -----------------------------------------------------------------------
    def rounded(self, rounding: str = DEFAULT_ROUNDING, places: int | None = None) -> Money:
        """Round to the currency's minor unit (or `places` decimals) with the given mode."""
        exponent = Decimal(1).scaleb(-(minor_units(self.currency) if places is None else places))
        return Money(self.amount.quantize(exponent, rounding=rounding), self.currency)

    def allocate(self, weights: Sequence[int | Decimal]) -> list[Money]:
        """Split into parts proportional to `weights` that add up to exactly this amount.

        Each part is rounded down to the minor unit; the remaining minor units go one by one to
        the parts with the largest remainders (ties to the earliest), so nothing is lost or made up.
        """
        if not weights:
            raise ValueError("allocate needs at least one weight")
        ws = [to_decimal(w) for w in weights]
        if any(w < 0 for w in ws) or sum(ws) == 0:
            raise ValueError("weights must be non-negative and not all zero")
        total = self.rounded().amount
        unit = Decimal(1).scaleb(-minor_units(self.currency))
        sign = -1 if total < 0 else 1
        magnitude = abs(total)
        raw = [magnitude * w / sum(ws) for w in ws]
        floors = [(r // unit) * unit for r in raw]
        left = int((magnitude - sum(floors)) / unit)
        order = sorted(range(len(ws)), key=lambda i: (-(raw[i] - floors[i]), i))
        for i in order[:left]:
            floors[i] += unit
        return [Money(sign * f, self.currency) for f in floors]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency}')"
