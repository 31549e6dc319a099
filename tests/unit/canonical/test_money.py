"""Money: exact, single-currency arithmetic with explicit rounding."""

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from m3amazon.canonical import CurrencyMismatch, Money

amounts = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=4, allow_nan=False)
currencies = st.sampled_from(["EUR", "USD", "GBP", "JPY", "KWD", "SEK"])


@given(amounts, amounts, currencies)
def test_addition_is_exact_and_commutative(a, b, cur):
    assert Money(a, cur) + Money(b, cur) == Money(b, cur) + Money(a, cur)
    assert (Money(a, cur) + Money(b, cur)).amount == a + b


@given(amounts, currencies)
def test_subtracting_itself_is_zero(a, cur):
    assert (Money(a, cur) - Money(a, cur)).is_zero


@given(amounts, amounts)
def test_mixed_currencies_are_refused(a, b):
    with pytest.raises(CurrencyMismatch):
        Money(a, "EUR") + Money(b, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money(a, "EUR") < Money(b, "USD")


@given(
    amounts,
    currencies,
    st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(any),
)
def test_allocation_never_loses_or_makes_up_a_cent(a, cur, weights):
    total = Money(a, cur).rounded()
    parts = total.allocate(weights)
    assert Money.sum(parts, cur) == total
    assert all(p.rounded() == p for p in parts)


@given(amounts, currencies)
def test_rounding_uses_the_currency_minor_unit(a, cur):
    rounded = Money(a, cur).rounded()
    places = {"JPY": 0, "KWD": 3}.get(cur, 2)
    assert -rounded.amount.as_tuple().exponent <= places
    assert abs(rounded.amount - a) <= Decimal(1).scaleb(-places) / 2


def test_rounding_mode_is_explicit():
    assert Money("2.345", "EUR").rounded().amount == Decimal("2.35")  # half up by default
    assert Money("2.345", "EUR").rounded(ROUND_HALF_EVEN).amount == Decimal("2.34")
    assert Money("100.5", "JPY").rounded().amount == Decimal("101")


def test_floats_and_unknown_currencies_are_refused():
    with pytest.raises(ValidationError, match="float"):
        Money(0.1, "EUR")
    with pytest.raises(ValidationError, match="ISO 4217"):
        Money("1", "XXY")
    with pytest.raises(ValidationError):
        Money("abc", "EUR")
    with pytest.raises(ValidationError):
        Money("NaN", "EUR")


def test_currency_is_normalised_and_multiplication_is_exact():
    assert Money("19.99", "eur") * 3 == Money("59.97", "EUR")
    assert Money("0.10", "USD") * Decimal("3") == Money("0.30", "USD")
    with pytest.raises(TypeError):
        Money("1", "USD") * 1.5  # type: ignore[operator]
