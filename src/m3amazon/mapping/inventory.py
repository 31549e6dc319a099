"""Available-to-sell rules: how M3 balances become the seller-fulfilled quantity Amazon shows. Pure.

Per SKU, from the balances of its M3 item in the warehouses the rules name:

1. per warehouse: on hand minus the `subtract` terms (allocated and reserved by default), floored
   at zero (a negative warehouse never eats another warehouse's stock);
2. the warehouses combined into one marketplace quantity by `combine`: `sum` (default), `max`
   (the best-stocked warehouse ships everything), or `first` (the first warehouse in the list that
   holds a balance of the item, e.g. a main warehouse with a fall-back);
3. the safety buffer of the SKU (`sku_buffers`), else of its item group (`item_groups` names the
   group of an item, `item_group_buffers` the buffer of a group), else the default `buffer`:
   first the percentage is kept back (rounded up), then the absolute units;
4. whole units (fractions of a unit are not sold), floor zero.

The FBA warehouse (`fba_warehouse`) is where M3 keeps what Amazon holds; it is never part of the
seller-fulfilled quantity and is compared with Amazon's FBA stock by the FBA reconciliation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Combine(StrEnum):
    SUM = "sum"
    MAX = "max"
    FIRST = "first"


class Balance(Protocol):
    """What the rules read of an M3 balance (canonical InventoryPosition has these)."""

    @property
    def on_hand(self) -> Decimal: ...
    @property
    def allocated(self) -> Decimal: ...
    @property
    def reserved(self) -> Decimal: ...


class Buffer(BaseModel):
    """Stock kept back from Amazon: a percentage of what is available, then a number of units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    absolute: int = Field(default=0, ge=0)
    percent: Decimal = Field(default=Decimal(0), ge=0, le=100)

    def apply(self, available: Decimal) -> int:
        kept_back = math.ceil(available * self.percent / 100)
        return max(0, math.floor(available) - kept_back - self.absolute)


def _warehouse(value: str) -> str:
    if not value or len(value) > 3:
        raise ValueError(f"warehouse {value!r} must be 1-3 characters (M3 WHLO)")
    return value


class InventoryRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: M3 warehouses (WHLO) whose stock the seller ships itself, in priority order
    warehouses: list[str] = Field(default_factory=lambda: ["100"], min_length=1)
    combine: Combine = Combine.SUM
    #: What is taken from on hand: allocated (ALQT), reserved (REQT), both or neither
    subtract: list[Literal["allocated", "reserved"]] = Field(
        default_factory=lambda: ["allocated", "reserved"]  # type: ignore[arg-type]
    )
    buffer: Buffer = Field(default_factory=Buffer)
    #: M3 item number -> item group (ITGR), for the group buffers
    item_groups: dict[str, str] = Field(default_factory=dict)
    item_group_buffers: dict[str, Buffer] = Field(default_factory=dict)
    #: Amazon SKU -> buffer (wins over the item group's and the default)
    sku_buffers: dict[str, Buffer] = Field(default_factory=dict)
    #: The M3 warehouse that stands for Amazon's fulfillment centres (FBA)
    fba_warehouse: str = "FBA"

    @field_validator("warehouses")
    @classmethod
    def _warehouses(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a warehouse is listed twice")
        return [_warehouse(v) for v in value]

    @field_validator("fba_warehouse")
    @classmethod
    def _fba(cls, value: str) -> str:
        return _warehouse(value)

    @model_validator(mode="after")
    def _consistent(self) -> InventoryRules:
        if self.fba_warehouse in self.warehouses:
            raise ValueError(
                f"the FBA warehouse {self.fba_warehouse} cannot also feed the seller-fulfilled quantity"
            )
        unknown = sorted(set(self.item_groups.values()) - set(self.item_group_buffers))
        if unknown:
            raise ValueError(f"item group(s) without a buffer in item_group_buffers: {', '.join(unknown)}")
        return self

    def buffer_for(self, sku: str, item_number: str | None) -> Buffer:
        if sku in self.sku_buffers:
            return self.sku_buffers[sku]
        group = self.item_groups.get(item_number or "")
        if group is not None:
            return self.item_group_buffers[group]
        return self.buffer

    def warehouse_available(self, balance: Balance) -> Decimal:
        available = balance.on_hand
        if "allocated" in self.subtract:
            available -= balance.allocated
        if "reserved" in self.subtract:
            available -= balance.reserved
        return max(Decimal(0), available)

    def combined(self, balances: Mapping[str, Balance]) -> Decimal:
        """The warehouses' available stock as one quantity (before the buffer)."""
        present = [self.warehouse_available(balances[w]) for w in self.warehouses if w in balances]
        if not present:
            return Decimal(0)
        if self.combine is Combine.SUM:
            return sum(present, Decimal(0))
        if self.combine is Combine.MAX:
            return max(present)
        return present[0]

    def quantity(self, sku: str, item_number: str | None, balances: Mapping[str, Balance]) -> int:
        """The seller-fulfilled quantity Amazon should show for `sku` (balances by warehouse)."""
        return self.buffer_for(sku, item_number).apply(self.combined(balances))
