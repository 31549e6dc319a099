"""Canonical order -> OIS100MI batch-order records: lengths from the MI field table, nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from m3amazon.canonical import Address, FulfillmentChannel, Money, Order, OrderLine, OrderStatus
from m3amazon.config import M3Settings
from m3amazon.m3.fields import FieldTable
from m3amazon.m3.translate import ItemRef, References, fit_address, to_m3_order
from m3amazon.mapping import load_mappings

FIELDS = FieldTable.default()
words = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=14)
texts = st.lists(words, min_size=1, max_size=6).map(" ".join)


@settings(max_examples=300)
@given(name=texts, company=st.none() | texts, line1=texts, line2=st.none() | texts, line3=st.none() | texts)
def test_address_fits_the_field_lengths_or_is_reported(name, company, line1, line2, line3):
    address = Address(
        name=name,
        company=company,
        line1=line1,
        line2=line2,
        line3=line3,
        city="Köln",
        postal_code="50667",
        country_code="DE",
    )
    record, problems = fit_address(address, allow_truncation=False)
    for field, value in record.items():
        assert len(value) <= FIELDS.length("OIS100MI", "AddBatchAddress", field), field
    if not problems:
        sent = " ".join(record.get(f, "") for f in ("CUNM", "CUA1", "CUA2", "CUA3", "CUA4")).replace(",", " ")
        for text in (name, company, line1, line2, line3):
            for word in (text or "").split():
                assert word in sent  # nothing silently dropped
    else:
        assert problems[0].reason_code == "ADDRESS_DOES_NOT_FIT"
    truncated, no_problems = fit_address(address, allow_truncation=True)
    assert no_problems == []
    assert all(len(v) <= FIELDS.length("OIS100MI", "AddBatchAddress", f) for f, v in truncated.items())


def test_address_overflow_moves_to_the_next_line():
    address = Address(
        name="Maximilian Alexander von Hohenzollern-Sigmaringen",
        line1="Maximilianstraße 12",
        line2="c/o Hinterhaus, 3. Obergeschoss links, Tür 12",
        city="München",
        postal_code="80331",
        state="BY",
        phone="+49 89 1234 5678",
        country_code="DE",
    )
    record, problems = fit_address(address, allow_truncation=False)
    assert problems == []
    assert record["CUNM"] == "Maximilian Alexander von"
    assert record["CUA1"] == "Hohenzollern-Sigmaringen,"
    assert record["CUA2"].startswith("Maximilianstraße 12, c/o Hinterhaus")
    assert record["ECAR"] == "BY" and record["CSCD"] == "DE" and record["TOWN"] == "München"
    assert record["PHN2"] == "+49 89 1234 5678"


def test_long_town_is_a_problem_unless_truncation_is_allowed():
    address = Address(
        name="A",
        line1="B 1",
        city="Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
        postal_code="LL61 5UJ",
        country_code="GB",
    )
    _, problems = fit_address(address, allow_truncation=False)
    assert [p.reason_code for p in problems] == ["ADDRESS_DOES_NOT_FIT"]
    assert "town" in problems[0].message and "TOWN" in problems[0].message
    record, problems = fit_address(address, allow_truncation=True)
    assert problems == [] and len(record["TOWN"]) == FIELDS.length("OIS100MI", "AddBatchAddress", "TOWN")


def _order(channel=FulfillmentChannel.MERCHANT, **changes):
    values = dict(
        order_id="305-1234567-7654321",
        marketplace_id="A1PA6795UKMFR9",
        status=OrderStatus.UNSHIPPED,
        channel=channel,
        created_at=datetime(2026, 11, 3, 10, tzinfo=UTC),
        updated_at=datetime(2026, 11, 3, tzinfo=UTC),
        currency="EUR",
        lines=(
            OrderLine(line_id="11111111111111", sku="SKU-A", quantity=2, unit_price=Money("19.995", "EUR")),
            OrderLine(line_id="22222222222222", sku="SKU-B", quantity=0, unit_price=Money("5", "EUR")),
        ),
        ship_to=Address(
            name="Jürgen Müller", line1="Hohe Straße 1", city="Köln", postal_code="50667", country_code="DE"
        ),
    )
    values.update(changes)
    return Order(**values)


REFS = References(
    customer="AMZDE",
    customer_exists=True,
    items={"SKU-A": ItemRef(sku="SKU-A", item_number="IT000001", status="20", source="alias")},
)


def test_a_released_order_becomes_a_batch_order():
    translation = to_m3_order(_order(), REFS, load_mappings(), M3Settings())
    assert translation.problems == ()
    plan = translation.plan
    assert plan is not None
    assert plan.cuor == "305-1234567-7654321" and plan.customer == "AMZDE"
    assert plan.head == {"ORTP": "MFN", "WHLO": "100", "FACI": "A01", "CUCD": "EUR", "ORDT": "20261103"}
    assert plan.lines == [
        {"ITNO": "IT000001", "ORQT": "2", "SAPR": "20.00", "WHLO": "100", "CUOR": "11111111111111"}
    ]
    assert plan.address is not None and plan.address["CUNM"] == "Jürgen Müller"


def test_fba_orders_go_to_the_fba_warehouse_and_order_type():
    plan = to_m3_order(_order(FulfillmentChannel.AMAZON), REFS, load_mappings(), M3Settings()).plan
    assert plan is not None and plan.head["ORTP"] == "AFN" and plan.head["WHLO"] == "FBA"
    assert plan.lines[0]["WHLO"] == "FBA"


def test_problems_are_collected_not_raised():
    refs = References(
        customer="AMZDE",
        customer_exists=False,
        items={"SKU-A": ItemRef(sku="SKU-A", item_number="IT000001", status="90")},
    )
    order = _order(
        ship_to=None,
        lines=(
            OrderLine(line_id="1", sku="SKU-A", quantity=1, unit_price=Money("1", "EUR")),
            OrderLine(line_id="2", sku="NOPE", quantity=1, unit_price=Money("1", "EUR")),
        ),
    )
    translation = to_m3_order(order, refs, load_mappings(), M3Settings())
    assert translation.plan is None
    codes = [p.reason_code for p in translation.problems]
    assert codes == ["UNKNOWN_CUSTOMER", "ITEM_NOT_SELLABLE", "UNKNOWN_SKU", "MISSING_ADDRESS"]
    assert all(" " in p.message for p in translation.problems)


def test_unmapped_marketplace():
    order = _order(marketplace_id="A39IBJ37TRP1C6")
    refs = References(customer=None, customer_exists=False, items=REFS.items)
    translation = to_m3_order(order, refs, load_mappings(), M3Settings())
    assert [p.reason_code for p in translation.problems] == ["UNMAPPED_MARKETPLACE"]
