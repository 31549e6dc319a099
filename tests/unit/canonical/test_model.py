"""The canonical order, parties and postings."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from m3amazon.canonical import (
    Address,
    FulfillmentChannel,
    JournalLine,
    JournalPosting,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Party,
    masked,
)


def _order(**changes):
    values = dict(
        order_id="111-2223334-5556667",
        marketplace_id="A1PA6795UKMFR9",
        status=OrderStatus.UNSHIPPED,
        channel=FulfillmentChannel.MERCHANT,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
        currency="EUR",
        lines=(OrderLine(line_id="1", sku="A", quantity=2, unit_price=Money("9.99", "EUR")),),
    )
    values.update(changes)
    return Order(**values)


def test_order_lines_must_share_the_order_currency():
    with pytest.raises(ValidationError, match="priced in USD"):
        _order(lines=(OrderLine(line_id="1", sku="A", quantity=1, unit_price=Money("1", "USD")),))


def test_goods_total():
    assert _order().goods_total == Money("19.98", "EUR")


def test_pii_is_masked_in_repr_and_in_masked_copies():
    address = Address(
        name="Jane Müller",
        line1="Hauptstraße 1",
        postal_code="10115",
        city="Berlin",
        country_code="de",
        phone="+49 30 123456",
    )
    buyer = Party(name="Jane Müller", email="jane@example.com")
    order = _order(ship_to=address, buyer=buyer)
    text = repr(order) + str(masked(order))
    for secret in ("Jane", "Hauptstraße", "10115", "+49", "jane@example.com"):
        assert secret not in text
    assert "Berlin" in text and "DE" in text  # city and country are not personal on their own


def test_unknown_country_is_refused():
    with pytest.raises(ValidationError, match="country"):
        Address(country_code="XX")


def test_journal_must_balance():
    debit = JournalLine(dimensions=("1930",), amount=Money("100.00", "EUR"))
    credit = JournalLine(dimensions=("3010", "SE"), amount=Money("-100.00", "EUR"))
    posting = JournalPosting(
        key="s-1",
        accounting_date=date(2026, 11, 1),
        currency="EUR",
        description="Amazon settlement",
        lines=(debit, credit),
    )
    assert posting.debits == Money("100.00", "EUR")
    with pytest.raises(ValidationError, match="does not balance"):
        JournalPosting(
            key="s-2",
            accounting_date=date(2026, 11, 1),
            currency="EUR",
            description="x",
            lines=(debit, JournalLine(dimensions=("3010",), amount=Money("-99.99", "EUR"))),
        )


def test_released_statuses():
    assert OrderStatus.UNSHIPPED.is_released and OrderStatus.SHIPPED.is_released
    assert not OrderStatus.PENDING.is_released and not OrderStatus.CANCELLED.is_released
