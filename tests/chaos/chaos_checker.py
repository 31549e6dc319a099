"""The chaos checker: the simulators' final state against the history of what was sent.

In the manner of Jepsen's history checking: the driver records what it asked the outside world to
do (orders Amazon took, which of them carried bad data on purpose, cancellations, M3 orders for
Multi-Channel Fulfillment, settlements Amazon closed); at the end it reads what the simulators
hold and what incidents the product raised, and this module decides — without trusting the
product's own bookkeeping — whether anything was lost, duplicated, unbalanced or left out of sync.

Every counter must be zero for the verdict "pass".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class History:
    """What the driver sent into the world."""

    #: Amazon order id -> the incident categories its injected bad data must produce (empty: clean).
    amazon_orders: dict[str, frozenset[str]] = field(default_factory=dict)
    #: M3 order numbers entered for Multi-Channel Fulfillment -> the categories their injected
    #: trouble must produce (empty: clean; such an order must get exactly one fulfillment order).
    mcf_orders: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Settlement ids Amazon closed -> their deposit (total-amount) as text ("" when only the
    #: posting itself is checked, not its footing).
    settlements: dict[str, str] = field(default_factory=dict)


@dataclass
class FinalState:
    """What the simulators and the product's incident store hold at the end."""

    #: Amazon order id -> Amazon's status now (spelling of canonical OrderStatus values).
    amazon_status: dict[str, str] = field(default_factory=dict)
    #: Customer order numbers (CUOR) of every M3 customer order, one entry per order (repeats = duplicates).
    m3_cuors: list[str] = field(default_factory=list)
    #: sellerFulfillmentOrderId of every fulfillment order Amazon holds, one per order.
    mcf_request_ids: list[str] = field(default_factory=list)
    #: M3 order number -> its lowest line status (ORSL), for the MCF orders.
    mcf_m3_status: dict[str, str] = field(default_factory=dict)
    #: GL batch key (settlement id and period) -> how many batches M3 posted under it.
    gl_batches: dict[str, int] = field(default_factory=dict)
    #: Voucher id -> (debits, credits) as Decimal text.
    vouchers: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Settlement id -> the sum posted to the clearing account (the deposit side).
    settlement_posted: dict[str, str] = field(default_factory=dict)
    #: SKU -> (Amazon quantity, quantity M3's stock and the rules say) for seller-fulfilled listings.
    inventory: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Unresolved incidents: (category, subject).
    incidents: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class Verdict:
    counters: dict[str, int]
    examples: dict[str, list[str]]

    @property
    def passed(self) -> bool:
        return all(value == 0 for value in self.counters.values())

    def as_json(self, **extra: Any) -> dict[str, Any]:
        return {
            **self.counters,
            **extra,
            "examples": {k: v for k, v in self.examples.items() if v},
            "verdict": "pass" if self.passed else "fail",
        }


#: The counters, in the order the verdict prints them.
COUNTERS = (
    "orders_lost",
    "duplicate_m3_orders",
    "duplicate_mcf_orders",
    "mcf_orders_lost",
    "duplicate_gl_batches",
    "settlements_not_posted",
    "settlements_not_footing",
    "unbalanced_vouchers",
    "skus_out_of_sync",
    "bad_data_without_incident",
    "unexplained_incidents",
)

CANCELLED = "CANCELLED"


def check(history: History, final: FinalState, mcf_prefix: str = "M3-") -> Verdict:
    counters: Counter[str] = Counter({name: 0 for name in COUNTERS})
    examples: dict[str, list[str]] = {name: [] for name in COUNTERS}

    def count(name: str, example: str) -> None:
        counters[name] += 1
        if len(examples[name]) < 10:
            examples[name].append(example)

    incident_subjects: dict[str | None, set[str]] = {}
    for category, subject in final.incidents:
        incident_subjects.setdefault(subject, set()).add(category)

    # Amazon orders: clean ones reach M3 exactly once (unless the buyer cancelled before M3 had
    # them); bad ones end in an incident of the injected kind and never in M3.
    cuors = Counter(final.m3_cuors)
    for order_id, bad in history.amazon_orders.items():
        in_m3 = cuors.get(order_id, 0)
        if in_m3 > 1:
            count("duplicate_m3_orders", f"{order_id} x{in_m3}")
        if bad:
            missing = bad - incident_subjects.get(order_id, set())
            if missing:
                count("bad_data_without_incident", f"{order_id}: expected {sorted(missing)}")
            continue
        if in_m3 == 0 and final.amazon_status.get(order_id) != CANCELLED:
            count("orders_lost", f"{order_id} ({final.amazon_status.get(order_id, 'unknown to Amazon')})")

    # MCF: one fulfillment order per clean M3 order, and the M3 order delivered (66+).
    request_ids = Counter(final.mcf_request_ids)
    for number, bad in history.mcf_orders.items():
        request_id = f"{mcf_prefix}{number}"
        if request_ids.get(request_id, 0) > 1:
            count("duplicate_mcf_orders", f"{request_id} x{request_ids[request_id]}")
        if bad:
            missing = bad - incident_subjects.get(number, set()) - incident_subjects.get(request_id, set())
            if missing:
                count("bad_data_without_incident", f"MCF {number}: expected {sorted(missing)}")
            continue
        status = final.mcf_m3_status.get(number, "")
        shipped = request_ids.get(request_id, 0)
        if shipped == 0 or status < "66":
            count("mcf_orders_lost", f"{number}: {shipped} fulfillment orders, M3 at {status or '?'}")

    # Settlements: one batch per key, posted for every settlement, footing to the deposit.
    for key, batches in final.gl_batches.items():
        if batches > 1:
            count("duplicate_gl_batches", f"{key} x{batches}")
    for settlement_id, deposit in history.settlements.items():
        posted = final.settlement_posted.get(settlement_id)
        if posted is None:
            if settlement_id not in incident_subjects:
                count("settlements_not_posted", settlement_id)
            continue
        if deposit and Decimal(posted) != Decimal(deposit):
            count("settlements_not_footing", f"{settlement_id}: posted {posted}, deposit {deposit}")
    for voucher, (debit, credit) in final.vouchers.items():
        if Decimal(debit) != Decimal(credit):
            count("unbalanced_vouchers", f"{voucher}: {debit} != {credit}")

    for sku, (on_amazon, expected) in final.inventory.items():
        if on_amazon != expected:
            count("skus_out_of_sync", f"{sku}: Amazon {on_amazon}, expected {expected}")

    for example in unexplained_incidents(history, final.incidents, mcf_prefix):
        count("unexplained_incidents", example)

    return Verdict({name: counters[name] for name in COUNTERS}, examples)


def unexplained_incidents(
    history: History, incidents: list[tuple[str, str | None]], mcf_prefix: str = "M3-"
) -> list[str]:
    """Incidents nobody asked for: each open one that injected bad data does not explain."""
    expected_by_subject: dict[str, frozenset[str]] = {
        **history.amazon_orders,
        **history.mcf_orders,
        **{f"{mcf_prefix}{k}": v for k, v in history.mcf_orders.items()},
    }
    return [
        f"{category} about {subject}"
        for category, subject in incidents
        if subject is None or category not in expected_by_subject.get(subject, frozenset())
    ]
