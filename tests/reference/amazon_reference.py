"""Access to the vendor reference files (../shared or $M3AMAZON_REFERENCE_DIR) for reference tests.

The files are read, never copied into the repository. Without them the tests skip with a clear
message, except in CI (CI=true), where a missing reference directory fails the run. Nothing here is
Amazon-specific except the schema helpers: `reference_dir(part)` and `derive_script()` serve any
reference test.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

from m3a_testenv import reference_dir as shared_reference_dir

ROOT = Path(__file__).resolve().parents[2]


def reference_dir(part: str = "amazon-sp-api") -> Path:
    """The reference directory, which must hold `part`; skips (or fails in CI) when it is missing."""
    return shared_reference_dir(part)


def derive_script() -> ModuleType:
    """scripts/derive_reference.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location(
        "derive_reference", ROOT / "scripts" / "derive_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _load(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load(relative: str) -> Any:
    """A reference JSON file under amazon-sp-api/ (a fresh copy: tests may not mutate the cache)."""
    return copy.deepcopy(_load(str(reference_dir() / "amazon-sp-api" / relative)))


def orders_model() -> dict[str, Any]:
    return load("models/orders_2026-01-01.json")


def operation(model: dict[str, Any], operation_id: str) -> tuple[str, dict[str, Any]]:
    """(path template, operation object) of `operation_id` in a Swagger 2.0 model."""
    for path, methods in model["paths"].items():
        for op in methods.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return path, op
    raise KeyError(operation_id)


def strict(node: Any) -> Any:
    """The schema with undeclared properties refused (the simulator must not invent fields), and
    vendor extensions (`x-*`) and examples dropped."""
    if isinstance(node, dict):
        out = {
            k: strict(v)
            for k, v in node.items()
            if not k.startswith("x-") and k not in ("example", "examples")
        }
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def swagger_schema(
    model: dict[str, Any], definition: str, *, strict_properties: bool = True
) -> dict[str, Any]:
    """A JSON Schema for `#/definitions/<definition>` of a Swagger 2.0 model.

    Swagger 2.0 definitions are JSON Schema draft 4 subsets whose refs point at
    `#/definitions/...`; carrying the definitions at the root of the new schema keeps those refs
    resolvable for the `jsonschema` package.
    """
    definitions = model["definitions"]
    schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
    return strict(schema) if strict_properties else copy.deepcopy(schema)


_formats = FormatChecker()


@_formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        if "T" not in value:
            raise ValueError(f"{value!r} has no time part")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def validator(schema: dict[str, Any]) -> Draft7Validator:
    return Draft7Validator(schema, format_checker=_formats)


@cache
def model_validator(model_file: str, definition: str) -> Draft7Validator:
    """A (cached) strict validator for one definition of a model under amazon-sp-api/models/."""
    return validator(swagger_schema(load(f"models/{model_file}"), definition))


def assert_valid(schema: dict[str, Any] | Draft7Validator, document: Any) -> None:
    checker = schema if isinstance(schema, Draft7Validator) else validator(schema)
    errors = sorted(checker.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])
