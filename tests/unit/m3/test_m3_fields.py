"""FieldTable: local validation against the MI field table, worded for the person fixing the data."""

from __future__ import annotations

import pytest

from m3amazon.m3.errors import MIValidationError
from m3amazon.m3.fields import FieldTable

TABLE = FieldTable.default()


def _refusal(program: str, transaction: str, record: dict[str, str]) -> MIValidationError:
    with pytest.raises(MIValidationError) as caught:
        TABLE.validate_input(program, transaction, record)
    return caught.value


def test_the_default_table_is_loaded_once() -> None:
    assert FieldTable.default() is TABLE
    assert "OIS100MI" in TABLE.programs()


def test_a_good_record_passes() -> None:
    TABLE.validate_input(
        "OIS100MI",
        "AddBatchLine",
        {"ORNO": "5000000001", "ITNO": "IT000001", "ORQT": "2", "SAPR": "12.50", "ALWT": "03"},
    )


def test_too_long_names_field_and_lengths() -> None:
    error = _refusal("OIS100MI", "AddBatchAddress", {"ORNO": "1", "ADRT": "1", "CUA1": "x" * 41})
    assert str(error) == "OIS100MI/AddBatchAddress: field CUA1 is 41 characters, M3 allows 36"
    assert error.field == "CUA1" and not error.transient
    assert "xxxx" not in str(error)  # the value itself (possibly personal data) is not repeated


def test_required_missing() -> None:
    error = _refusal("OIS100MI", "AddBatchLine", {"ORNO": "1"})
    assert error.field == "ITNO" and "required" in error.message


def test_blank_required_counts_as_missing() -> None:
    assert _refusal("CRS610MI", "GetBasicData", {"CUNO": "  "}).field == "CUNO"


def test_unknown_field() -> None:
    error = _refusal("MMS200MI", "Get", {"ITNO": "A", "NOPE": "1"})
    assert error.field == "NOPE" and "not an input field" in error.message


def test_unknown_transaction_and_program() -> None:
    assert "not in the MI field table" in _refusal("OIS100MI", "DoMagic", {}).message
    assert "not in the MI field table" in _refusal("XYZ999MI", "Get", {}).message


@pytest.mark.parametrize("value", ["abc", "1,5", "1.2.3", "--1"])
def test_numbers_must_be_numeric(value: str) -> None:
    error = _refusal("OIS100MI", "AddBatchAddress", {"ORNO": "1", "ADRT": value})
    assert error.field == "ADRT" and "must be a number" in error.message


def test_number_length_counts_digits() -> None:
    # DIP1 is a number of 5 digits: a percentage with decimals fits, six digits do not
    TABLE.validate_input("OIS100MI", "AddBatchLine", {"ORNO": "1", "ITNO": "A", "DIP1": "-12.500"})
    assert (
        "6 digits"
        in _refusal("OIS100MI", "AddBatchLine", {"ORNO": "1", "ITNO": "A", "DIP1": "123.456"}).message
    )


def test_control_fields_do_not_need_to_be_in_the_record() -> None:
    # GLS840MI/AddBatchHead lists CONO as required; the client passes it as the cono parameter
    specs = TABLE.input_fields("GLS840MI", "AddBatchHead")
    assert specs["CONO"].required
    record = {name: "1" for name, spec in specs.items() if spec.required and name != "CONO"}
    TABLE.validate_input("GLS840MI", "AddBatchHead", record)


def test_lengths_and_outputs() -> None:
    assert TABLE.length("OIS100MI", "AddBatchHead", "CUOR") == 20
    assert TABLE.length("OIS100MI", "Confirm", "ORNO", direction="out") == 10
    assert TABLE.output_fields("OIS100MI", "LstBatchHead")["ORNR"] == 10
    with pytest.raises(KeyError):
        TABLE.length("OIS100MI", "AddBatchHead", "NOPE")
