"""The committed MI field table is exactly what scripts/derive_reference.py derives from ../shared.

The repository carries only derived facts; this test catches a hand edit of mi_fields.json or a
change of the reference data that was not re-derived (`make derive-reference`).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.reference

ROOT = Path(__file__).resolve().parents[2]


def _reference_dir() -> Path:
    configured = os.environ.get("M3AMAZON_REFERENCE_DIR")
    path = Path(configured) if configured else ROOT.parent / "shared"
    if not (path / "m3-mi").is_dir():
        message = f"reference data not found at {path}; set M3AMAZON_REFERENCE_DIR to run"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _derive_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "derive_reference", ROOT / "scripts" / "derive_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_mi_fields_match_the_reference() -> None:
    derived = _derive_script().derive_mi_fields(_reference_dir())
    committed = json.loads((ROOT / "src/m3amazon/m3/data/mi_fields.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(derived)), (
        "mi_fields.json is stale: run `make derive-reference`"
    )
