"""Available-to-sell rules: formula, warehouse combination, buffers, floors; and their validation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from m3amazon.mapping import MappingError, load_mappings
from m3amazon.mapping.inventory import Buffer, InventoryRules
from m3amazon.sim.inventory_check import Balance


def bal(on_hand: int | str, allocated: int | str = 0, reserved: int | str = 0) -> Balance:
    return Balance(Decimal(on_hand), Decimal(allocated), Decimal(reserved))


def test_default_is_on_hand_minus_allocated_minus_reserved_in_warehouse_100() -> None:
    rules = load_mappings().inventory
    assert rules.warehouses == ["100"] and rules.fba_warehouse == "FBA"
    assert rules.quantity("SKU", "IT1", {"100": bal(50, 12, 3), "FBA": bal(900)}) == 35


def test_a_warehouse_below_zero_does_not_eat_another_warehouses_stock() -> None:
    rules = InventoryRules(warehouses=["100", "200"])
    assert rules.quantity("SKU", "IT1", {"100": bal(5, 9), "200": bal(10)}) == 10


@pytest.mark.parametrize(("combine", "expected"), [("sum", 17), ("max", 10), ("first", 7)])
def test_warehouses_combine_by_rule(combine: str, expected: int) -> None:
    rules = InventoryRules(warehouses=["100", "200", "300"], combine=combine)  # type: ignore[arg-type]
    assert rules.quantity("SKU", "IT1", {"100": bal(7), "200": bal(10)}) == expected


def test_first_skips_a_warehouse_that_has_no_balance_of_the_item() -> None:
    rules = InventoryRules(warehouses=["100", "200"], combine="first")  # type: ignore[arg-type]
    assert rules.quantity("SKU", "IT1", {"200": bal(4)}) == 4


def test_subtract_can_leave_out_reserved() -> None:
    rules = InventoryRules(subtract=["allocated"])
    assert rules.quantity("SKU", "IT1", {"100": bal(20, 5, 6)}) == 15


def test_buffer_of_the_sku_wins_over_the_item_group_and_the_default() -> None:
    rules = InventoryRules(
        buffer=Buffer(absolute=1),
        item_groups={"IT1": "FRAGILE", "IT2": "FRAGILE"},
        item_group_buffers={"FRAGILE": Buffer(percent=Decimal(10))},
        sku_buffers={"SKU-A": Buffer(absolute=5)},
    )
    stock = {"100": bal(100)}
    assert rules.quantity("SKU-A", "IT1", stock) == 95  # the SKU's own
    assert rules.quantity("SKU-B", "IT2", stock) == 90  # the item group's 10 %
    assert rules.quantity("SKU-C", "IT3", stock) == 99  # the default


def test_percentage_is_rounded_up_then_units_taken_and_never_below_zero() -> None:
    buffer = Buffer(absolute=2, percent=Decimal("12.5"))
    assert buffer.apply(Decimal(9)) == 5  # 12.5 % of 9 = 1.125 -> 2 kept back, then 2 more
    assert buffer.apply(Decimal(3)) == 0
    assert Buffer().apply(Decimal("4.9")) == 4  # fractions of a unit are not sold


@given(
    on_hand=st.integers(-50, 10_000),
    allocated=st.integers(0, 5_000),
    absolute=st.integers(0, 100),
    percent=st.integers(0, 100),
)
def test_quantity_is_a_whole_number_between_zero_and_what_is_available(
    on_hand: int, allocated: int, absolute: int, percent: int
) -> None:
    rules = InventoryRules(buffer=Buffer(absolute=absolute, percent=Decimal(percent)))
    quantity = rules.quantity("SKU", "IT1", {"100": bal(on_hand, allocated)})
    assert isinstance(quantity, int)
    assert 0 <= quantity <= max(0, on_hand - allocated)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"warehouses": []}, "warehouses"),
        ({"warehouses": ["1000"]}, "1-3 characters"),
        ({"warehouses": ["100", "100"]}, "listed twice"),
        ({"warehouses": ["100", "FBA"]}, "FBA warehouse"),
        ({"combine": "avg"}, "combine"),
        ({"buffer": {"percent": 120}}, "percent"),
        ({"buffer": {"absolute": -1}}, "absolute"),
        ({"item_groups": {"IT1": "BULKY"}}, "BULKY"),
    ],
)
def test_a_wrong_inventory_table_stops_the_start_with_a_message(
    table: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        InventoryRules.model_validate(table)


def test_the_mapping_file_loader_names_the_inventory_table(tmp_path: Path) -> None:
    path = tmp_path / "mappings.yaml"
    path.write_text(yaml.safe_dump({"inventory": {"combine": "avg"}}))
    with pytest.raises(MappingError, match=r"inventory\.combine"):
        load_mappings(path)
