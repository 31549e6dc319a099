"""The simulated seller's money: financial events, event groups, and how the Finances APIs show them.

Every shipped order and every refund posts one financial event (charges, fees, promotions per
item) to the open event group of its marketplace; closing a group (the control plane's
settlement close) fixes its total, which Amazon then transfers, and a V2 settlement report is made
from the same events (settlement.py). So Finances v0, Finances 2024-06-19 and the settlement report
always agree, which is what the product's reconciliation relies on.

Amounts (the values are illustrative, the structure is Amazon's): Principal, Tax, ShippingCharge,
ShippingTax and GiftWrap charges from the order line; the promotion as a negative amount; a
Commission fee of 15 % of the principal, and for AFN orders an FBAPerUnitFulfillmentFee of 3.22 per
unit, both negative. A refund reverses the charges and the promotion, gives 80 % of the commission
back and charges the rest as RefundCommission.

Rendering: v0 money is `{CurrencyCode, CurrencyAmount}` with a JSON number, v2024-06-19
`{currencyCode, currencyAmount}`; two-decimal amounts are written as floats, whose shortest repr
is the exact decimal.

Guarded by the account's lock (see state.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.canonical import Money, Order
from m3amazon.sim.amazon.params import iso

COMMISSION_RATE = Decimal("0.15")
FBA_UNIT_FEE = Decimal("3.22")
REFUNDED_COMMISSION_SHARE = Decimal("0.80")
ORDER, REFUND = "Order", "Refund"


@dataclass(frozen=True)
class Component:
    #: "charge", "fee" or "promotion"
    kind: str
    name: str
    amount: Money


@dataclass
class FinanceItem:
    sku: str
    order_item_id: str
    quantity: int
    components: list[Component]


@dataclass
class FinanceEvent:
    kind: str
    order_id: str
    marketplace_id: str
    posted: datetime
    fulfillment: str
    shipment_id: str
    items: list[FinanceItem]
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    adjustment_id: str | None = None

    @property
    def currency(self) -> str:
        return MARKETPLACES[self.marketplace_id].currency

    @property
    def total(self) -> Money:
        return Money.sum((c.amount for i in self.items for c in i.components), self.currency)


@dataclass
class EventGroup:
    group_id: str
    marketplace_id: str
    start: datetime
    events: list[FinanceEvent] = field(default_factory=list)
    end: datetime | None = None
    fund_transfer_date: datetime | None = None
    #: The V2 settlement report made when the group closed.
    settlement_id: str | None = None

    @property
    def currency(self) -> str:
        return MARKETPLACES[self.marketplace_id].currency

    @property
    def closed(self) -> bool:
        return self.end is not None

    @property
    def total(self) -> Money:
        return Money.sum((e.total for e in self.events), self.currency)


def _rounded(amount: Decimal, currency: str) -> Money:
    return Money(amount, currency).rounded()


def shipment_event(order: Order, *, posted: datetime, shipment_id: str) -> FinanceEvent:
    """The event Amazon posts when `order` ships (AFN) or is confirmed shipped (MFN)."""
    afn = order.channel.value == "AMAZON"
    items = []
    for line in order.lines:
        if line.quantity == 0:
            continue
        parts = [Component("charge", "Principal", line.line_amount)]
        for name, value in (
            ("Tax", line.tax),
            ("ShippingCharge", line.shipping),
            ("ShippingTax", line.shipping_tax),
            ("GiftWrap", line.gift_wrap),
        ):
            if value is not None and not value.is_zero:
                parts.append(Component("charge", name, value))
        if line.promotion_discount is not None and not line.promotion_discount.is_zero:
            parts.append(Component("promotion", "Principal", -abs(line.promotion_discount)))
        parts.append(
            Component(
                "fee", "Commission", -_rounded(line.line_amount.amount * COMMISSION_RATE, order.currency)
            )
        )
        if afn:
            parts.append(
                Component(
                    "fee", "FBAPerUnitFulfillmentFee", -_rounded(FBA_UNIT_FEE * line.quantity, order.currency)
                )
            )
        items.append(FinanceItem(line.sku, line.line_id, line.quantity, parts))
    return FinanceEvent(
        ORDER, order.order_id, order.marketplace_id, posted, "AFN" if afn else "MFN", shipment_id, items
    )


def refund_event(shipped: FinanceEvent, *, posted: datetime) -> FinanceEvent:
    """A full refund of a shipped order's event."""
    items = []
    for item in shipped.items:
        parts = []
        for component in item.components:
            if component.kind in ("charge", "promotion"):
                parts.append(Component(component.kind, component.name, -component.amount))
            elif component.name == "Commission":
                back = _rounded(
                    -component.amount.amount * REFUNDED_COMMISSION_SHARE, component.amount.currency
                )
                parts.append(Component("fee", "Commission", back))
                parts.append(Component("fee", "RefundCommission", -(back + component.amount)))
        items.append(FinanceItem(item.sku, item.order_item_id, item.quantity, parts))
    return FinanceEvent(
        REFUND,
        shipped.order_id,
        shipped.marketplace_id,
        posted,
        shipped.fulfillment,
        shipped.shipment_id,
        items,
        adjustment_id=uuid.uuid4().hex[:14].upper(),
    )


class FinanceLedger:
    """Event groups per marketplace; one open group each, closed on settlement."""

    def __init__(self) -> None:
        self.groups: list[EventGroup] = []
        self._open: dict[str, EventGroup] = {}
        self.by_order: dict[str, list[FinanceEvent]] = {}

    def open_group(self, marketplace_id: str, now: datetime) -> EventGroup:
        group = self._open.get(marketplace_id)
        if group is None:
            group = EventGroup(uuid.uuid4().hex.upper()[:24], marketplace_id, now)
            self._open[marketplace_id] = group
            self.groups.append(group)
        return group

    def record(self, event: FinanceEvent) -> EventGroup:
        group = self.open_group(event.marketplace_id, event.posted)
        group.events.append(event)
        self.by_order.setdefault(event.order_id, []).append(event)
        return group

    def close(self, marketplace_id: str, now: datetime, settlement_id: str) -> EventGroup | None:
        """Close the open group of `marketplace_id` (None when it has no events)."""
        group = self._open.get(marketplace_id)
        if group is None or not group.events:
            return None
        del self._open[marketplace_id]
        group.end, group.fund_transfer_date, group.settlement_id = now, now + timedelta(days=1), settlement_id
        return group

    def group(self, group_id: str) -> EventGroup | None:
        return next((g for g in self.groups if g.group_id == group_id), None)


def _v0_money(money: Money) -> dict[str, Any]:
    return {"CurrencyCode": money.currency, "CurrencyAmount": float(money.amount)}


def _v2024_money(money: Money) -> dict[str, Any]:
    return {"currencyCode": money.currency, "currencyAmount": float(money.amount)}


def render_group(group: EventGroup) -> dict[str, Any]:
    """A Finances v0 `FinancialEventGroup`."""
    zero = Money.zero(group.currency)
    rendered: dict[str, Any] = {
        "FinancialEventGroupId": group.group_id,
        "ProcessingStatus": "Closed" if group.closed else "Open",
        "OriginalTotal": _v0_money(group.total),
        "ConvertedTotal": _v0_money(group.total),
        "BeginningBalance": _v0_money(zero),
        "FinancialEventGroupStart": iso(group.start),
        "AccountTail": "042",
    }
    if group.closed:
        assert group.end is not None and group.fund_transfer_date is not None
        rendered |= {
            "FundTransferStatus": "Succeeded",
            "FundTransferDate": iso(group.fund_transfer_date),
            "TraceId": f"TRACE{group.group_id[:10]}",
            "FinancialEventGroupEnd": iso(group.end),
        }
    return rendered


def render_v0_event(event: FinanceEvent) -> dict[str, Any]:
    """A Finances v0 `ShipmentEvent` (also the shape of refund events)."""
    refund = event.kind == REFUND
    items = []
    for item in event.items:
        lists: dict[str, list[dict[str, Any]]] = {"charge": [], "fee": [], "promotion": []}
        for c in item.components:
            if c.kind == "charge":
                lists["charge"].append({"ChargeType": c.name, "ChargeAmount": _v0_money(c.amount)})
            elif c.kind == "fee":
                lists["fee"].append({"FeeType": c.name, "FeeAmount": _v0_money(c.amount)})
            else:
                lists["promotion"].append(
                    {
                        "PromotionType": c.name,
                        "PromotionId": f"PROMO-{item.order_item_id[-6:]}",
                        "PromotionAmount": _v0_money(c.amount),
                    }
                )
        suffix = "AdjustmentList" if refund else "List"
        rendered: dict[str, Any] = {
            "SellerSKU": item.sku,
            "OrderItemId": item.order_item_id,
            "QuantityShipped": item.quantity,
            f"ItemCharge{suffix}": lists["charge"],
            f"ItemFee{suffix}": lists["fee"],
        }
        if lists["promotion"]:
            rendered["PromotionAdjustmentList" if refund else "PromotionList"] = lists["promotion"]
        if refund:
            rendered["OrderAdjustmentItemId"] = f"{event.adjustment_id}-{item.order_item_id[-4:]}"
        items.append(rendered)
    return {
        "AmazonOrderId": event.order_id,
        "MarketplaceName": MARKETPLACES[event.marketplace_id].domain,
        "PostedDate": iso(event.posted),
        "ShipmentItemAdjustmentList" if refund else "ShipmentItemList": items,
    }


def _breakdowns(components: list[Component], currency: str) -> list[dict[str, Any]]:
    groups = {"charge": "ProductCharges", "promotion": "Promotions", "fee": "AmazonFees"}
    out = []
    for kind, label in groups.items():
        parts = [c for c in components if c.kind == kind]
        if parts:
            out.append(
                {
                    "breakdownType": label,
                    "breakdownAmount": _v2024_money(Money.sum((c.amount for c in parts), currency)),
                    "breakdowns": [
                        {"breakdownType": c.name, "breakdownAmount": _v2024_money(c.amount)} for c in parts
                    ],
                }
            )
    return out


def render_transaction(event: FinanceEvent, group: EventGroup, seller_id: str) -> dict[str, Any]:
    """A Finances v2024-06-19 `Transaction` for one event."""
    currency = event.currency
    related = [
        {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": event.order_id},
        {"relatedIdentifierName": "FINANCIAL_EVENT_GROUP_ID", "relatedIdentifierValue": group.group_id},
    ]
    if group.settlement_id:
        related.append(
            {"relatedIdentifierName": "SETTLEMENT_ID", "relatedIdentifierValue": group.settlement_id}
        )
    components = [c for item in event.items for c in item.components]
    return {
        "sellingPartnerMetadata": {
            "sellingPartnerId": seller_id,
            "accountType": "PAYABLE",
            "marketplaceId": event.marketplace_id,
        },
        "relatedIdentifiers": related,
        "transactionType": "Shipment" if event.kind == ORDER else "Refund",
        "transactionId": event.event_id,
        "transactionStatus": "RELEASED" if group.closed else "DEFERRED",
        "description": "Order Payment" if event.kind == ORDER else "Refund",
        "postedDate": iso(event.posted),
        "totalAmount": _v2024_money(event.total),
        "marketplaceDetails": {
            "marketplaceId": event.marketplace_id,
            "marketplaceName": MARKETPLACES[event.marketplace_id].domain,
        },
        "items": [
            {
                "totalAmount": _v2024_money(Money.sum((c.amount for c in item.components), currency)),
                "breakdowns": _breakdowns(item.components, currency),
                "contexts": [
                    {
                        "contextType": "ProductContext",
                        "sku": item.sku,
                        "quantityShipped": item.quantity,
                        "fulfillmentNetwork": event.fulfillment,
                    }
                ],
            }
            for item in event.items
        ],
        "breakdowns": _breakdowns(components, currency),
    }
