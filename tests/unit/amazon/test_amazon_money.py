"""The money adapter: every Amazon shape round-trips exactly, and nothing passes through a float."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from m3amazon.amazon.money import MoneyShape, MoneyShapeError, loads, parse_money, render_money
from m3amazon.canonical import Money

CURRENCIES = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3, "BRL": 2}


@st.composite
def money(draw: st.DrawFn) -> Money:
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    minor = draw(st.integers(min_value=-(10**12), max_value=10**12))
    return Money(Decimal(minor).scaleb(-CURRENCIES[currency]), currency)


@given(shape=st.sampled_from(list(MoneyShape)), value=money())
def test_every_shape_round_trips(shape: MoneyShape, value: Money) -> None:
    assert parse_money(shape, render_money(shape, value)) == value


def _json_text(obj: dict) -> str:
    """JSON as Amazon writes it: decimal strings quoted, finance amounts as bare numbers."""
    fields = (
        f"{json.dumps(k)}:{json.dumps(v) if isinstance(v, str) else format(v, 'f')}" for k, v in obj.items()
    )
    return "{" + ",".join(fields) + "}"


@given(shape=st.sampled_from(list(MoneyShape)), value=money())
def test_round_trip_through_json_text(shape: MoneyShape, value: Money) -> None:
    assert parse_money(shape, loads(_json_text(render_money(shape, value)))) == value


@pytest.mark.parametrize(
    ("shape", "obj", "expected"),
    [
        (MoneyShape.ORDERS_V0, {"CurrencyCode": "USD", "Amount": "19.99"}, Money("19.99", "USD")),
        (MoneyShape.ORDERS_V2026, {"amount": "19.99", "currencyCode": "USD"}, Money("19.99", "USD")),
        (MoneyShape.LISTINGS, {"currencyCode": "EUR", "amount": "5.00"}, Money("5.00", "EUR")),
        (MoneyShape.MCF_2020, {"currencyCode": "GBP", "value": "12.5"}, Money("12.5", "GBP")),
        (MoneyShape.MCF_2026, {"currencyCode": "JPY", "amount": "1200"}, Money("1200", "JPY")),
        (MoneyShape.FINANCES_V0, {"CurrencyCode": "EUR", "CurrencyAmount": -3.1}, Money("-3.1", "EUR")),
        (MoneyShape.FINANCES_2024, {"currencyCode": "USD", "currencyAmount": 7}, Money("7", "USD")),
    ],
)
def test_each_shape_reads_its_own_keys(shape: MoneyShape, obj: dict, expected: Money) -> None:
    assert parse_money(shape, obj) == expected


def test_a_float_is_read_through_its_repr_not_binary() -> None:
    parsed = parse_money(MoneyShape.FINANCES_V0, {"CurrencyCode": "USD", "CurrencyAmount": 0.1})
    assert parsed.amount == Decimal("0.1")
    assert parse_money(
        MoneyShape.FINANCES_V0, loads('{"CurrencyCode":"USD","CurrencyAmount":19.99}')
    ).amount == Decimal("19.99")


def test_decimal_strings_are_plain_and_zero_has_no_sign() -> None:
    assert render_money(MoneyShape.ORDERS_V2026, Money(Decimal("1E+2"), "USD")) == {
        "amount": "100",
        "currencyCode": "USD",
    }
    assert render_money(MoneyShape.LISTINGS, Money(Decimal("-0.00"), "EUR"))["amount"] == "0.00"


def test_rendering_refuses_sub_minor_precision() -> None:
    with pytest.raises(MoneyShapeError, match="round it first"):
        render_money(MoneyShape.MCF_2020, Money("1.005", "USD"))
    assert render_money(MoneyShape.MCF_2020, Money("1.005", "USD").rounded()) == {
        "currencyCode": "USD",
        "value": "1.01",
    }


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        {"amount": "1.00"},
        {"currencyCode": "USD"},
        {"amount": "abc", "currencyCode": "USD"},
        {"amount": "1.00", "currencyCode": "XXY"},
        {"amount": True, "currencyCode": "USD"},
        {"amount": "NaN", "currencyCode": "USD"},
        {"Amount": "1.00", "CurrencyCode": "USD"},  # v0 keys are not v2026 keys
    ],
)
def test_invalid_objects_raise_money_shape_error(obj: object) -> None:
    with pytest.raises(MoneyShapeError):
        parse_money(MoneyShape.ORDERS_V2026, obj)
