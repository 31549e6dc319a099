"""Pydantic models of the Orders API v2026-01-01 fields the product reads.

Why partial and tolerant: Amazon adds fields and enum values without a version bump, so the models
keep unknown fields (`extra="allow"`) and type enum-like fields as plain strings; the translation
decides what an unknown value means and says so in an `AmazonTranslationError`. Field names are
snake_case in Python and camelCase on the wire (the model's spelling), e.g. `order_id` <->
`orderId`. Only the fields marked required in the model are required here.
"""

from __future__ import annotations

from datetime import datetime

from m3amazon.amazon.models._base import AmazonModel


class Money(AmazonModel):
    """`{"amount": "<decimal string>", "currencyCode": "USD"}`; convert with amazon.money."""

    amount: str
    currency_code: str

    def as_dict(self) -> dict[str, str]:
        return {"amount": self.amount, "currencyCode": self.currency_code}


class SalesChannel(AmazonModel):
    channel_name: str
    marketplace_id: str | None = None
    marketplace_name: str | None = None


class Buyer(AmazonModel):
    buyer_name: str | None = None
    buyer_email: str | None = None
    buyer_company_name: str | None = None
    buyer_purchase_order_number: str | None = None


class CustomerAddress(AmazonModel):
    name: str | None = None
    company_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    city: str | None = None
    district_or_county: str | None = None
    state_or_region: str | None = None
    municipality: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    phone: str | None = None
    address_type: str | None = None


class Recipient(AmazonModel):
    delivery_address: CustomerAddress | None = None


class DateTimeRange(AmazonModel):
    earliest_date_time: datetime | None = None
    latest_date_time: datetime | None = None


class OrderFulfillment(AmazonModel):
    fulfillment_status: str
    fulfilled_by: str | None = None
    fulfillment_service_level: str | None = None
    ship_by_window: DateTimeRange | None = None
    deliver_by_window: DateTimeRange | None = None


class OrderProceedsBreakdown(AmazonModel):
    type: str
    status: str | None = None
    subtotal: Money


class OrderProceeds(AmazonModel):
    grand_total: Money | None = None
    breakdowns: list[OrderProceedsBreakdown] | None = None


class ItemCondition(AmazonModel):
    condition_type: str | None = None
    condition_subtype: str | None = None


class ItemPrice(AmazonModel):
    unit_price: Money | None = None
    price_designation: str | None = None


class ItemProduct(AmazonModel):
    asin: str | None = None
    title: str | None = None
    seller_sku: str | None = None
    condition: ItemCondition | None = None
    price: ItemPrice | None = None


class ItemProceedsDetailedBreakdown(AmazonModel):
    """Subtypes: ITEM, SHIPPING, GIFT_WRAP, COD_FEE, OTHER, DISCOUNT (e.g. the TAX on shipping)."""

    subtype: str | None = None
    value: Money | None = None


class ItemProceedsBreakdown(AmazonModel):
    """Types: ITEM, SHIPPING, GIFT_WRAP, COD_FEE, OTHER, TAX, DISCOUNT."""

    type: str
    subtotal: Money
    detailed_breakdowns: list[ItemProceedsDetailedBreakdown] | None = None


class ItemProceeds(AmazonModel):
    proceeds_total: Money | None = None
    breakdowns: list[ItemProceedsBreakdown] | None = None


class ItemPromotionBreakdown(AmazonModel):
    promotion_id: str | None = None


class ItemPromotion(AmazonModel):
    breakdowns: list[ItemPromotionBreakdown] | None = None


class ItemFulfillment(AmazonModel):
    quantity_fulfilled: int | None = None
    quantity_unfulfilled: int | None = None


class OrderItem(AmazonModel):
    order_item_id: str
    quantity_ordered: int
    product: ItemProduct
    proceeds: ItemProceeds | None = None
    promotion: ItemPromotion | None = None
    fulfillment: ItemFulfillment | None = None


class Order(AmazonModel):
    order_id: str
    created_time: datetime
    last_updated_time: datetime
    sales_channel: SalesChannel
    order_items: list[OrderItem]
    programs: list[str] | None = None
    buyer: Buyer | None = None
    recipient: Recipient | None = None
    proceeds: OrderProceeds | None = None
    fulfillment: OrderFulfillment | None = None


class GetOrderResponse(AmazonModel):
    order: Order


class Pagination(AmazonModel):
    next_token: str | None = None


class SearchOrdersResponse(AmazonModel):
    orders: list[Order]
    pagination: Pagination | None = None
    created_before: datetime | None = None
    last_updated_before: datetime | None = None
