"""The chaos checker must be able to fail: each kind of damage it looks for is caught."""

from __future__ import annotations

from chaos_checker import COUNTERS, FinalState, History, check

CLEAN: frozenset[str] = frozenset()


def _clean_world() -> tuple[History, FinalState]:
    history = History(
        amazon_orders={"A1": CLEAN, "A2": CLEAN, "A3": frozenset({"sku_unknown"}), "A4": CLEAN},
        mcf_orders={"1000001": CLEAN, "1000002": frozenset({"mcf_unfulfillable"})},
        settlements={"S1": "120.50"},
    )
    final = FinalState(
        amazon_status={"A1": "SHIPPED", "A2": "UNSHIPPED", "A3": "UNSHIPPED", "A4": "CANCELLED"},
        m3_cuors=["A1", "A2"],
        mcf_request_ids=["M3-1000001", "M3-1000002"],
        mcf_m3_status={"1000001": "77", "1000002": "22"},
        gl_batches={"S1:202611": 1},
        vouchers={"V1": ("120.50", "120.50")},
        settlement_posted={"S1": "120.50"},
        inventory={"SKU-1": (5, 5)},
        incidents=[("sku_unknown", "A3"), ("mcf_unfulfillable", "1000002")],
    )
    return history, final


def test_a_clean_world_passes() -> None:
    verdict = check(*_clean_world())
    assert verdict.passed, verdict.as_json()
    assert verdict.as_json()["verdict"] == "pass"
    assert set(COUNTERS) <= set(verdict.as_json())


def test_every_kind_of_damage_is_counted() -> None:
    history, final = _clean_world()
    final.m3_cuors = ["A1", "A1"]  # A1 twice, A2 lost
    final.mcf_request_ids = ["M3-1000001", "M3-1000001", "M3-1000002"]
    final.gl_batches["S1:202612"] = 2
    final.vouchers["V2"] = ("10.00", "9.99")
    final.settlement_posted["S1"] = "120.49"
    final.inventory["SKU-2"] = (3, 0)
    final.incidents = [("mcf_unfulfillable", "1000002"), ("m3_unavailable", "A2")]  # A3's is missing
    verdict = check(history, final)
    assert not verdict.passed
    counters = verdict.counters
    assert counters["duplicate_m3_orders"] == 1
    assert counters["orders_lost"] == 1  # A2: an incident does not bring it to M3
    assert counters["duplicate_mcf_orders"] == 1
    assert counters["duplicate_gl_batches"] == 1
    assert counters["unbalanced_vouchers"] == 1
    assert counters["settlements_not_footing"] == 1
    assert counters["skus_out_of_sync"] == 1
    assert counters["bad_data_without_incident"] == 1
    assert counters["unexplained_incidents"] == 1
    assert verdict.as_json()["verdict"] == "fail"


def test_a_lost_order_and_a_lost_mcf_order_are_counted() -> None:
    history, final = _clean_world()
    final.m3_cuors = ["A1"]  # A2 never reached M3 and Amazon did not cancel it
    final.mcf_m3_status["1000001"] = "22"  # Amazon shipped nothing that M3 knows of
    verdict = check(history, final)
    assert verdict.counters["orders_lost"] == 1
    assert verdict.counters["mcf_orders_lost"] == 1
    assert "A2" in verdict.examples["orders_lost"][0]


def test_an_order_cancelled_before_m3_had_it_is_not_lost() -> None:
    history, final = _clean_world()
    assert "A4" not in final.m3_cuors and final.amazon_status["A4"] == "CANCELLED"
    assert check(history, final).counters["orders_lost"] == 0
