"""Parties and postal addresses. Personal fields are marked PII (see `pii.py`)."""

from __future__ import annotations

from enum import StrEnum

import pycountry
from pydantic import field_validator

from m3amazon.canonical.pii import PIIModel, pii_field


class AddressType(StrEnum):
    RESIDENTIAL = "RESIDENTIAL"
    COMMERCIAL = "COMMERCIAL"
    PICKUP_POINT = "PICKUP_POINT"


class Address(PIIModel):
    """A delivery or invoice address, as the buyer gave it (no truncation: that is M3's problem)."""

    name: str | None = pii_field()
    company: str | None = None
    line1: str | None = pii_field()
    line2: str | None = pii_field()
    line3: str | None = pii_field()
    city: str | None = None
    district: str | None = None
    state: str | None = None
    postal_code: str | None = pii_field()
    country_code: str
    phone: str | None = pii_field()
    address_type: AddressType | None = None

    @field_validator("country_code", mode="before")
    @classmethod
    def _iso_country(cls, value: object) -> str:
        if not isinstance(value, str) or pycountry.countries.get(alpha_2=value.strip().upper()) is None:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {value!r}")
        return value.strip().upper()

    @property
    def lines(self) -> list[str]:
        return [x for x in (self.line1, self.line2, self.line3) if x]


class Party(PIIModel):
    """A buyer or customer. `email` and `name` are personal data."""

    name: str | None = pii_field()
    email: str | None = pii_field()
    company: str | None = None
    purchase_order_number: str | None = None
