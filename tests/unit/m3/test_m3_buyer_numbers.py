"""Customer per buyer, the pure part: stable keys and numbers, records that fit CRS610MI."""

from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from m3amazon.canonical import Address, Party
from m3amazon.m3.customers import buyer_customer_number, buyer_key, customer_record
from m3amazon.m3.errors import (
    AliasConflict,
    BatchOrderRejected,
    CustomerNumberTaken,
    DeliveryShortfall,
    MIError,
    MITransportError,
)
from m3amazon.m3.fields import FieldTable

FIELDS = FieldTable.default()
ADDRESS = Address(
    name="Jane  Roe", line1="1 Main Street", city="Seattle", postal_code="98101", country_code="US"
)


def test_the_email_identifies_a_buyer_whatever_its_case():
    one = Party(name="Jane Roe", email="Abc123@Marketplace.Amazon.com")
    other = Party(name="J. Roe", email=" abc123@marketplace.amazon.com ")
    assert buyer_key(one, ADDRESS) == buyer_key(other, ADDRESS) == "email:abc123@marketplace.amazon.com"
    assert buyer_customer_number(one, ADDRESS, "AZ") == buyer_customer_number(other, None, "AZ")


def test_without_email_name_postal_code_and_country_identify_a_buyer():
    buyer = Party(name="JANE ROE")
    moved = ADDRESS.model_copy(update={"postal_code": "10001"})
    assert buyer_key(buyer, ADDRESS) == "name:jane roe|98101|US"
    assert buyer_customer_number(buyer, ADDRESS, "AZ") != buyer_customer_number(buyer, moved, "AZ")
    assert buyer_key(None, ADDRESS) == "name:jane roe|98101|US"  # the recipient's name
    assert buyer_key(Party(), Address(country_code="US")) is None
    assert buyer_customer_number(Party(), Address(country_code="US"), "AZ") is None


@given(email=st.emails(), prefix=st.sampled_from(["AZ", "B", "AMZ1", "x9"]))
def test_numbers_have_the_prefix_and_fit_cuno(email, prefix):
    number = buyer_customer_number(Party(email=email), None, prefix)
    assert number is not None and number.startswith(prefix.upper()) and len(number) == 10
    assert number.isalnum() and number == number.upper()
    assert number == buyer_customer_number(Party(email=email.upper()), None, prefix)


def test_the_customer_record_fits_crs610mi_and_carries_the_email():
    buyer = Party(name="Maximilian Alexander von Hohenzollern-Sigmaringen", email="x@marketplace.amazon.com")
    address = Address(
        name="Someone Else",
        line1="Maximilianstraße 12, c/o Hinterhaus, 3. Obergeschoss links, Tür 12, Seitenflügel B",
        line2="Gewerbegebiet Nord, Halle 7, Rampe 3, bitte beim Pförtner melden",
        city="Garmisch-Partenkirchen Ortsteil Burgrain",
        postal_code="82467",
        country_code="DE",
        phone="+49 8821 123 456 789 000",
    )
    record = customer_record(buyer, address, template="AMZBUYER", number="AZ12345678")
    FIELDS.validate_input("CRS610MI", "Add", record)
    assert record["CUTM"] == "AMZBUYER" and record["CUNO"] == "AZ12345678"
    assert record["CUNM"].startswith("Maximilian") and record["MAIL"] == "x@marketplace.amazon.com"
    assert "ADRT" not in record and record["CSCD"] == "DE"
    bare = customer_record(None, Address(name="A", country_code="FR"), template="T", number="AZ1")
    assert bare["CUA1"] == "FR"  # CRS610MI requires a first address line
    FIELDS.validate_input("CRS610MI", "Add", bare)


def test_mi_errors_survive_pickling_as_durable_checkpoints_need():
    errors: list[MIError] = [
        MIError("plain", program="P", transaction="T", code="C", field="F"),
        MITransportError("lost", status=503),
        BatchOrderRejected("5000000001", "15", ["Customer stopped (WCU0130)"]),
        DeliveryShortfall("1000000001", ["line 1: short"]),
        CustomerNumberTaken("AZ00000001"),
        AliasConflict("SKU", "A", "B"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error) and copy.__dict__ == error.__dict__
