"""The committed operations table is what scripts/derive_reference.py derives from the reference."""

from __future__ import annotations

import json

import pytest
from amazon_reference import ROOT, derive_script, reference_dir

pytestmark = pytest.mark.reference


def test_operations_json_matches_the_derivation() -> None:
    derived = derive_script().derive_operations(reference_dir())
    committed = json.loads((ROOT / "src/m3amazon/amazon/data/operations.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(derived)), (
        "operations.json is stale: run `make derive-reference`"
    )
