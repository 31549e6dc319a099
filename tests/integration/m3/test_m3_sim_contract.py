"""Contract: every transaction the simulator serves is in the MI field table, takes only the table's
input fields (our client sends nothing else) and answers with the table's output fields only, within
their lengths, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from m3a_contract_scenario import run_contract_scenario
from m3amazon.m3.fields import CONTROL_FIELDS, FieldTable
from m3amazon.sim.m3.programs import served_transactions

TABLE = FieldTable.default()


@pytest.mark.parametrize(("program", "transaction"), served_transactions())
def test_served_transaction_is_in_the_field_table(program: str, transaction: str) -> None:
    assert TABLE.has(program, transaction)


@pytest.fixture(scope="module")
def exchanges(tmp_path_factory: pytest.TempPathFactory) -> list:
    return run_contract_scenario(tmp_path_factory.mktemp("contract"))


def test_the_scenario_covers_every_served_transaction(exchanges: list) -> None:
    assert {(e.program, e.transaction) for e in exchanges} == set(served_transactions())
    failed = [(e.program, e.transaction, e.error) for e in exchanges if e.error]
    assert failed == [], "every call of the scenario is meant to succeed"


def test_every_request_carries_table_input_fields_only(exchanges: list) -> None:
    for e in exchanges:
        fields = TABLE.input_fields(e.program, e.transaction)
        where = f"{e.program}/{e.transaction}"
        assert set(e.record) <= set(fields), f"{where}: {set(e.record) - set(fields)}"
        for name, value in e.record.items():
            limit = fields[name].length
            size = sum(c.isdigit() for c in value) if fields[name].type == "number" else len(value)
            assert limit is None or size <= limit, f"{where} {name}={value!r}"
        missing = {n for n, spec in fields.items() if spec.required and n not in e.record} - CONTROL_FIELDS
        assert not missing, f"{where} lacks {missing}"
        assert e.control.get("cono") == "100", f"{where} without cono"


def test_every_answer_carries_table_output_fields_only(exchanges: list) -> None:
    answered = 0
    for e in exchanges:
        outputs = TABLE.output_fields(e.program, e.transaction)
        for row in e.rows:
            answered += 1
            assert set(row) <= set(outputs), f"{e.program}/{e.transaction}: {set(row) - set(outputs)}"
            for name, value in row.items():
                assert outputs[name] is None or len(value) <= outputs[name], (
                    f"{e.program}/{e.transaction} {name}"
                )
    assert answered > 50


def test_contract_scenario_is_repeatable(tmp_path: Path) -> None:
    """A second run on a fresh simulator gives the same sequence of transactions (no hidden state)."""
    first = [(e.program, e.transaction) for e in run_contract_scenario(tmp_path)]
    assert len(first) > 50
