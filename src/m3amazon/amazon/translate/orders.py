"""Orders API v2026-01-01 `Order` -> canonical `Order`. Pure: no I/O, no clock, no settings.

How each canonical field is read (and why):

- status: `fulfillment.fulfillmentStatus` (v2026 has no order-level status elsewhere; the canonical
  spelling is the same enum). channel: `fulfillment.fulfilledBy` AMAZON/MERCHANT. Both need the
  FULFILLMENT dataset; without it the order cannot be routed, so it is an error, not a guess.
- unit_price: `product.price.unitPrice`, which v2026 gives per unit (v0's ItemPrice was the line total).
  A line with quantity 0 and no price (cancelled) gets a zero price; any other line without a price
  cannot be invoiced and is an error.
- tax / shipping_tax: the item's TAX proceeds breakdown; its detailed breakdowns split it into the
  ITEM and SHIPPING parts (other parts, e.g. gift-wrap tax, are added to `tax`). Without details the
  whole TAX subtotal is the item tax.
- shipping, gift_wrap: the SHIPPING and GIFT_WRAP breakdowns.
- promotion_discount: the DISCOUNT breakdown as a non-negative amount (proceeds carry it as a
  reduction; the sign Amazon uses is not documented, so the magnitude is taken).
- currency: the prices' currency; if no line is priced, the grand total's, else the marketplace's.
- buyer -> Party, recipient.deliveryAddress -> Address ("" from Amazon means "not given").
- is_prime / is_business: the order `programs` PRIME and AMAZON_BUSINESS.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from m3amazon.amazon.endpoints import marketplace_currency
from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.models import orders_v2026 as v26
from m3amazon.amazon.money import MoneyShape, MoneyShapeError, parse_money
from m3amazon.canonical import (
    Address,
    AddressType,
    FulfillmentChannel,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Party,
)

PRIME = "PRIME"
AMAZON_BUSINESS = "AMAZON_BUSINESS"


def parse_order(data: Mapping[str, Any]) -> v26.Order:
    """The typed v2026 order from its JSON; a document that does not fit the model is an error."""
    try:
        return v26.Order.model_validate(data)
    except ValidationError as exc:
        order_id = data.get("orderId") if isinstance(data, Mapping) else None
        raise AmazonTranslationError(
            "INVALID_ORDER",
            f"the order document does not match the Orders API v2026-01-01 model: {_first_error(exc)}",
            order_id=order_id if isinstance(order_id, str) else None,
            payload=data if isinstance(data, Mapping) else None,
        ) from None


def order_from_v2026(order: v26.Order | Mapping[str, Any], *, seller_id: str | None = None) -> Order:
    """The canonical order for an Orders API v2026-01-01 order (raises AmazonTranslationError)."""
    typed = order if isinstance(order, v26.Order) else parse_order(order)
    return _Translation(typed, seller_id).order()


class _Translation:
    def __init__(self, order: v26.Order, seller_id: str | None) -> None:
        self.src = order
        self.seller_id = seller_id

    def fail(self, reason: str, message: str) -> AmazonTranslationError:
        return AmazonTranslationError(
            reason,
            f"order {self.src.order_id}: {message}",
            order_id=self.src.order_id,
            payload=self.src.to_json(),
        )

    def order(self) -> Order:
        src = self.src
        marketplace_id = src.sales_channel.marketplace_id
        if not marketplace_id:
            raise self.fail("MISSING_MARKETPLACE", "salesChannel.marketplaceId is missing")
        status, channel = self.status_and_channel()
        if not src.order_items:
            raise self.fail("NO_ITEMS", "the order has no order items")
        currency = self.currency(marketplace_id)
        lines = tuple(self.line(item, currency) for item in src.order_items)
        programs = set(src.programs or ())
        try:
            return Order(
                source="amazon",
                order_id=src.order_id,
                marketplace_id=marketplace_id,
                seller_id=self.seller_id,
                status=status,
                channel=channel,
                created_at=_aware(src.created_time),
                updated_at=_aware(src.last_updated_time),
                currency=currency,
                lines=lines,
                buyer=self.buyer(),
                ship_to=self.ship_to(),
                order_total=self._grand_total(currency),
                service_level=src.fulfillment.fulfillment_service_level if src.fulfillment else None,
                is_business=AMAZON_BUSINESS in programs,
                is_prime=PRIME in programs,
            )
        except ValidationError as exc:
            raise self.fail("INVALID_ORDER", _first_error(exc)) from None

    def _grand_total(self, currency: str) -> Money | None:
        total = self.src.proceeds.grand_total if self.src.proceeds else None
        return self.money(total, currency) if total is not None else None

    def status_and_channel(self) -> tuple[OrderStatus, FulfillmentChannel]:
        fulfillment = self.src.fulfillment
        if fulfillment is None:
            raise self.fail(
                "MISSING_FULFILLMENT",
                "the fulfillment block is missing (request includedData=FULFILLMENT): "
                "status and fulfillment channel are unknown",
            )
        try:
            status = OrderStatus(fulfillment.fulfillment_status)
        except ValueError:
            raise self.fail(
                "UNKNOWN_STATUS", f"unknown fulfillmentStatus {fulfillment.fulfillment_status!r}"
            ) from None
        try:
            channel = FulfillmentChannel(fulfillment.fulfilled_by or "")
        except ValueError:
            raise self.fail(
                "UNKNOWN_CHANNEL", f"fulfilledBy is {fulfillment.fulfilled_by!r}, expected AMAZON or MERCHANT"
            ) from None
        return status, channel

    def currency(self, marketplace_id: str) -> str:
        for item in self.src.order_items:
            price = item.product.price.unit_price if item.product.price else None
            if price is not None:
                return self.money(price, None).currency
        if self.src.proceeds and self.src.proceeds.grand_total:
            return self.money(self.src.proceeds.grand_total, None).currency
        currency = marketplace_currency(marketplace_id)
        if currency is None:
            raise self.fail("NO_CURRENCY", f"no price and unknown marketplace {marketplace_id}")
        return currency

    def money(self, value: v26.Money, currency: str | None) -> Money:
        try:
            money = parse_money(MoneyShape.ORDERS_V2026, value.as_dict())
        except MoneyShapeError as exc:
            raise self.fail("INVALID_MONEY", str(exc)) from None
        if currency is not None and money.currency != currency:
            raise self.fail("MIXED_CURRENCY", f"amount {money} in an order priced in {currency}")
        return money

    def line(self, item: v26.OrderItem, currency: str) -> OrderLine:
        product = item.product
        if not product.seller_sku:
            raise self.fail("MISSING_SKU", f"order item {item.order_item_id} has no sellerSku")
        price = product.price.unit_price if product.price else None
        if price is not None:
            unit_price = self.money(price, currency)
        elif item.quantity_ordered == 0:
            unit_price = Money.zero(currency)
        else:
            raise self.fail(
                "MISSING_PRICE", f"order item {item.order_item_id} ({product.seller_sku}) has no unit price"
            )
        parts = self.proceeds(item, currency)
        try:
            return OrderLine(
                line_id=item.order_item_id,
                sku=product.seller_sku,
                asin=product.asin,
                title=product.title,
                quantity=item.quantity_ordered,
                quantity_shipped=min(item.quantity_ordered, _fulfilled(item)),
                unit_price=unit_price,
                **parts,
            )
        except ValidationError as exc:
            raise self.fail("INVALID_ITEM", f"order item {item.order_item_id}: {_first_error(exc)}") from None

    def proceeds(self, item: v26.OrderItem, currency: str) -> dict[str, Money]:
        parts: dict[str, Money] = {}

        def add(name: str, amount: Money) -> None:
            parts[name] = parts[name] + amount if name in parts else amount

        for breakdown in (item.proceeds.breakdowns or []) if item.proceeds else []:
            subtotal = self.money(breakdown.subtotal, currency)
            kind = breakdown.type.upper()
            if kind == "SHIPPING":
                add("shipping", subtotal)
            elif kind == "GIFT_WRAP":
                add("gift_wrap", subtotal)
            elif kind == "DISCOUNT":
                add("promotion_discount", abs(subtotal))
            elif kind == "TAX":
                details = [d for d in breakdown.detailed_breakdowns or [] if d.value is not None]
                if not details:
                    add("tax", subtotal)
                for detail in details:
                    assert detail.value is not None
                    target = "shipping_tax" if (detail.subtype or "").upper() == "SHIPPING" else "tax"
                    add(target, self.money(detail.value, currency))
        return parts

    def buyer(self) -> Party | None:
        buyer = self.src.buyer
        if buyer is None:
            return None
        return Party(
            name=_text(buyer.buyer_name),
            email=_text(buyer.buyer_email),
            company=_text(buyer.buyer_company_name),
            purchase_order_number=_text(buyer.buyer_purchase_order_number),
        )

    def ship_to(self) -> Address | None:
        address = self.src.recipient.delivery_address if self.src.recipient else None
        if address is None:
            return None
        if not _text(address.country_code):
            raise self.fail("INVALID_ADDRESS", "the delivery address has no countryCode")
        try:
            return Address(
                name=_text(address.name),
                company=_text(address.company_name),
                line1=_text(address.address_line1),
                line2=_text(address.address_line2),
                line3=_text(address.address_line3),
                city=_text(address.city),
                district=_text(address.district_or_county) or _text(address.municipality),
                state=_text(address.state_or_region),
                postal_code=_text(address.postal_code),
                country_code=address.country_code,
                phone=_text(address.phone),
                address_type=_address_type(address.address_type),
            )
        except ValidationError as exc:
            raise self.fail("INVALID_ADDRESS", _first_error(exc)) from None


def _text(value: str | None) -> str | None:
    """Amazon sends "" for fields it does not have; the canonical model says None."""
    return value if value and value.strip() else None


def _address_type(value: str | None) -> AddressType | None:
    try:
        return AddressType(value) if value else None
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def _fulfilled(item: v26.OrderItem) -> int:
    """How many of the item Amazon reports as shipped (FULFILLMENT dataset; 0 when absent)."""
    return (item.fulfillment.quantity_fulfilled or 0) if item.fulfillment else 0
