"""SKU match suggestions: the right M3 item comes first, with a score and what matched."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from m3amazon.mapping.suggestions import Candidate, SkuMatcher, normalise_code
from m3amazon.sim.catalog import build_catalog

CATALOG = build_catalog(size=200, seed=3)
MATCHER = SkuMatcher([Candidate(i.item_number, i.item_name, (f"EAN{i.item_number[2:]}",)) for i in CATALOG])


def test_separators_and_case_do_not_matter():
    assert normalise_code(" skf 6204-2rs/z ") == "SKF62042RSZ"


def test_an_alias_in_another_spelling_is_found_first():
    matcher = SkuMatcher(
        [
            Candidate("SKF6204", "Deep groove ball bearing 6204", ("6204-2RS-SKF",)),
            Candidate("SKF6205", "Deep groove ball bearing 6205", ("6205-2RS-SKF",)),
            Candidate("FAG6204", "Ball bearing 6204 FAG", ()),
        ]
    )
    best = matcher.suggest("6204 2RS SKF", "SKF 6204-2RS deep groove ball bearing")
    assert best[0].item_number == "SKF6204"
    assert best[0].matched_on == "alias" and best[0].score == 100.0
    assert len(best) == 3 and best[0].score >= best[1].score >= best[2].score
    assert "SKF6204" in best[0].describe()


def test_the_title_finds_an_item_whose_codes_do_not_resemble_the_sku():
    matcher = SkuMatcher(
        [
            Candidate("A100", "Stainless hose clamp 20-32 mm"),
            Candidate("A200", "Cable ties black 200 mm 100 pieces"),
        ]
    )
    best = matcher.suggest("ZZ-XQ-77", "100 pieces cable ties, black, 200 mm")
    assert best[0].item_number == "A200" and best[0].matched_on == "name"


def test_no_catalog_no_suggestions():
    assert SkuMatcher([]).suggest("X") == []


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(CATALOG), st.sampled_from(["-", " ", "/", ""]), st.booleans())
def test_a_sku_made_from_an_item_number_ranks_that_item_first(item, separator, lower):
    sku = separator.join([item.item_number[:2], item.item_number[2:5], item.item_number[5:]])
    sku = sku.lower() if lower else sku
    best = MATCHER.suggest(sku, item.title)
    assert best[0].item_number == item.item_number
    assert best[0].score == 100.0


def test_many_queries_at_once_give_the_same_answers_as_one_by_one():
    queries = [(i.sku, i.title) for i in CATALOG[:25]]
    assert MATCHER.suggest_many(queries) == [MATCHER.suggest(s, t) for s, t in queries]
