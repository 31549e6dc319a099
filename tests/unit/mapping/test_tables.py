"""Mapping tables are validated when loaded, with messages that say where the mistake is."""

import pytest

from m3amazon.mapping import MappingError, load_mappings
from m3amazon.sim.catalog import MARKETPLACES


def test_shipped_defaults_cover_every_simulated_marketplace():
    mappings = load_mappings()
    for marketplace in MARKETPLACES.values():
        assert mappings.customers.per_marketplace[marketplace.marketplace_id] == marketplace.customer_number
    assert len(mappings.version) == 12


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customers: [1, 2", "not valid YAML"),
        ("- a\n- b\n", "mapping of tables"),
        ("customers:\n  per_marketplace:\n    X: ABCDEFGHIJKL\n", "customers.per_marketplace"),
        ("items:\n  sku_to_item:\n    SKU1: ''\n", "items.sku_to_item"),
        ("items:\n  alias_category: '3'\n", "items.alias_category"),
        ("colours: {}\n", "colours"),
        ("customers:\n  policy: per_planet\n", "customers.policy"),
    ],
)
def test_bad_files_are_refused_in_plain_words(tmp_path, text, message):
    path = tmp_path / "mappings.yaml"
    path.write_text(text)
    with pytest.raises(MappingError, match=message):
        load_mappings(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MappingError, match="cannot read mapping file"):
        load_mappings(tmp_path / "absent.yaml")
