"""The status table: what the integration does in M3 for each Amazon order status.

Configurable in the mapping file (`status:`), validated when a worker starts. For each Amazon
fulfillment status (Orders API v2026-01-01 spelling; notifications' v0 spelling is translated by
`from_v0`) and each fulfillment channel, an action and the M3 status expected afterwards (the
lowest line status, ORSL). The flow checks the expectation where it reads M3 anyway, and opens an
incident when M3 disagrees.

Default (docs/mappings.md):

| Amazon status | AMAZON (FBA) | MERCHANT (seller) |
| --- | --- | --- |
| PENDING, PENDING_AVAILABILITY | wait | wait |
| UNSHIPPED | create (22) | create (22) |
| PARTIALLY_SHIPPED | create, report delivery of the shipped quantities | create |
| SHIPPED | create, report delivery (66) | create |
| CANCELLED | close open lines (90) | close open lines (90) |
| UNFULFILLABLE | incident | incident |

Seller-fulfilled shipments come from M3 (the warehouse ships, M3 reports it, the product confirms
it on Amazon), so an MFN order that Amazon already reports as shipped is only created if missing.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from m3amazon.canonical import FulfillmentChannel, OrderStatus


class Action(StrEnum):
    WAIT = "wait"
    CREATE = "create"
    CREATE_AND_REPORT_DELIVERY = "create_and_report_delivery"
    CLOSE_OPEN_LINES = "close_open_lines"
    INCIDENT = "incident"
    IGNORE = "ignore"

    @property
    def needs_order(self) -> bool:
        return self in (Action.CREATE, Action.CREATE_AND_REPORT_DELIVERY)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    #: The lowest M3 line status (ORSL) expected after the action, when there is one to check.
    expect_m3_status: str | None = Field(default=None, pattern=r"^\d{2}$")


def _rule(action: str, expect: str | None = None) -> Rule:
    return Rule(action=Action(action), expect_m3_status=expect)


def _default_rules() -> dict[OrderStatus, dict[FulfillmentChannel, Rule]]:
    both = {FulfillmentChannel.AMAZON, FulfillmentChannel.MERCHANT}
    table: dict[OrderStatus, dict[FulfillmentChannel, Rule]] = {
        OrderStatus.PENDING: dict.fromkeys(both, _rule("wait")),
        OrderStatus.PENDING_AVAILABILITY: dict.fromkeys(both, _rule("wait")),
        OrderStatus.UNSHIPPED: dict.fromkeys(both, _rule("create", "22")),
        OrderStatus.PARTIALLY_SHIPPED: {
            FulfillmentChannel.AMAZON: _rule("create_and_report_delivery"),
            FulfillmentChannel.MERCHANT: _rule("create"),
        },
        OrderStatus.SHIPPED: {
            FulfillmentChannel.AMAZON: _rule("create_and_report_delivery", "66"),
            FulfillmentChannel.MERCHANT: _rule("create"),
        },
        OrderStatus.CANCELLED: dict.fromkeys(both, _rule("close_open_lines")),
        OrderStatus.UNFULFILLABLE: dict.fromkeys(both, _rule("incident")),
    }
    return table


class StatusMapping(BaseModel):
    """Amazon status -> per fulfillment channel -> rule. Statuses left out keep their default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: dict[OrderStatus, dict[FulfillmentChannel, Rule]] = Field(default_factory=_default_rules)

    @model_validator(mode="before")
    @classmethod
    def _merge_with_defaults(cls, data: object) -> object:
        """Accept `{STATUS: rule}` (both channels) or `{STATUS: {AMAZON: rule, MERCHANT: rule}}`,
        where a rule is an action name or {action, expect_m3_status}."""
        if not isinstance(data, dict) or "rules" in data:
            return data
        merged: dict[str, dict[str, object]] = {
            status.value: {ch.value: rule.model_dump() for ch, rule in by_channel.items()}
            for status, by_channel in _default_rules().items()
        }
        for status, entry in data.items():
            key = str(status).upper()
            if isinstance(entry, dict) and set(entry) <= {"AMAZON", "MERCHANT"}:
                merged.setdefault(key, {}).update({ch: _as_rule(v) for ch, v in entry.items()})
            else:
                merged[key] = {"AMAZON": _as_rule(entry), "MERCHANT": _as_rule(entry)}
        return {"rules": merged}

    def rule_for(self, status: OrderStatus, channel: FulfillmentChannel) -> Rule:
        return self.rules[status][channel]


def _as_rule(entry: object) -> object:
    return {"action": entry} if isinstance(entry, str) else entry


#: Notifications (and Orders v0) spell statuses differently from Orders v2026-01-01.
_FROM_V0 = {
    "pending": OrderStatus.PENDING,
    "pendingavailability": OrderStatus.PENDING_AVAILABILITY,
    "unshipped": OrderStatus.UNSHIPPED,
    "partiallyshipped": OrderStatus.PARTIALLY_SHIPPED,
    "shipped": OrderStatus.SHIPPED,
    "invoiceunconfirmed": OrderStatus.SHIPPED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "unfulfillable": OrderStatus.UNFULFILLABLE,
}


def from_v0(status: str | None) -> OrderStatus | None:
    """`Unshipped` -> UNSHIPPED, `Canceled` -> CANCELLED, ...; None for an unknown spelling."""
    if not status:
        return None
    return _FROM_V0.get(status.replace("_", "").lower())
