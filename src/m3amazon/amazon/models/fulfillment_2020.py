"""Fulfillment Outbound API v2020-07-01 (Multi-Channel Fulfillment): the fields the product uses.

Money here is `{"currencyCode", "value"}` (amazon.money's MCF_2020 shape). Status values are kept
as strings: the model's enums are closed, but Amazon adds values (research §7.2 on spellings).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from m3amazon.amazon.models._base import AmazonModel


class Money(AmazonModel):
    currency_code: str
    value: str


class Address(AmazonModel):
    name: str
    address_line1: str
    address_line2: str | None = None
    address_line3: str | None = None
    city: str | None = None
    district_or_county: str | None = None
    state_or_region: str | None = None
    postal_code: str
    country_code: str
    phone: str | None = None


class CreateFulfillmentOrderItem(AmazonModel):
    seller_sku: str = Field(max_length=50)
    seller_fulfillment_order_item_id: str = Field(max_length=50)
    quantity: int = Field(gt=0)
    displayable_comment: str | None = Field(default=None, max_length=250)
    per_unit_declared_value: Money | None = None


class CreateFulfillmentOrderRequest(AmazonModel):
    marketplace_id: str | None = None
    seller_fulfillment_order_id: str = Field(max_length=40)
    displayable_order_id: str = Field(max_length=40)
    displayable_order_date: datetime
    displayable_order_comment: str = Field(max_length=750)
    shipping_speed_category: str
    destination_address: Address
    fulfillment_action: str | None = None
    fulfillment_policy: str | None = None
    notification_emails: list[str] | None = None
    items: list[CreateFulfillmentOrderItem] = Field(min_length=1)


class GetFulfillmentPreviewItem(AmazonModel):
    seller_sku: str = Field(max_length=50)
    quantity: int = Field(gt=0)
    seller_fulfillment_order_item_id: str = Field(max_length=50)
    per_unit_declared_value: Money | None = None


class GetFulfillmentPreviewRequest(AmazonModel):
    marketplace_id: str | None = None
    address: Address
    items: list[GetFulfillmentPreviewItem] = Field(min_length=1)
    shipping_speed_categories: list[str] | None = None


class Fee(AmazonModel):
    name: str
    amount: Money


class UnfulfillablePreviewItem(AmazonModel):
    seller_sku: str
    quantity: int
    seller_fulfillment_order_item_id: str
    item_unfulfillable_reasons: list[str] | None = None


class FulfillmentPreview(AmazonModel):
    shipping_speed_category: str
    is_fulfillable: bool
    is_cod_capable: bool = Field(alias="isCODCapable")
    marketplace_id: str
    estimated_fees: list[Fee] | None = None
    unfulfillable_preview_items: list[UnfulfillablePreviewItem] | None = None
    order_unfulfillable_reasons: list[str] | None = None


class GetFulfillmentPreviewResult(AmazonModel):
    fulfillment_previews: list[FulfillmentPreview] = Field(default_factory=list)


class FulfillmentOrder(AmazonModel):
    seller_fulfillment_order_id: str
    marketplace_id: str
    displayable_order_id: str
    displayable_order_date: datetime
    displayable_order_comment: str
    shipping_speed_category: str
    destination_address: Address
    received_date: datetime
    fulfillment_order_status: str
    status_updated_date: datetime


class FulfillmentOrderItem(AmazonModel):
    seller_sku: str
    seller_fulfillment_order_item_id: str
    quantity: int
    cancelled_quantity: int
    unfulfillable_quantity: int
    estimated_ship_date: datetime | None = None
    estimated_arrival_date: datetime | None = None


class FulfillmentShipmentItem(AmazonModel):
    seller_sku: str
    seller_fulfillment_order_item_id: str
    quantity: int
    package_number: int | None = None


class FulfillmentShipmentPackage(AmazonModel):
    package_number: int
    carrier_code: str
    tracking_number: str | None = None
    estimated_arrival_date: datetime | None = None


class FulfillmentShipment(AmazonModel):
    amazon_shipment_id: str
    fulfillment_center_id: str
    fulfillment_shipment_status: str
    shipping_date: datetime | None = None
    estimated_arrival_date: datetime | None = None
    fulfillment_shipment_item: list[FulfillmentShipmentItem]
    fulfillment_shipment_package: list[FulfillmentShipmentPackage] | None = None


class GetFulfillmentOrderResult(AmazonModel):
    fulfillment_order: FulfillmentOrder
    fulfillment_order_items: list[FulfillmentOrderItem]
    fulfillment_shipments: list[FulfillmentShipment] | None = None
    return_items: list[dict[str, object]]
    return_authorizations: list[dict[str, object]]


class ListAllFulfillmentOrdersResult(AmazonModel):
    next_token: str | None = None
    fulfillment_orders: list[FulfillmentOrder] = Field(default_factory=list)
