"""SalesOrder (Sync/Process) <-> canonical Order.

Element choices (OAGIS 9/10 names; M3's exact set is UNVERIFIED, see `bod`):

- SalesOrderHeader/DocumentID/ID = `order_id`; DocumentDateTime = `created_at`;
  LastModificationDateTime = `updated_at`; Status/Code = `status`;
- CustomerParty/PartyIDs/ID = `marketplace_id` (for M3 orders: the customer number, which the
  customer mapping turns back into a marketplace); its Name/Contact carry the buyer;
- ShipToParty carries the delivery address (Location/Address) and phone;
- CustomerPurchaseOrderReference/DocumentID/ID = the buyer's purchase order number;
- TotalAmount = `order_total`; the header's UserArea (Property/NameValue) holds what OAGIS has no
  element for: source, fulfillment channel, service level, business/prime flags, seller id;
- SalesOrderLine: LineNumber = `line_id`, Item/CustomerItemID/ID = `sku`, Item/ItemID/ID = ASIN
  (schemeName="ASIN"), Quantity, UnitPrice/Amount, Tax/Amount, Charge (typeCode Shipping,
  ShippingTax, GiftWrap) and Discount/Amount (the promotion, non-negative).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree

from m3amazon.canonical import Address, Order, OrderLine, Party
from m3amazon.m3.ion import bod
from m3amazon.m3.ion.xml import (
    BodError,
    amount,
    clean,
    find,
    find_all,
    money,
    optional,
    required,
    sub,
    sub_path,
    text,
    timestamp,
)

_CHARGES = {"Shipping": "shipping", "ShippingTax": "shipping_tax", "GiftWrap": "gift_wrap"}


def user_area(parent: etree._Element, values: dict[str, object]) -> None:
    area = sub(parent, "UserArea")
    for name, value in values.items():
        if value is None:
            continue
        prop = sub(area, "Property")
        sub(prop, "NameValue", value, name=f"m3amazon.{name}")


def user_values(parent: etree._Element | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in find_all(parent, "UserArea/Property/NameValue") if parent is not None else []:
        name = node.get("name", "")
        if name.startswith("m3amazon."):
            out[name[len("m3amazon.") :]] = clean(node.text) or ""
    return out


def write_address(parent: etree._Element, address: Address) -> None:
    optional(parent, "Name", address.company)
    if address.name or address.phone:
        contact = sub(parent, "Contact")
        optional(contact, "Name", address.name)
        if address.phone:
            channel = sub(contact, "Communication")
            sub(channel, "ChannelCode", "Telephone")
            sub(channel, "DialNumber", address.phone)
    node = sub_path(
        parent, "Location/Address", type=address.address_type.value if address.address_type else None
    )
    for sequence, line in enumerate((address.line1, address.line2, address.line3), start=1):
        if line:
            sub(node, "AddressLine", line, sequence=str(sequence))
    optional(node, "CityName", address.city)
    optional(node, "CitySubDivisionName", address.district)
    optional(node, "CountrySubDivisionCode", address.state)
    sub(node, "CountryCode", address.country_code)
    optional(node, "PostalCode", address.postal_code)


def read_address(party: etree._Element | None, where: str) -> Address | None:
    node = find(party, "Location/Address")
    if party is None or node is None:
        return None
    lines = {
        line.get("sequence", str(n)): clean(line.text)
        for n, line in enumerate(find_all(node, "AddressLine"), start=1)
    }
    phone = next(
        (
            text(c, "DialNumber")
            for c in find_all(party, "Contact/Communication")
            if text(c, "ChannelCode") == "Telephone"
        ),
        None,
    )
    country = required(node, "CountryCode", where)
    try:
        return Address(
            name=text(party, "Contact/Name"),
            company=text(party, "Name"),
            line1=lines.get("1") or None,
            line2=lines.get("2") or None,
            line3=lines.get("3") or None,
            city=text(node, "CityName"),
            district=text(node, "CitySubDivisionName"),
            state=text(node, "CountrySubDivisionCode"),
            postal_code=text(node, "PostalCode"),
            country_code=country,
            phone=phone,
            address_type=node.get("type") or None,
        )
    except ValueError as exc:
        raise BodError("BOD_INVALID", f"{where}: {exc}") from None


def _encode_line(parent: etree._Element, line: OrderLine) -> None:
    node = sub(parent, "SalesOrderLine")
    sub(node, "LineNumber", line.line_id)
    item = sub(node, "Item")
    if line.asin:
        sub_path(item, "ItemID/ID", line.asin, schemeName="ASIN")
    sub_path(item, "CustomerItemID/ID", line.sku)
    optional(item, "Description", line.title)
    if line.fnsku:
        sub_path(item, "ItemIDs/ID", line.fnsku, schemeName="FNSKU")
    sub(node, "Quantity", line.quantity, unitCode="EA")
    amount(node, "UnitPrice/Amount", line.unit_price)
    amount(node, "Tax/Amount", line.tax)
    for code, attribute in _CHARGES.items():
        value = getattr(line, attribute)
        if value is not None:
            charge = sub(node, "Charge")
            sub(charge, "ID", code, typeCode=code)
            amount(charge, "Amount", value)
    amount(node, "Discount/Amount", line.promotion_discount)


def _decode_line(node: etree._Element, index: int) -> OrderLine:
    where = f"SalesOrderLine {index}"
    charges = {}
    for charge in find_all(node, "Charge"):
        code = text(charge, "ID")
        if code in _CHARGES:
            charges[_CHARGES[code]] = money(charge, "Amount", where)
    quantity = required(node, "Quantity", where)
    if not quantity.isdigit():
        raise BodError("BOD_INVALID", f"{where}: Quantity must be a whole number, got {quantity[:20]!r}")
    price = money(node, "UnitPrice/Amount", where)
    if price is None:
        raise BodError("BOD_INVALID", f"{where}: UnitPrice/Amount is missing")
    asin = find(node, "Item/ItemID/ID")
    fnsku = find(node, "Item/ItemIDs/ID")
    return OrderLine(
        line_id=required(node, "LineNumber", where),
        sku=required(node, "Item/CustomerItemID/ID", where),
        asin=(asin.text or "").strip() or None
        if asin is not None and asin.get("schemeName") == "ASIN"
        else None,
        fnsku=(fnsku.text or "").strip() or None if fnsku is not None else None,
        title=text(node, "Item/Description"),
        quantity=int(quantity),
        unit_price=price,
        tax=money(node, "Tax/Amount", where),
        promotion_discount=money(node, "Discount/Amount", where),
        **charges,
    )


def encode(data: etree._Element, orders: list[Any]) -> None:
    for order in orders:
        assert isinstance(order, Order)
        noun = sub(data, "SalesOrder")
        header = sub(noun, "SalesOrderHeader")
        sub_path(header, "DocumentID/ID", order.order_id)
        sub(header, "LastModificationDateTime", order.updated_at)
        sub(header, "DocumentDateTime", order.created_at)
        sub_path(header, "Status/Code", order.status.value)
        customer = sub(header, "CustomerParty")
        sub_path(customer, "PartyIDs/ID", order.marketplace_id)
        if order.buyer is not None:
            optional(customer, "Name", order.buyer.company)
            if order.buyer.name or order.buyer.email:
                contact = sub(customer, "Contact")
                optional(contact, "Name", order.buyer.name)
                if order.buyer.email:
                    channel = sub(contact, "Communication")
                    sub(channel, "ChannelCode", "EMail")
                    sub(channel, "URI", order.buyer.email)
            optional(
                header, "CustomerPurchaseOrderReference/DocumentID/ID", order.buyer.purchase_order_number
            )
        if order.ship_to is not None:
            write_address(sub(header, "ShipToParty"), order.ship_to)
        amount(header, "TotalAmount", order.order_total)
        user_area(
            header,
            {
                "source": order.source,
                "currency": order.currency,
                "channel": order.channel.value,
                "sellerId": order.seller_id,
                "serviceLevel": order.service_level,
                "isBusiness": order.is_business,
                "isPrime": order.is_prime,
                "hasBuyer": order.buyer is not None,
            },
        )
        for line in order.lines:
            _encode_line(noun, line)


def decode(noun: etree._Element) -> Sequence[Order]:
    header = find(noun, "SalesOrderHeader")
    if header is None:
        raise BodError("BOD_INVALID", "SalesOrder: SalesOrderHeader is missing")
    where = "SalesOrderHeader"
    extra = user_values(header)
    order_id = required(header, "DocumentID/ID", where)
    created = timestamp(required(header, "DocumentDateTime", where), f"{where}: DocumentDateTime")
    updated = (
        timestamp(text(header, "LastModificationDateTime"), f"{where}: LastModificationDateTime") or created
    )
    lines = tuple(_decode_line(node, n) for n, node in enumerate(find_all(noun, "SalesOrderLine"), start=1))
    customer = find(header, "CustomerParty")
    email = (
        next(
            (
                text(c, "URI")
                for c in find_all(customer, "Contact/Communication")
                if text(c, "ChannelCode") == "EMail"
            ),
            None,
        )
        if customer is not None
        else None
    )
    buyer = None
    if extra.get("hasBuyer") == "true" or (
        customer is not None and (text(customer, "Contact/Name") or email)
    ):
        buyer = Party(
            name=text(customer, "Contact/Name"),
            email=email,
            company=text(customer, "Name"),
            purchase_order_number=text(header, "CustomerPurchaseOrderReference/DocumentID/ID"),
        )
    total = money(header, "TotalAmount", where)
    currency = (
        extra.get("currency")
        or (total.currency if total else None)
        or (lines[0].unit_price.currency if lines else None)
    )
    if currency is None:
        raise BodError("BOD_INVALID", f"SalesOrder {order_id}: no currency (no lines and no TotalAmount)")
    return [
        Order(
            source=extra.get("source", "m3"),
            order_id=order_id,
            marketplace_id=required(header, "CustomerParty/PartyIDs/ID", where),
            seller_id=extra.get("sellerId") or None,
            status=text(header, "Status/Code") or "UNSHIPPED",
            channel=extra.get("channel", "MERCHANT"),
            created_at=created,
            updated_at=updated,
            currency=currency,
            lines=lines,
            buyer=buyer,
            ship_to=read_address(find(header, "ShipToParty"), f"{where}: ShipToParty"),
            order_total=total,
            service_level=extra.get("serviceLevel") or None,
            is_business=extra.get("isBusiness") == "true",
            is_prime=extra.get("isPrime") == "true",
        )
    ]


bod.register(
    bod.NounCodec(
        noun="SalesOrder",
        verbs=("Sync", "Process"),
        model=Order,
        decode=decode,
        encode=encode,
        document_id=lambda order: order.order_id,
    )
)
