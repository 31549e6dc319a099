"""Mapping tables: the configurable translations between Amazon's and M3's vocabularies.

Loaded from YAML (the shipped `defaults.yaml` unless `mapping_file` names another) and validated
when a worker starts, so a typo stops the start with a message instead of failing order by order.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class CustomerPolicy(StrEnum):
    """Which M3 customer an Amazon order belongs to. (One customer per buyer is planned.)"""

    PER_MARKETPLACE = "per_marketplace"


class CustomerMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: CustomerPolicy = CustomerPolicy.PER_MARKETPLACE
    #: Amazon marketplace id -> M3 customer number (CUNO, at most 10 characters)
    per_marketplace: dict[str, str] = Field(default_factory=dict)

    @field_validator("per_marketplace")
    @classmethod
    def _cuno_length(cls, value: dict[str, str]) -> dict[str, str]:
        for marketplace, cuno in value.items():
            if not cuno or len(cuno) > 10:
                raise ValueError(
                    f"customer number {cuno!r} for marketplace {marketplace} must be 1-10 characters"
                )
        return value


class ItemMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: MMS025MI alias category (ALWT) under which Amazon SKUs are stored
    alias_category: str = Field(default="03", pattern=r"^\d{2}$")
    #: MMS025MI alias qualifier (ALWQ), used with categories 02 and 03
    alias_qualifier: str | None = Field(default="AMZN", max_length=4)
    #: Amazon SellerSKU -> M3 item number (ITNO, at most 15 characters), after the aliases
    sku_to_item: dict[str, str] = Field(default_factory=dict)

    @field_validator("sku_to_item")
    @classmethod
    def _itno_length(cls, value: dict[str, str]) -> dict[str, str]:
        for sku, itno in value.items():
            if not itno or len(itno) > 15:
                raise ValueError(f"item number {itno!r} for SKU {sku} must be 1-15 characters")
        return value


class AddressRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_truncation: bool = False


class Mappings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    customers: CustomerMapping = Field(default_factory=CustomerMapping)
    items: ItemMapping = Field(default_factory=ItemMapping)
    addresses: AddressRules = Field(default_factory=AddressRules)
    #: Short hash of the source text, shown in the console and recorded with outcomes
    version: str = ""


class MappingError(ValueError):
    """The mapping file cannot be used; the message says where and why."""


def _source(path: Path | None) -> tuple[str, str]:
    if path is None:
        text = resources.files("m3amazon.mapping").joinpath("defaults.yaml").read_text(encoding="utf-8")
        return text, "the shipped defaults"
    try:
        return Path(path).read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise MappingError(f"cannot read mapping file {path}: {exc.strerror}") from exc


def load_mappings(path: Path | None = None) -> Mappings:
    text, origin = _source(path)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping file {origin} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise MappingError(f"mapping file {origin} must hold a mapping of tables at the top level")
    data["version"] = hashlib.sha256(text.encode()).hexdigest()[:12]
    try:
        return Mappings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise MappingError(f"mapping file {origin} is invalid: {problems}") from exc
