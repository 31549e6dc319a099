"""Amazon charges -> M3 records by configuration: every mode, the mapping's checks, and - with
hypothesis - that amounts in equal amounts out, to the cent, whatever the modes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from m3amazon.canonical import Address, FulfillmentChannel, Money, Order, OrderLine, OrderStatus
from m3amazon.config import M3Settings
from m3amazon.m3.charges import KINDS, amount_of, charge_records
from m3amazon.m3.fields import FieldTable
from m3amazon.m3.order_lines import CHARGE_LINE_PREFIX
from m3amazon.m3.translate import ItemRef, References, to_m3_order
from m3amazon.mapping import load_mappings
from m3amazon.mapping.tables import ChargeMapping, ChargeMode, ChargeRule, Mappings

FIELDS = FieldTable.default()


def _line(line_id: str, price: str, quantity: int = 1, **charges: str) -> OrderLine:
    return OrderLine(
        line_id=line_id,
        sku=f"SKU-{line_id}",
        quantity=quantity,
        unit_price=Money(price, "EUR"),
        **{name: Money(amount, "EUR") for name, amount in charges.items()},
    )


LINES = [
    _line("1", "20.00", 2, shipping="4.99", gift_wrap="2.50", promotion_discount="3.00", tax="7.60"),
    _line("2", "5.00", 1, shipping="1.01", shipping_tax="0.19", tax="0.95"),
]


def test_the_defaults_send_shipping_and_gift_wrap_as_head_charges_and_promotions_as_line_discounts():
    records = charge_records(LINES, "EUR", ChargeMapping(), warehouse="100")
    assert records.problems == ()
    assert records.head_charges == [
        {"CRID": "SHIP", "CRAM": "6.00", "CUCD": "EUR"},
        {"CRID": "GIFT", "CRAM": "2.50", "CUCD": "EUR"},
    ]
    assert records.discounts == {"1": {"DIA1": "3.00"}}
    assert records.lines == []  # tax is ignored: M3 computes VAT


def test_order_lines_carry_a_charge_kind_marker_and_the_sum_as_price():
    rules = ChargeMapping(
        shipping=ChargeRule(mode=ChargeMode.ORDER_LINE, item_number="SRV-SHIPPING"),
        tax=ChargeRule(mode=ChargeMode.ORDER_LINE, item_number="SRV-TAX"),
        promotion=ChargeRule(mode=ChargeMode.HEAD_CHARGE, charge_id="PROMO", description="Amazon promotion"),
    )
    records = charge_records(LINES, "EUR", rules, warehouse="FBA")
    assert records.lines == [
        {"ITNO": "SRV-SHIPPING", "ORQT": "1", "SAPR": "6.00", "WHLO": "FBA", "CUOR": "CHG-SHIPPING"},
        {"ITNO": "SRV-TAX", "ORQT": "1", "SAPR": "8.74", "WHLO": "FBA", "CUOR": "CHG-TAX"},
    ]
    assert {
        "CRID": "PROMO",
        "CRAM": "-3.00",
        "CUCD": "EUR",
        "CRD0": "Amazon promotion",
    } in records.head_charges
    for line in records.lines:
        FIELDS.validate_input("OIS100MI", "AddBatchLine", {**line, "ORNO": "1"})
        assert line["CUOR"].startswith(CHARGE_LINE_PREFIX)


def test_kinds_that_share_a_charge_id_become_one_charge():
    rules = ChargeMapping(gift_wrap=ChargeRule(mode=ChargeMode.HEAD_CHARGE, charge_id="SHIP"))
    records = charge_records(LINES, "EUR", rules, warehouse="100")
    assert records.head_charges == [{"CRID": "SHIP", "CRAM": "8.50", "CUCD": "EUR"}]


def test_zero_and_ignored_charges_send_nothing():
    rules = ChargeMapping(
        shipping=ChargeRule(mode=ChargeMode.IGNORE),
        gift_wrap=ChargeRule(mode=ChargeMode.IGNORE),
        promotion=ChargeRule(mode=ChargeMode.IGNORE),
    )
    assert charge_records(LINES, "EUR", rules, warehouse="100").head_charges == []
    plain = [_line("1", "9.99", shipping="0.00")]
    records = charge_records(plain, "EUR", ChargeMapping(), warehouse="100")
    assert records.head_charges == [] and records.lines == [] and records.discounts == {}


def test_a_promotion_larger_than_its_line_or_another_currency_is_a_problem():
    big = [_line("1", "2.00", promotion_discount="5.00")]
    (problem,) = charge_records(big, "EUR", ChargeMapping(), warehouse="100").problems
    assert problem.reason_code == "DISCOUNT_EXCEEDS_LINE" and "head_charge" in problem.message
    foreign = [
        OrderLine(line_id="1", sku="A", quantity=1, unit_price=Money("2", "EUR"), shipping=Money("1", "GBP"))
    ]
    (problem,) = charge_records(foreign, "EUR", ChargeMapping(), warehouse="100").problems
    assert problem.reason_code == "CHARGE_CURRENCY" and "GBP" in problem.message


def test_the_mapping_refuses_incomplete_or_impossible_rules():
    with pytest.raises(ValidationError, match="charge_id"):
        ChargeRule(mode=ChargeMode.HEAD_CHARGE)
    with pytest.raises(ValidationError, match="item_number"):
        ChargeRule(mode=ChargeMode.ORDER_LINE)
    with pytest.raises(ValidationError, match="promotions only"):
        ChargeMapping(shipping=ChargeRule(mode=ChargeMode.LINE_DISCOUNT))
    with pytest.raises(ValidationError, match="negative price"):
        ChargeMapping(promotion=ChargeRule(mode=ChargeMode.ORDER_LINE, item_number="X"))
    with pytest.raises(ValidationError, match="DIA"):
        ChargeRule(mode=ChargeMode.LINE_DISCOUNT, discount_field="DIA7")
    assert load_mappings().charges == ChargeMapping()  # the shipped defaults are the model's defaults


def _order(*lines: OrderLine) -> Order:
    return Order(
        order_id="305-1234567-7654321",
        marketplace_id="A1PA6795UKMFR9",
        status=OrderStatus.UNSHIPPED,
        channel=FulfillmentChannel.MERCHANT,
        created_at=datetime(2026, 11, 3, 10, tzinfo=UTC),
        updated_at=datetime(2026, 11, 3, tzinfo=UTC),
        currency="EUR",
        lines=lines,
        ship_to=Address(
            name="A B", line1="Hohe Straße 1", city="Köln", postal_code="50667", country_code="DE"
        ),
    )


def test_the_translation_puts_charges_on_the_plan_and_discounts_on_the_lines():
    refs = References(
        customer="AMZDE",
        customer_exists=True,
        items={
            "SKU-1": ItemRef(sku="SKU-1", item_number="IT1", status="20"),
            "SKU-2": ItemRef(sku="SKU-2", item_number="IT2", status="20"),
            "SKU-3": ItemRef(sku="SKU-3", item_number="IT3", status="20"),
        },
    )
    cancelled = _line("3", "1.00", 0, shipping="9.00")  # not sent, nor its charges
    plan = to_m3_order(_order(*LINES, cancelled), refs, load_mappings(), M3Settings()).plan
    assert plan is not None
    assert plan.charges == [
        {"CRID": "SHIP", "CRAM": "6.00", "CUCD": "EUR"},
        {"CRID": "GIFT", "CRAM": "2.50", "CUCD": "EUR"},
    ]
    assert [line.get("DIA1") for line in plan.lines] == ["3.00", None]
    rules = Mappings(
        charges=ChargeMapping(shipping=ChargeRule(mode=ChargeMode.ORDER_LINE, item_number="SRV"))
    )
    plan = to_m3_order(_order(*LINES), refs, rules, M3Settings()).plan
    assert plan is not None and plan.lines[-1]["CUOR"] == "CHG-SHIPPING" and plan.lines[-1]["SAPR"] == "6.00"


cents = st.integers(min_value=0, max_value=50_000).map(lambda c: Money(Decimal(c).scaleb(-2), "EUR"))
charge_lines = st.builds(
    lambda n, price, qty, ship, gift, promo, tax, stax: OrderLine(
        line_id=str(n),
        sku=f"S{n}",
        quantity=qty,
        unit_price=price,
        shipping=ship,
        gift_wrap=gift,
        promotion_discount=promo if promo is not None and promo <= price * qty else None,
        tax=tax,
        shipping_tax=stax,
    ),
    st.integers(min_value=1, max_value=10**13),
    cents,
    st.integers(min_value=1, max_value=5),
    st.none() | cents,
    st.none() | cents,
    st.none() | cents,
    st.none() | cents,
    st.none() | cents,
)
rules_for = {
    "shipping": st.sampled_from(
        [
            ChargeRule(),
            ChargeRule(mode=ChargeMode.HEAD_CHARGE, charge_id="SHIP"),
            ChargeRule(mode=ChargeMode.HEAD_CHARGE, charge_id="FRT"),
            ChargeRule(mode=ChargeMode.ORDER_LINE, item_number="SRV-SHIPPING"),
        ]
    ),
    "gift_wrap": st.sampled_from(
        [
            ChargeRule(),
            ChargeRule(mode=ChargeMode.HEAD_CHARGE, charge_id="FRT"),
            ChargeRule(mode=ChargeMode.ORDER_LINE, item_number="SRV-GIFTWRAP"),
        ]
    ),
    "promotion": st.sampled_from(
        [
            ChargeRule(),
            ChargeRule(mode=ChargeMode.LINE_DISCOUNT),
            ChargeRule(mode=ChargeMode.LINE_DISCOUNT, discount_field="DIA3"),
            ChargeRule(mode=ChargeMode.HEAD_CHARGE, charge_id="PROMO"),
        ]
    ),
    "tax": st.sampled_from([ChargeRule(), ChargeRule(mode=ChargeMode.ORDER_LINE, item_number="SRV-TAX")]),
}


@settings(max_examples=300)
@given(
    lines=st.lists(charge_lines, min_size=1, max_size=6, unique_by=lambda line: line.line_id),
    rules=st.fixed_dictionaries(rules_for).map(lambda r: ChargeMapping(**r)),
)
def test_no_cent_is_lost_or_made_up(lines, rules):
    """What the non-ignored kinds charge on Amazon is exactly what the M3 records carry."""
    records = charge_records(lines, "EUR", rules, warehouse="100")
    assert records.problems == ()
    expected = Money.zero("EUR")
    for kind in KINDS:
        if getattr(rules, kind).mode is ChargeMode.IGNORE:
            continue
        total = Money.sum((m for line in lines for m in amount_of(line, kind)), "EUR")
        expected = expected + (-total if kind == "promotion" else total)
    carried = sum((Decimal(c["CRAM"]) for c in records.head_charges), Decimal(0))
    carried += sum((Decimal(line["SAPR"]) * Decimal(line["ORQT"]) for line in records.lines), Decimal(0))
    carried -= sum((Decimal(v) for fields in records.discounts.values() for v in fields.values()), Decimal(0))
    assert carried == expected.amount
    crids = [c["CRID"] for c in records.head_charges]
    assert len(crids) == len(set(crids))  # one charge per charge id
    for charge in records.head_charges:
        FIELDS.validate_input("OIS100MI", "AddBatchHeadChg", {**charge, "ORNO": "1"})
    for line in records.lines:
        FIELDS.validate_input("OIS100MI", "AddBatchLine", {**line, "ORNO": "1"})
