"""What flow steps hand back, and how failures become incidents and outcomes become the trail.

Steps never raise edge errors into a workflow: they return a `Failure` (reason code, sentence,
whether retrying may help). Exceptions would have to survive pickling in the engine's checkpoint
table; plain values always do, and the workflow then reads as the use case with explicit
incident branches.

Each reason code belongs to an incident category an operator filters by (the categories of
docs/operations.md). One incident per order and category: a retried step that fails the same way
counts an occurrence on the open incident instead of adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Reason code -> incident category.
CATEGORIES: dict[str, str] = {
    "UNKNOWN_SKU": "sku_unknown",
    "ITEM_NOT_SELLABLE": "sku_unknown",
    "ADDRESS_DOES_NOT_FIT": "address_invalid",
    "MISSING_ADDRESS": "address_invalid",
    "UNMAPPED_MARKETPLACE": "mapping",
    "UNKNOWN_CUSTOMER": "mapping",
    "NO_LINES": "order_invalid",
    "M3_REJECTED_ORDER": "m3_rejected",
    "M3_BATCH_REJECTED": "m3_rejected",
    "M3_UNAVAILABLE": "m3_unavailable",
    "M3_LOOKUP_FAILED": "m3_unavailable",
    "M3_STATUS_MISMATCH": "m3_status",
    "AMAZON_API_ERROR": "amazon_unavailable",
    "AMAZON_ORDER_NOT_FOUND": "amazon_order",
    "ORDER_NOT_RELEASED": "amazon_order",
    "ORDER_UNFULFILLABLE": "amazon_order",
    "MISSING_PRICE": "amazon_order",
    "CANCEL_AFTER_SHIP": "cancel_after_ship",
    "AMOUNT_VARIANCE": "amount_variance",
    "SHIPMENT_NOT_CONFIRMED": "shipment_unconfirmed",
    "SHIPMENT_UNMATCHED": "shipment_unmatched",
}

#: What a successful run of each flow settles: its own kinds of trouble, not another flow's (a
#: shipment confirmed on Amazon says nothing about an invoice variance).
ORDER_FLOW_CATEGORIES = frozenset(
    {
        "sku_unknown",
        "address_invalid",
        "mapping",
        "order_invalid",
        "m3_rejected",
        "m3_unavailable",
        "m3_status",
        "amazon_unavailable",
        "amazon_order",
        "cancel_after_ship",
        "workflow_failed",
        "other",
    }
)
SHIPMENT_CATEGORIES = frozenset({"shipment_unconfirmed", "shipment_unmatched", "amazon_unavailable"})
INVOICE_CATEGORIES = frozenset({"amount_variance"})


def category_of(reason_code: str, retryable: bool = False) -> str:
    category = CATEGORIES.get(reason_code)
    if category is None:
        return "amazon_unavailable" if reason_code.startswith("AMAZON") else "other"
    if category == "m3_unavailable" and not retryable:
        return "m3_rejected"
    return category


@dataclass(frozen=True)
class Failure:
    """A step could not do its job; `retryable` says whether retrying later may help."""

    reason_code: str
    message: str
    retryable: bool = False
    #: Facts for the incident (e.g. the SKU and its suggestions), JSON-ready.
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return category_of(self.reason_code, self.retryable)


@dataclass(frozen=True)
class OrderOutcome:
    amazon_order_id: str
    #: created | existing | delivered | cancelled | ignored | incident
    outcome: str
    m3_order_number: str | None = None
    reason: str | None = None
    detail: str | None = None


def actions_for(failures: tuple[Failure, ...]) -> tuple[str, ...]:
    """What an operator can do about an incident made of these failures."""
    if any(f.category in {"sku_unknown", "mapping", "address_invalid"} for f in failures):
        return ("fix mapping then retry", "retry", "discard")
    return ("retry", "discard")
