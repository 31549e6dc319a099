"""Contract against the vendor reference itself (../shared/m3-mi/fields.tsv), not the derived copy:
every request our client sends in the contract scenario uses the reference's input fields within
their lengths, and every simulator answer uses its output fields only."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from m3a_contract_scenario import run_contract_scenario
from m3a_testenv import reference_dir

pytestmark = pytest.mark.reference


def _reference() -> dict[tuple[str, str, str], dict[str, tuple[str, int | None]]]:
    table: dict[tuple[str, str, str], dict[str, tuple[str, int | None]]] = defaultdict(dict)
    path = reference_dir("m3-mi") / "m3-mi" / "fields.tsv"
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            length = int(row["length"]) if row["length"].isdigit() else None
            key = (row["program"], row["transaction"], row["direction"])
            table[key][row["field"]] = (row["type"], length)
    return table


def test_wire_traffic_matches_the_reference_tables(tmp_path: Path) -> None:
    reference = _reference()
    exchanges = run_contract_scenario(tmp_path)
    assert exchanges
    for e in exchanges:
        inputs = reference[(e.program, e.transaction, "in")]
        outputs = reference[(e.program, e.transaction, "out")]
        where = f"{e.program}/{e.transaction}"
        for name, value in e.record.items():
            assert name in inputs, f"{where}: {name} is not an input field in the reference"
            kind, limit = inputs[name]
            size = sum(c.isdigit() for c in value) if kind == "number" else len(value)
            assert limit is None or size <= limit, f"{where}: {name} longer than {limit}"
        for row in e.rows:
            assert set(row) <= set(outputs), f"{where}: {set(row) - set(outputs)} not in the reference"
            for name, value in row.items():
                limit = outputs[name][1]
                assert limit is None or len(value) <= limit, f"{where}: {name} longer than {limit}"
