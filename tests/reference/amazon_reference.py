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
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

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


def strict(node: Any, *, close: bool = True) -> Any:
    """The schema with undeclared properties refused (the simulator must not invent fields), and
    vendor extensions (`x-*`) and examples dropped. The members of an `allOf` stay open: each
    declares only part of the object's properties."""
    if isinstance(node, dict):
        out = {
            k: [strict(m, close=False) for m in v] if k == "allOf" else strict(v)
            for k, v in node.items()
            if not k.startswith("x-") and k not in ("example", "examples")
        }
        if close and "properties" in out and "additionalProperties" not in out:
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


# -- every model: operations, responses, requests ----------------------------------------------
#: The model file of each SP-API version the product uses.
MODEL_FILES = {
    ("orders", "2026-01-01"): "orders_2026-01-01.json",
    ("orders", "v0"): "ordersV0.json",
    ("fba", "outbound"): "fulfillmentOutbound_2020-07-01.json",
    ("fba", "inventory"): "fbaInventory.json",
    ("listings", "2021-08-01"): "listingsItems_2021-08-01.json",
    ("feeds", "2021-06-30"): "feeds_2021-06-30.json",
    ("reports", "2021-06-30"): "reports_2021-06-30.json",
    ("finances", "v0"): "financesV0.json",
    ("finances", "2024-06-19"): "finances_2024-06-19.json",
    ("notifications", "v1"): "notifications.json",
}


@dataclass(frozen=True)
class ModelOperation:
    model_file: str
    operation_id: str
    method: str
    template: str
    spec: dict[str, Any]

    def parameters(self) -> dict[str, dict[str, Any]]:
        """The operation's parameters by name (path-level ones included, $refs resolved)."""
        model = load(f"models/{self.model_file}")
        found = {}
        for param in [*model["paths"][self.template].get("parameters", []), *self.spec.get("parameters", [])]:
            if "$ref" in param:
                param = model["parameters"][param["$ref"].rsplit("/", 1)[-1]]
            found[param["name"]] = param
        return found


@cache
def operations() -> tuple[ModelOperation, ...]:
    found = []
    for model_file in MODEL_FILES.values():
        model = load(f"models/{model_file}")
        for template, methods in model["paths"].items():
            for method, op in methods.items():
                if isinstance(op, dict) and "operationId" in op:
                    found.append(ModelOperation(model_file, op["operationId"], method.upper(), template, op))
    return tuple(found)


def operation_for(method: str, path: str) -> ModelOperation:
    """The model operation a request (method, concrete path) is for."""
    matches = [
        op
        for op in operations()
        if op.method == method.upper() and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", op.template), path)
    ]
    # A literal segment beats a template parameter (".../fulfillmentOrders/preview" is not an id).
    matches.sort(key=lambda op: op.template.count("{"))
    assert matches, f"no model operation for {method} {path}"
    return matches[0]


def by_operation_id(operation_id: str, model_file: str | None = None) -> ModelOperation:
    found = [o for o in operations() if o.operation_id == operation_id and model_file in (None, o.model_file)]
    assert len(found) == 1, f"{operation_id}: {len(found)} operations"
    return found[0]


@cache
def response_validator(model_file: str, operation_id: str, status: int) -> Draft7Validator | None:
    """A strict validator for the operation's response schema at `status` (None: no body declared)."""
    op = by_operation_id(operation_id, model_file)
    response = op.spec["responses"][str(status)]
    schema = response.get("schema")
    if schema is None:
        return None
    return validator(model_schema(load(f"models/{model_file}"), schema))


def model_schema(model: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (which refers to `#/definitions/...`) made strict, with the model's definitions.

    Definitions that are members of an `allOf` stay open: each declares only part of an object.
    """
    open_names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for member in node.get("allOf", []):
                if "$ref" in member:
                    open_names.add(member["$ref"].rsplit("/", 1)[-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(model["definitions"])
    definitions = {name: strict(d, close=name not in open_names) for name, d in model["definitions"].items()}
    return {**strict(schema), "definitions": definitions}


def check_parameter(spec: dict[str, Any], value: str) -> None:
    """One query or path value against its Swagger 2.0 parameter spec (csv arrays, enums, ranges)."""
    assert spec.get("collectionFormat", "csv") == "csv", spec
    kind = spec.get("type", "string")
    if kind == "array":
        items = value.split(",")
        assert "maxItems" not in spec or len(items) <= spec["maxItems"], f"{spec['name']}: too many values"
        assert "minItems" not in spec or len(items) >= spec["minItems"], f"{spec['name']}: too few values"
        for item in items:
            check_parameter({"name": spec["name"], **spec["items"]}, item)
    elif kind == "integer":
        number = int(value)
        assert spec.get("minimum", number) <= number <= spec.get("maximum", number), spec["name"]
    elif kind == "boolean":
        assert value in ("true", "false"), f"{spec['name']}={value}"
    elif kind == "string":
        if "enum" in spec:
            assert value in spec["enum"], f"{spec.get('name')}={value} not in {spec['enum']}"
        if "maxLength" in spec:
            assert len(value) <= spec["maxLength"], f"{spec['name']} longer than {spec['maxLength']}"
        if spec.get("format") == "date-time":
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            assert moment.tzinfo is not None, f"{value} has no UTC offset"
    else:
        raise AssertionError(f"unexpected parameter type {kind}")


def check_request(op: ModelOperation, path: str, query: list[tuple[str, str]], body: Any | None) -> None:
    """A request against its operation: only declared parameters, each valid; required ones present;
    the body valid against the body parameter's schema (strict), or absent when none is declared."""
    params = op.parameters()
    names = [name for name, _ in query]
    assert len(names) == len(set(names)), f"repeated parameter in {query}"
    for name, value in query:
        assert name in params and params[name]["in"] == "query", (
            f"{op.operation_id}: undeclared parameter {name}"
        )
        check_parameter(params[name], value)
    required = {n for n, p in params.items() if p.get("required") and p["in"] == "query"}
    assert required <= set(names), f"{op.operation_id}: missing {required - set(names)}"
    values = re.fullmatch(re.sub(r"\{([^}]+)\}", r"(?P<\1>[^/]+)", op.template), path)
    assert values is not None
    for name, value in values.groupdict().items():
        check_parameter(params[name], unquote(value))
    body_specs = [p for p in params.values() if p["in"] == "body"]
    if not body_specs:
        assert body in (None, b"", {}), f"{op.operation_id} declares no body"
        return
    assert_valid(model_schema(load(f"models/{op.model_file}"), body_specs[0]["schema"]), body)


@cache
def notification_schema(file_name: str) -> dict[str, Any]:
    return json.loads(
        (reference_dir() / "amazon-sp-api/schemas/notifications" / file_name).read_text(encoding="utf-8")
    )


@cache
def feed_schema(file_name: str) -> dict[str, Any]:
    return json.loads(
        (reference_dir() / "amazon-sp-api/schemas/feeds" / file_name).read_text(encoding="utf-8")
    )


def sandbox_cases(op: ModelOperation) -> list[tuple[int, dict[str, Any], Any]]:
    """The model's static sandbox cases of `op`: (status, request parameters, response body)."""
    cases = []
    for status, response in op.spec["responses"].items():
        for case in response.get("x-amzn-api-sandbox", {}).get("static", []):
            cases.append((int(status), case.get("request", {}).get("parameters", {}), case.get("response")))
    return cases
