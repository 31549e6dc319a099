"""Error classification: what a caller may retry and what needs a person."""

from __future__ import annotations

from m3amazon.m3.errors import MIError, MITransportError, MIValidationError


def test_business_errors_are_not_transient() -> None:
    error = MIError(
        "Customer number X does not exist",
        program="CRS610MI",
        transaction="GetBasicData",
        code="WCU0203",
        field="CUNO",
        error_type="ServerReturnedNOK",
    )
    assert not error.transient and error.is_not_found
    assert str(error) == (
        "CRS610MI/GetBasicData: Customer number X does not exist "
        "(code WCU0203, field CUNO, type ServerReturnedNOK)"
    )
    assert error.to_dict()["field"] == "CUNO"


def test_padded_m3_messages_are_normalised() -> None:
    assert MIError("Record   does not exist      ").message == "Record does not exist"


def test_other_business_errors_are_not_not_found() -> None:
    assert not MIError("Item IT1 has status 90, must be 20", code="WIT0124").is_not_found


def test_transport_errors_are_transient_and_never_not_found() -> None:
    error = MITransportError("M3 answered HTTP 503", program="OIS100MI", transaction="GetHead", status=503)
    assert error.transient and error.maybe_processed and not error.is_not_found
    assert error.code == "503"
    assert MITransportError("could not reach M3", maybe_processed=False).maybe_processed is False


def test_validation_errors_are_permanent_and_plain() -> None:
    error = MIValidationError("OIS100MI", "AddBatchHead", "CUOR", "field CUOR is 21 characters, M3 allows 20")
    assert isinstance(error, MIError) and not error.transient
    assert str(error) == "OIS100MI/AddBatchHead: field CUOR is 21 characters, M3 allows 20"
