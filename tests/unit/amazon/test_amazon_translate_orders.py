"""Orders v2026 -> canonical: field by field, failures with reasons, and the render round trip."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.translate.orders import order_from_v2026
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
from m3amazon.canonical.money import minor_units
from m3amazon.sim.amazon.render import INCLUDED_DATA, render_order


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currencyCode": "USD"}


ORDER: dict[str, Any] = {
    "orderId": "113-0000001-0000001",
    "createdTime": "2026-03-01T10:00:00Z",
    "lastUpdatedTime": "2026-03-01T10:05:00Z",
    "programs": ["PRIME"],
    "salesChannel": {
        "channelName": "AMAZON",
        "marketplaceId": "ATVPDKIKX0DER",
        "marketplaceName": "Amazon.com",
    },
    "buyer": {"buyerName": "Jürgen Müller", "buyerEmail": "x1@marketplace.amazon.com"},
    "recipient": {
        "deliveryAddress": {
            "name": "Jürgen Müller",
            "addressLine1": "100 Pine Street",
            "addressLine2": "",
            "city": "Seattle",
            "stateOrRegion": "WA",
            "postalCode": "98101",
            "countryCode": "US",
            "phone": "+1 206-555-0100",
            "addressType": "RESIDENTIAL",
            "municipality": "King",
        }
    },
    "proceeds": {"grandTotal": usd("64.40")},
    "fulfillment": {
        "fulfillmentStatus": "UNSHIPPED",
        "fulfilledBy": "MERCHANT",
        "fulfillmentServiceLevel": "STANDARD",
    },
    "orderItems": [
        {
            "orderItemId": "10000000000001",
            "quantityOrdered": 2,
            "product": {
                "asin": "B000000001",
                "title": "Hex Bolt Set",
                "sellerSku": "HEX-1",
                "price": {"unitPrice": usd("25.00")},
            },
            "proceeds": {
                "proceedsTotal": usd("64.40"),
                "breakdowns": [
                    {"type": "ITEM", "subtotal": usd("50.00")},
                    {"type": "SHIPPING", "subtotal": usd("5.00")},
                    {
                        "type": "TAX",
                        "subtotal": usd("4.40"),
                        "detailedBreakdowns": [
                            {"subtype": "ITEM", "value": usd("4.00")},
                            {"subtype": "SHIPPING", "value": usd("0.40")},
                        ],
                    },
                    {"type": "DISCOUNT", "subtotal": usd("-2.00")},
                    {"type": "GIFT_WRAP", "subtotal": usd("7.00")},
                ],
            },
            "someFieldAmazonAddsLater": {"x": 1},
        },
        {"orderItemId": "10000000000002", "quantityOrdered": 0, "product": {"sellerSku": "CANCELLED-1"}},
    ],
}


def test_fields_are_read_as_documented() -> None:
    order = order_from_v2026(ORDER, seller_id="A1SELLER")
    assert (order.order_id, order.marketplace_id, order.seller_id) == (
        "113-0000001-0000001",
        "ATVPDKIKX0DER",
        "A1SELLER",
    )
    assert order.status is OrderStatus.UNSHIPPED and order.channel is FulfillmentChannel.MERCHANT
    assert order.currency == "USD" and order.is_prime and not order.is_business
    assert order.created_at.tzinfo is not None and order.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    first, cancelled = order.lines
    assert first.unit_price == Money("25.00", "USD") and first.quantity == 2
    assert first.line_amount == Money("50.00", "USD")
    assert (first.tax, first.shipping_tax, first.shipping) == (
        Money("4.00", "USD"),
        Money("0.40", "USD"),
        Money("5", "USD"),
    )
    assert first.promotion_discount == Money("2.00", "USD") and first.gift_wrap == Money("7", "USD")
    assert cancelled.quantity == 0 and cancelled.unit_price == Money.zero("USD")
    assert order.buyer == Party(name="Jürgen Müller", email="x1@marketplace.amazon.com")
    assert order.ship_to is not None
    assert order.ship_to.line2 is None  # "" means not given
    assert order.ship_to.district == "King" and order.ship_to.address_type is AddressType.RESIDENTIAL
    assert order.order_total == Money("64.40", "USD") and order.service_level == "STANDARD"


def test_tax_without_details_is_item_tax() -> None:
    doc = copy.deepcopy(ORDER)
    doc["orderItems"][0]["proceeds"]["breakdowns"] = [{"type": "TAX", "subtotal": usd("1.23")}]
    line = order_from_v2026(doc).lines[0]
    assert line.tax == Money("1.23", "USD") and line.shipping_tax is None


def test_currency_falls_back_to_the_marketplace() -> None:
    doc = copy.deepcopy(ORDER)
    doc["salesChannel"]["marketplaceId"] = "A1PA6795UKMFR9"
    doc["orderItems"] = [doc["orderItems"][1]]
    del doc["proceeds"]
    assert order_from_v2026(doc).currency == "EUR"


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(ORDER)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (_broken(["orderItems", 0, "product", "price"], KeyError), "MISSING_PRICE"),
        (_broken(["fulfillment"], KeyError), "MISSING_FULFILLMENT"),
        (_broken(["fulfillment", "fulfillmentStatus"], "ON_THE_MOON"), "UNKNOWN_STATUS"),
        (_broken(["fulfillment", "fulfilledBy"], "SOMEONE"), "UNKNOWN_CHANNEL"),
        (_broken(["salesChannel", "marketplaceId"], KeyError), "MISSING_MARKETPLACE"),
        (_broken(["orderItems"], []), "NO_ITEMS"),
        (_broken(["orderItems", 0, "product", "sellerSku"], KeyError), "MISSING_SKU"),
        (
            _broken(
                ["orderItems", 0, "product", "price", "unitPrice"], {"amount": "1.00", "currencyCode": "EUR"}
            ),
            "MIXED_CURRENCY",
        ),
        (
            _broken(
                ["orderItems", 0, "product", "price", "unitPrice"], {"amount": "lots", "currencyCode": "USD"}
            ),
            "INVALID_MONEY",
        ),
        (_broken(["recipient", "deliveryAddress", "countryCode"], KeyError), "INVALID_ADDRESS"),
        (_broken(["recipient", "deliveryAddress", "countryCode"], "XX"), "INVALID_ADDRESS"),
        (_broken(["createdTime"], "yesterday"), "INVALID_ORDER"),
        (_broken(["orderItems", 0, "quantityOrdered"], -1), "INVALID_ITEM"),
    ],
)
def test_untranslatable_orders_say_why(doc: dict[str, Any], reason: str) -> None:
    with pytest.raises(AmazonTranslationError) as caught:
        order_from_v2026(doc)
    assert caught.value.reason == reason
    assert caught.value.message and caught.value.payload is not None


# -- property: canonical -> v2026 JSON (the simulator's renderer) -> canonical ------------------
_CURRENCY_MARKETS = {m.currency: m.marketplace_id for m in MARKETPLACES.values()}
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=50).filter(str.strip)
_opt = st.none() | _text


def _money(currency: str, low: int = 0, high: int = 10**7) -> st.SearchStrategy[Money]:
    return st.integers(low, high).map(lambda m: Money(Decimal(m).scaleb(-minor_units(currency)), currency))


@st.composite
def canonical_orders(draw: st.DrawFn) -> Order:
    currency = draw(st.sampled_from(["USD", "EUR", "GBP", "CAD", "JPY", "BRL"]))
    opt_money = st.none() | _money(currency)
    lines = draw(
        st.lists(
            st.builds(
                OrderLine,
                line_id=st.from_regex(r"[0-9]{14}", fullmatch=True),
                sku=_text,
                asin=_opt,
                title=_opt,
                quantity=st.integers(0, 50),
                unit_price=_money(currency),
                tax=opt_money,
                shipping=opt_money,
                shipping_tax=opt_money,
                promotion_discount=opt_money,
                gift_wrap=opt_money,
            ),
            min_size=1,
            max_size=4,
        )
    )
    address = st.builds(
        Address,
        name=_opt,
        company=_opt,
        line1=_opt,
        line2=_opt,
        line3=_opt,
        city=_opt,
        district=_opt,
        state=_opt,
        postal_code=_opt,
        country_code=st.sampled_from(["US", "DE", "PL", "PT", "GB", "JP"]),
        phone=_opt,
        address_type=st.none() | st.sampled_from(list(AddressType)),
    )
    moments = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    status = draw(st.sampled_from(list(OrderStatus)))
    # What Amazon reports as shipped: everything of a SHIPPED order, part of the others.
    lines = [
        line.model_copy(
            update={
                "quantity_shipped": line.quantity
                if status is OrderStatus.SHIPPED
                else draw(st.integers(0, line.quantity))
            }
        )
        for line in lines
    ]
    return Order(
        order_id=draw(st.from_regex(r"[0-9]{3}-[0-9]{7}-[0-9]{7}", fullmatch=True)),
        marketplace_id=_CURRENCY_MARKETS[currency],
        seller_id="A1SELLER",
        status=status,
        channel=draw(st.sampled_from(list(FulfillmentChannel))),
        created_at=draw(moments),
        updated_at=draw(moments),
        currency=currency,
        lines=tuple(lines),
        buyer=draw(
            st.none() | st.builds(Party, name=_opt, email=_opt, company=_opt, purchase_order_number=_opt)
        ),
        ship_to=draw(st.none() | address),
        order_total=draw(opt_money),
        service_level=draw(st.none() | st.sampled_from(["STANDARD", "EXPEDITED", "NEXT_DAY", "SCHEDULED"])),
        is_business=draw(st.booleans()),
        is_prime=draw(st.booleans()),
    )


@settings(max_examples=150, deadline=None)
@given(order=canonical_orders())
def test_render_then_translate_gives_the_same_order(order: Order) -> None:
    assert order_from_v2026(render_order(order, INCLUDED_DATA), seller_id="A1SELLER") == order


@settings(max_examples=50, deadline=None)
@given(order=canonical_orders())
def test_without_optional_datasets_prices_status_and_lines_survive(order: Order) -> None:
    back = order_from_v2026(render_order(order, ["FULFILLMENT"]), seller_id="A1SELLER")
    assert back.buyer is None and back.ship_to is None and back.order_total is None
    assert [(x.sku, x.quantity, x.unit_price) for x in back.lines] == [
        (x.sku, x.quantity, x.unit_price) for x in order.lines
    ]
    assert (back.status, back.channel) == (order.status, order.channel)
