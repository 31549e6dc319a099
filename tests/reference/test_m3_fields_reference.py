"""The committed MI field table is exactly what scripts/derive_reference.py derives from ../shared.

The repository carries only derived facts; this test catches a hand edit of mi_fields.json or a
change of the reference data that was not re-derived (`make derive-reference`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from amazon_reference import derive_script, reference_dir

pytestmark = pytest.mark.reference

ROOT = Path(__file__).resolve().parents[2]


def test_committed_mi_fields_match_the_reference() -> None:
    derived = derive_script().derive_mi_fields(reference_dir("m3-mi"))
    committed = json.loads((ROOT / "src/m3amazon/m3/data/mi_fields.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(derived)), (
        "mi_fields.json is stale: run `make derive-reference`"
    )
