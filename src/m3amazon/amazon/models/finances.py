"""Finances API v0 (financial event groups and events) and v2024-06-19 (transactions).

v0 spells keys in PascalCase and money as `{"CurrencyCode", "CurrencyAmount": <number>}`;
v2024-06-19 uses camelCase and `{"currencyCode", "currencyAmount": <number>}`. Amounts stay raw here
and become canonical Money in `m3amazon.amazon.translate.finances` (through amazon.money).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from m3amazon.amazon.models._base import AmazonModel, PascalModel


class Currency(PascalModel):
    currency_code: str | None = None
    currency_amount: Any = None


class FinancialEventGroup(PascalModel):
    financial_event_group_id: str
    processing_status: str | None = None
    fund_transfer_status: str | None = None
    original_total: Currency | None = None
    converted_total: Currency | None = None
    fund_transfer_date: datetime | None = None
    trace_id: str | None = None
    account_tail: str | None = None
    beginning_balance: Currency | None = None
    financial_event_group_start: datetime | None = None
    financial_event_group_end: datetime | None = None


class ListFinancialEventGroupsPayload(PascalModel):
    next_token: str | None = None
    financial_event_group_list: list[FinancialEventGroup] = Field(default_factory=list)


class ChargeComponent(PascalModel):
    charge_type: str | None = None
    charge_amount: Currency | None = None


class FeeComponent(PascalModel):
    fee_type: str | None = None
    fee_amount: Currency | None = None


class Promotion(PascalModel):
    promotion_type: str | None = None
    promotion_id: str | None = None
    promotion_amount: Currency | None = None


class ShipmentItem(PascalModel):
    seller_sku: str | None = Field(default=None, alias="SellerSKU")
    order_item_id: str | None = None
    order_adjustment_item_id: str | None = None
    quantity_shipped: int | None = None
    item_charge_list: list[ChargeComponent] | None = None
    item_charge_adjustment_list: list[ChargeComponent] | None = None
    item_fee_list: list[FeeComponent] | None = None
    item_fee_adjustment_list: list[FeeComponent] | None = None
    promotion_list: list[Promotion] | None = None
    promotion_adjustment_list: list[Promotion] | None = None


class ShipmentEvent(PascalModel):
    amazon_order_id: str | None = None
    seller_order_id: str | None = None
    marketplace_name: str | None = None
    posted_date: datetime | None = None
    shipment_item_list: list[ShipmentItem] | None = None
    shipment_item_adjustment_list: list[ShipmentItem] | None = None


class FinancialEvents(PascalModel):
    shipment_event_list: list[ShipmentEvent] | None = None
    refund_event_list: list[ShipmentEvent] | None = None


class ListFinancialEventsPayload(PascalModel):
    next_token: str | None = None
    financial_events: FinancialEvents | None = None


class Money2024(AmazonModel):
    currency_code: str | None = None
    currency_amount: Any = None


class RelatedIdentifier(AmazonModel):
    related_identifier_name: str | None = None
    related_identifier_value: str | None = None


class Breakdown(AmazonModel):
    breakdown_type: str | None = None
    breakdown_amount: Money2024 | None = None
    breakdowns: list[Breakdown] | None = None


class MarketplaceDetails(AmazonModel):
    marketplace_id: str | None = None
    marketplace_name: str | None = None


class TransactionItem(AmazonModel):
    total_amount: Money2024 | None = None
    breakdowns: list[Breakdown] | None = None
    contexts: list[dict[str, Any]] | None = None


class Transaction(AmazonModel):
    transaction_id: str | None = None
    transaction_type: str | None = None
    transaction_status: str | None = None
    description: str | None = None
    posted_date: datetime | None = None
    total_amount: Money2024 | None = None
    marketplace_details: MarketplaceDetails | None = None
    related_identifiers: list[RelatedIdentifier] | None = None
    items: list[TransactionItem] | None = None
    contexts: list[dict[str, Any]] | None = None
    breakdowns: list[Breakdown] | None = None

    def related(self, name: str) -> str | None:
        for identifier in self.related_identifiers or []:
            if identifier.related_identifier_name == name:
                return identifier.related_identifier_value
        return None


class TransactionsPayload(AmazonModel):
    next_token: str | None = None
    transactions: list[Transaction] = Field(default_factory=list)
