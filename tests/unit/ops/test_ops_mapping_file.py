"""Writing one `items.sku_to_item` entry keeps the operator's file as they wrote it, and stays valid."""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

import pytest

from m3amazon.mapping import load_mappings
from m3amazon.ops.mapping_file import MappingFileError, set_sku_item


def _defaults_copy(tmp_path: Path) -> Path:
    path = tmp_path / "mappings.yaml"
    path.write_text(
        resources.files("m3amazon.mapping").joinpath("defaults.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return path


def test_the_shipped_defaults_copy_takes_an_entry_and_keeps_every_comment(tmp_path: Path) -> None:
    path = _defaults_copy(tmp_path)
    before = path.read_text(encoding="utf-8")
    assert set_sku_item(path, "SKU-1", "ITEM-1") is None
    after = path.read_text(encoding="utf-8")

    comments = [line.strip() for line in before.splitlines() if line.strip().startswith("#")]
    assert comments and all(c in after for c in comments)
    assert "ATVPDKIKX0DER: AMZUS     # Amazon.com" in after  # trailing comments and alignment too
    assert "sku_to_item:\n    SKU-1: ITEM-1\n" in after  # `{}` became a block
    mappings = load_mappings(path)
    assert mappings.items.sku_to_item == {"SKU-1": "ITEM-1"}
    assert mappings.customers == load_mappings(None).customers
    assert mappings.status == load_mappings(None).status


def test_entries_are_added_or_replaced_and_codes_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "# my mappings\nitems:\n  alias_category: '03'   # Amazon SKUs\n  sku_to_item:\n    OLD: ITEM-0\n",
        encoding="utf-8",
    )
    assert set_sku_item(path, "12345", "00777") is None
    assert set_sku_item(path, "OLD", "ITEM-9") == "ITEM-0"
    text = path.read_text(encoding="utf-8")
    assert "# my mappings" in text and "# Amazon SKUs" in text and "'03'" in text
    assert load_mappings(path).items.sku_to_item == {"OLD": "ITEM-9", "12345": "00777"}


def test_a_file_without_items_gets_the_table(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("addresses:\n  allow_truncation: true  # our carrier prints 35 characters\n")
    set_sku_item(path, "SKU-2", "ITEM-2")
    assert load_mappings(path).items.sku_to_item == {"SKU-2": "ITEM-2"}
    assert "# our carrier prints 35 characters" in path.read_text()


def test_an_entry_that_would_break_the_file_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("items:\n  sku_to_item: {}\n")
    with pytest.raises(MappingFileError, match="invalid"):
        set_sku_item(path, "SKU-3", "AN-ITEM-NUMBER-TOO-LONG")
    assert path.read_text() == "items:\n  sku_to_item: {}\n"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []

    path.write_text("items: [1, 2]\n")
    with pytest.raises(MappingFileError, match="must be a mapping"):
        set_sku_item(path, "SKU-3", "ITEM-3")
    with pytest.raises(MappingFileError, match="does not exist"):
        set_sku_item(tmp_path / "missing.yaml", "SKU-3", "ITEM-3")


def test_operators_writing_at_once_lose_no_entry(tmp_path: Path) -> None:
    path = _defaults_copy(tmp_path)
    threads = [threading.Thread(target=set_sku_item, args=(path, f"SKU-{n}", f"ITEM-{n}")) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert load_mappings(path).items.sku_to_item == {f"SKU-{n}": f"ITEM-{n}" for n in range(12)}
