"""The MI field table: which fields each M3 transaction takes and returns, with types and lengths.

M3 refuses a record whose field is too long, missing or unknown, one transaction at a time, after
the HTTP call. Checking the same rules locally first turns that into one clear sentence before
anything is sent, and lets the mappings size their output (`length`). The table is derived from
the reference exports by `scripts/derive_reference.py` (committed as `data/mi_fields.json`); field
sets can differ on a given tenant (re-check with MRS001MI there), which is why the table is data and
not code.

CONO and DIVI travel as the control parameters `cono`/`divi` of every call, so a transaction that
lists them as required is satisfied without them in the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from m3amazon.m3.errors import MIValidationError

#: Fields carried by the control parameters of every call rather than by the record.
CONTROL_FIELDS = frozenset({"CONO", "DIVI"})

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class FieldSpec(NamedTuple):
    type: str
    length: int | None
    required: bool


@cache
def _load_default() -> dict[str, Any]:
    text = resources.files("m3amazon.m3").joinpath("data/mi_fields.json").read_text(encoding="utf-8")
    programs: dict[str, Any] = json.loads(text)["programs"]
    return programs


class FieldTable:
    """Lookup and validation over `{PROGRAM: {TRANSACTION: {"method", "in", "out"}}}`."""

    def __init__(self, programs: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
        self._programs = programs
        self._inputs: dict[tuple[str, str], dict[str, FieldSpec]] = {}

    @classmethod
    def default(cls) -> FieldTable:
        """The table shipped with the package (loaded once per process)."""
        return _default_table()

    # -- lookup ---------------------------------------------------------------------------------

    def programs(self) -> list[str]:
        return sorted(self._programs)

    def transactions(self, program: str) -> list[str]:
        return sorted(self._programs.get(program, {}))

    def has(self, program: str, transaction: str) -> bool:
        return transaction in self._programs.get(program, {})

    def _transaction(self, program: str, transaction: str) -> Mapping[str, Any]:
        try:
            return self._programs[program][transaction]
        except KeyError:
            raise MIValidationError(
                program,
                transaction,
                None,
                f"transaction {transaction} of program {program} is not in the MI field table",
            ) from None

    def method(self, program: str, transaction: str) -> str:
        return str(self._transaction(program, transaction).get("method", "GET"))

    def input_fields(self, program: str, transaction: str) -> dict[str, FieldSpec]:
        key = (program, transaction)
        if key not in self._inputs:
            raw = self._transaction(program, transaction)["in"]
            self._inputs[key] = {name: FieldSpec(*spec) for name, spec in raw.items()}
        return self._inputs[key]

    def output_fields(self, program: str, transaction: str) -> dict[str, int | None]:
        return dict(self._transaction(program, transaction)["out"])

    def length(self, program: str, transaction: str, field: str, *, direction: str = "in") -> int:
        """M3's length of an input (or output) field; what mappings must fit into."""
        if direction == "in":
            spec = self.input_fields(program, transaction).get(field)
            length = spec.length if spec else None
        else:
            length = self.output_fields(program, transaction).get(field)
        if length is None:
            raise KeyError(f"{program}/{transaction} has no {direction}put field {field} with a length")
        return length

    # -- validation -----------------------------------------------------------------------------

    def validate_input(self, program: str, transaction: str, record: Mapping[str, str]) -> None:
        """Raise MIValidationError for the first field M3 would refuse, in plain words."""
        fields = self.input_fields(program, transaction)
        for name, value in record.items():
            spec = fields.get(name)
            if spec is None:
                raise MIValidationError(
                    program,
                    transaction,
                    name,
                    f"field {name} is not an input field of {program}/{transaction}",
                )
            if spec.type == "number" and value != "":
                if not _NUMBER.match(value):
                    raise MIValidationError(
                        program, transaction, name, f"field {name} must be a number, got {value[:20]!r}"
                    )
                size = sum(ch.isdigit() for ch in value)
                unit = "digits"
            else:
                size = len(value)
                unit = "characters"
            if spec.length is not None and size > spec.length:
                raise MIValidationError(
                    program,
                    transaction,
                    name,
                    f"field {name} is {size} {unit}, M3 allows {spec.length}",
                )
        for name, spec in fields.items():
            if spec.required and name not in CONTROL_FIELDS and not record.get(name, "").strip():
                raise MIValidationError(program, transaction, name, f"field {name} is required and missing")


@cache
def _default_table() -> FieldTable:
    return FieldTable(_load_default())
