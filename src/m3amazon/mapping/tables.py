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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from m3amazon.mapping.gl import GLMapping
from m3amazon.mapping.inventory import InventoryRules
from m3amazon.mapping.status import StatusMapping


class CustomerPolicy(StrEnum):
    """Which M3 customer an Amazon order belongs to."""

    #: One customer per marketplace; each order's delivery address is an order address.
    PER_MARKETPLACE = "per_marketplace"
    #: One customer per buyer, looked up or created through CRS610MI.
    PER_BUYER = "per_buyer"


class CustomerMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: CustomerPolicy = CustomerPolicy.PER_MARKETPLACE
    #: Amazon marketplace id -> M3 customer number (CUNO, at most 10 characters)
    per_marketplace: dict[str, str] = Field(default_factory=dict)
    #: per_buyer: the customer template (CRS610MI Add CUTM) new buyers are created from
    buyer_template: str = Field(default="AMZBUYER", min_length=1, max_length=10)
    #: per_buyer: prefix of the customer numbers made for buyers (the rest is a hash of the buyer)
    buyer_prefix: str = Field(default="AZ", min_length=1, max_length=4)

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


class ChargeMode(StrEnum):
    """How an Amazon charge reaches M3 (see docs/mappings.md, "Charges")."""

    #: Not sent (tax by default: M3 computes VAT from its own tables).
    IGNORE = "ignore"
    #: Summed per order into one OIS100MI AddBatchHeadChg with `charge_id` (CRID) in the order currency.
    HEAD_CHARGE = "head_charge"
    #: Summed per order into one order line of the non-stocked item `item_number`, priced at the sum.
    ORDER_LINE = "order_line"
    #: Promotions only: each line's promotion as a discount amount of that line (AddBatchLine DIA1..6).
    LINE_DISCOUNT = "line_discount"


class ChargeRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: ChargeMode = ChargeMode.IGNORE
    #: head_charge: the M3 charge (OIS030 CRID, at most 6 characters)
    charge_id: str | None = Field(default=None, min_length=1, max_length=6)
    #: head_charge: the charge's text on the order (CRD0, at most 30 characters; M3's own if left out)
    description: str | None = Field(default=None, min_length=1, max_length=30)
    #: order_line: the M3 item of the charge line (ITNO, at most 15 characters; not stocked)
    item_number: str | None = Field(default=None, min_length=1, max_length=15)
    #: line_discount: which discount amount field of the line carries the promotion
    discount_field: str = Field(default="DIA1", pattern=r"^DIA[1-6]$")

    @model_validator(mode="after")
    def _complete(self) -> ChargeRule:
        if self.mode is ChargeMode.HEAD_CHARGE and not self.charge_id:
            raise ValueError("mode head_charge needs a charge_id (the M3 charge, CRID)")
        if self.mode is ChargeMode.ORDER_LINE and not self.item_number:
            raise ValueError("mode order_line needs an item_number (a non-stocked M3 item)")
        return self


class ChargeMapping(BaseModel):
    """Per kind of Amazon charge, how it goes to M3. The defaults work against the simulator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shipping: ChargeRule = ChargeRule(mode=ChargeMode.HEAD_CHARGE, charge_id="SHIP")
    gift_wrap: ChargeRule = ChargeRule(mode=ChargeMode.HEAD_CHARGE, charge_id="GIFT")
    #: Amazon's promotion discounts (a positive amount that lowers the price)
    promotion: ChargeRule = ChargeRule(mode=ChargeMode.LINE_DISCOUNT)
    #: Amazon's tax on items, shipping and gift wrap
    tax: ChargeRule = ChargeRule(mode=ChargeMode.IGNORE)

    @model_validator(mode="after")
    def _modes_fit_their_kind(self) -> ChargeMapping:
        for kind in ("shipping", "gift_wrap", "tax"):
            if getattr(self, kind).mode is ChargeMode.LINE_DISCOUNT:
                raise ValueError(f"{kind}: line_discount is for promotions only")
        if self.promotion.mode is ChargeMode.ORDER_LINE:
            raise ValueError(
                "promotion: order_line would need a negative price, which M3 refuses;"
                " use line_discount or head_charge"
            )
        return self


class Mappings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    customers: CustomerMapping = Field(default_factory=CustomerMapping)
    items: ItemMapping = Field(default_factory=ItemMapping)
    addresses: AddressRules = Field(default_factory=AddressRules)
    charges: ChargeMapping = Field(default_factory=ChargeMapping)
    status: StatusMapping = Field(default_factory=StatusMapping)
    #: Available-to-sell rules for the seller-fulfilled quantity (mapping/inventory.py)
    inventory: InventoryRules = Field(default_factory=InventoryRules)
    #: Settlement money -> M3 GL accounts and dimensions (mapping/gl.py)
    gl: GLMapping = Field(default_factory=GLMapping)
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
