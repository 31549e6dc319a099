"""Categorise and aggregate: the money is never lost or made up on the way to the journals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from m3amazon.amazon.settlement_file import Aggregation, read_settlement
from m3amazon.flows.settlement_plan import batch_key, plan_settlement
from m3amazon.mapping import load_mappings
from m3amazon.mapping.gl import GLMapping, GLRule

TRIPLES = [
    ("Order", "ItemPrice", "Principal"),
    ("Order", "ItemPrice", "Tax"),
    ("Order", "ItemFees", "Commission"),
    ("Order", "ItemFees", "FBAPerUnitFulfillmentFee"),
    ("Refund", "ItemPrice", "Principal"),
    ("Order", "Promotion", "Principal"),
]
DAYS = [
    "2026-03-30 10:00:00 UTC",
    "2026-03-31 23:59:59 UTC",
    "2026-04-01 00:00:01 UTC",
    "2026-04-07 12:00:00 UTC",
]
HEADER = (
    "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\t"
    "transaction-type\torder-id\tmarketplace-name\tamount-type\tamount-description\tamount\tposted-date-time"
)


def _amount(cents: int, comma: bool) -> str:
    text = f"{Decimal(cents) / 100:.2f}"
    return text.replace(".", ",") if comma else text


def _file(path: Path, rows: list[tuple[int, int, int, int]], comma: bool) -> Decimal:
    total = sum((Decimal(r[2]) / 100 for r in rows), Decimal(0))
    market, currency = ("Amazon.de", "EUR") if comma else ("Amazon.com", "USD")
    dates = "2026-03-25 00:00:00 UTC\t2026-04-08 00:00:00 UTC\t2026-04-09 00:00:00 UTC"
    lines = [HEADER, f"S1\t{dates}\t{_amount(int(total * 100), comma)}\t{currency}" + "\t" * 7]
    for triple, order, cents, day in rows:
        tt, at, ad = TRIPLES[triple]
        lines.append(
            f"S1\t\t\t\t\t\t{tt}\t111-{order}\t{market}\t{at}\t{ad}\t{_amount(cents, comma)}\t{DAYS[day]}"
        )
    path.write_text("\n".join(lines) + "\n")
    return total


rows_strategy = st.lists(
    st.tuples(
        st.integers(0, len(TRIPLES) - 1),
        st.integers(0, 5),
        st.integers(-10_000_000, 10_000_000),
        st.integers(0, len(DAYS) - 1),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, comma=st.booleans(), aggregation=st.sampled_from(list(Aggregation)))
def test_aggregation_preserves_the_total_exactly(rows, comma: bool, aggregation: Aggregation) -> None:
    gl = load_mappings().gl
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.tsv"
        total = _file(path, rows, comma)
        digest = read_settlement(path, aggregation=aggregation)
    digest.check()
    assert digest.sum_of_lines == total == digest.total
    assert sum((g.amount for g in digest.groups), Decimal(0)) == total
    plan = plan_settlement(digest, gl)
    assert not plan.unmapped
    assert sum((c.amount for c in plan.categories), Decimal(0)) == total
    assert plan.clearing_total(gl.clearing.account) == total  # the clearing account gets the deposit
    for journal in plan.journals:  # balanced (the model refuses otherwise), one per period
        assert sum((line.amount.amount for line in journal.lines), Decimal(0)) == 0
    assert len({j.key for j in plan.journals}) == len(plan.journals) <= 2
    assert all(len(j.key) <= 15 for j in plan.journals)


def test_unknown_triples_are_listed_with_count_and_total(tmp_path: Path) -> None:
    path = tmp_path / "s.tsv"
    _file(path, [(0, 1, 1000, 0), (2, 1, -150, 0), (2, 2, -50, 1)], comma=False)
    gl = GLMapping(rules=(GLRule(match="Order/ItemPrice/*", account="3010"),))
    plan = plan_settlement(read_settlement(path), gl)
    assert not plan.postable and plan.journals == ()
    assert [(u.triple, u.count, u.total) for u in plan.unmapped] == [
        (("Order", "ItemFees", "Commission"), 2, Decimal("-2.00"))
    ]


def test_a_settlement_across_two_months_gets_one_journal_each_dated_in_its_month(tmp_path: Path) -> None:
    path = tmp_path / "s.tsv"
    _file(path, [(0, 1, 1000, 1), (0, 2, 2000, 2)], comma=False)
    plan = plan_settlement(read_settlement(path), load_mappings().gl)
    assert [(j.key, j.accounting_date.isoformat()) for j in plan.journals] == [
        ("AS101", "2026-03-31"),
        ("AS102", "2026-04-08"),
    ]


def test_batch_keys_fit_m3_even_for_long_settlement_ids() -> None:
    assert batch_key("A", "12345678901", 1) == "A1234567890101"
    long = batch_key("A", "9" * 20, 2)
    assert len(long) == 15 and long.endswith("02")


def test_rules_match_by_wildcard_most_specific_first_and_per_marketplace() -> None:
    gl = GLMapping(
        rules=(
            GLRule(match="*/ItemFees/*", account="6570", sign="debit"),
            GLRule(match="*/ItemFees/FBA*", account="6580", sign="debit"),
        ),
        marketplaces={
            "A1PA6795UKMFR9": (GLRule(match="Order/ItemFees/Commission", account="6571", dimensions=("DE",)),)
        },
    )
    assert gl.rule_for(("Order", "ItemFees", "FBAPerUnitFulfillmentFee")).account == "6580"
    assert gl.rule_for(("Order", "ItemFees", "Commission")).account == "6570"
    assert gl.rule_for(("Order", "ItemFees", "Commission"), "Amazon.de").ait == ("6571", "DE")
    assert gl.rule_for(("Order", "ItemPrice", "Principal")) is None


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"match": "Order/ItemPrice", "account": "3010"}, "transaction-type/amount-type"),
        ({"match": "Order/ItemPrice/Principal", "account": "30100000000"}, "at most 10"),
        ({"match": "Order/ItemPrice/Principal", "account": "3010", "dimensions": ["A" * 11]}, "AIT2"),
        ({"match": "Order/ItemPrice/Principal", "account": "3010", "vat_code": 100}, "less than or equal"),
    ],
)
def test_a_bad_gl_rule_stops_the_start_with_a_plain_message(tmp_path: Path, rule: dict, words: str) -> None:
    import yaml

    from m3amazon.mapping import MappingError

    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"gl": {"rules": [rule]}}))
    with pytest.raises(MappingError) as caught:
        load_mappings(path)
    assert words in str(caught.value) and "gl.rules" in str(caught.value)
