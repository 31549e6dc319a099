"""Finances API (v0 events, v2024-06-19 transactions) -> canonical `SettlementLine`. Pure.

Both APIs describe the money of a settlement period (a financial event group) before the
settlement report exists. They are mapped onto the same triple the settlement report uses, so
the GL mapping needs one table:
- v0 ShipmentEvent item charges -> (Order, ItemPrice, <ChargeType>), item fees -> (Order, ItemFees,
  <FeeType>), promotions -> (Order, Promotion, <PromotionType>); RefundEvent adjustments the same
  with transaction type Refund. Money is `{CurrencyCode, CurrencyAmount}` (a JSON number).
- v2024-06-19 transactions: every leaf of the breakdown tree -> (transactionType, <top-level
  breakdownType>, <leaf breakdownType>); a transaction without breakdowns -> one line of its
  total with amount type and description "Total".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from m3amazon.amazon.models import finances as fin
from m3amazon.amazon.money import MoneyShape, MoneyShapeError, parse_money
from m3amazon.canonical import Money, SettlementLine

ORDER, REFUND = "Order", "Refund"


def _money_v0(currency: fin.Currency | None) -> Money | None:
    if currency is None or currency.currency_amount is None:
        return None
    return parse_money(MoneyShape.FINANCES_V0, currency.to_json())


def _money_2024(money: fin.Money2024 | None) -> Money | None:
    if money is None or money.currency_amount is None:
        return None
    return parse_money(MoneyShape.FINANCES_2024, money.to_json())


def group_total(group: fin.FinancialEventGroup) -> Money | None:
    """The group's original total (what Amazon transfers or charges), or None while it is open."""
    return _money_v0(group.original_total)


def _item_lines(
    group_id: str, kind: str, event: fin.ShipmentEvent, items: Iterable[fin.ShipmentItem], adjusted: bool
) -> Iterator[SettlementLine]:
    for item in items:
        parts: list[tuple[str, str, fin.Currency | None]] = []
        charges = item.item_charge_adjustment_list if adjusted else item.item_charge_list
        fees = item.item_fee_adjustment_list if adjusted else item.item_fee_list
        promotions = item.promotion_adjustment_list if adjusted else item.promotion_list
        parts += [("ItemPrice", c.charge_type or "", c.charge_amount) for c in charges or []]
        parts += [("ItemFees", f.fee_type or "", f.fee_amount) for f in fees or []]
        parts += [("Promotion", p.promotion_type or "", p.promotion_amount) for p in promotions or []]
        for amount_type, description, currency in parts:
            amount = _money_v0(currency)
            if amount is None:
                continue
            yield SettlementLine(
                settlement_id=group_id,
                transaction_type=kind,
                amount_type=amount_type,
                amount_description=description,
                amount=amount,
                order_id=event.amazon_order_id,
                sku=item.seller_sku,
                quantity=item.quantity_shipped,
                posted_at=event.posted_date,
                marketplace=event.marketplace_name,
            )


def lines_from_events(group_id: str, events: fin.FinancialEvents) -> list[SettlementLine]:
    """Shipment and refund events of a financial event group as settlement lines."""
    lines: list[SettlementLine] = []
    for event in events.shipment_event_list or []:
        lines += _item_lines(group_id, ORDER, event, event.shipment_item_list or [], adjusted=False)
    for event in events.refund_event_list or []:
        lines += _item_lines(
            group_id, REFUND, event, event.shipment_item_adjustment_list or [], adjusted=True
        )
    return lines


def _leaves(
    breakdowns: Iterable[fin.Breakdown], top: str | None = None
) -> Iterator[tuple[str, fin.Breakdown]]:
    for breakdown in breakdowns:
        kind = top or breakdown.breakdown_type or ""
        if breakdown.breakdowns:
            yield from _leaves(breakdown.breakdowns, kind)
        else:
            yield kind, breakdown


def lines_from_transactions(transactions: Iterable[fin.Transaction]) -> list[SettlementLine]:
    """Finances v2024-06-19 transactions as settlement lines (see the module docstring)."""
    lines: list[SettlementLine] = []
    for tx in transactions:
        settlement_id = tx.related("SETTLEMENT_ID") or tx.related("FINANCIAL_EVENT_GROUP_ID") or ""
        common = {
            "settlement_id": settlement_id,
            "transaction_type": tx.transaction_type or "",
            "order_id": tx.related("ORDER_ID"),
            "posted_at": tx.posted_date,
            "marketplace": tx.marketplace_details.marketplace_id if tx.marketplace_details else None,
        }
        leaves = list(_leaves(tx.breakdowns or []))
        if not leaves:
            total = _money_2024(tx.total_amount)
            if total is not None:
                lines.append(
                    SettlementLine(amount_type="Total", amount_description="Total", amount=total, **common)
                )
            continue
        for top, leaf in leaves:
            try:
                amount = _money_2024(leaf.breakdown_amount)
            except MoneyShapeError:
                amount = None
            if amount is not None:
                lines.append(
                    SettlementLine(
                        amount_type=top, amount_description=leaf.breakdown_type or "", amount=amount, **common
                    )
                )
    return lines
