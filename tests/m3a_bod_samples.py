"""Canonical objects and hostile documents shared by the BOD tests (one of each noun)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from m3amazon.canonical import (
    Address,
    InventoryAdjustment,
    InventoryPosition,
    Invoice,
    InvoiceLine,
    Item,
    Money,
    Order,
    OrderLine,
    Package,
    Party,
    Shipment,
    ShipmentLine,
)

NOW = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)


def order() -> Order:
    return Order(
        order_id="111-1234567-1234567",
        marketplace_id="ATVPDKIKX0DER",
        seller_id="A2SELLER",
        status="UNSHIPPED",
        channel="MERCHANT",
        created_at=NOW,
        updated_at=NOW + dt.timedelta(minutes=5),
        currency="USD",
        lines=(
            OrderLine(
                line_id="40000000001",
                sku="BALL-S-0001",
                asin="B0ABCDEFGH",
                title="Heavy Duty Ball Bearing S",
                quantity=2,
                unit_price=Money("10.50", "USD"),
                tax=Money("1.84", "USD"),
                shipping=Money("4.99", "USD"),
                shipping_tax=Money("0.40", "USD"),
                promotion_discount=Money("1.00", "USD"),
            ),
            OrderLine(line_id="40000000002", sku="HEX-M-0002", quantity=1, unit_price=Money("3.99", "USD")),
        ),
        buyer=Party(name="Jane Doe", email="jane@example.com", purchase_order_number="PO-7"),
        ship_to=Address(
            name="Jane Doe",
            company="ACME Corp",
            line1="1 Main Street",
            line2="Suite 5",
            city="Seattle",
            state="WA",
            postal_code="98101",
            country_code="US",
            phone="+1 206 555 0100",
            address_type="COMMERCIAL",
        ),
        order_total=Money("31.38", "USD"),
        service_level="Std US D2D Dom",
        is_prime=True,
    )


def shipment() -> Shipment:
    return Shipment(
        shipment_id="3000001",
        order_id="111-1234567-1234567",
        source="m3",
        shipped_at=NOW,
        lines=(ShipmentLine(line_id="40000000001", sku="BALL-S-0001", quantity=2, item_number="IT000001"),),
        packages=(Package(carrier="UPS", tracking_number="1Z999", ship_method="Ground"),),
    )


def invoice() -> Invoice:
    return Invoice(
        invoice_number="100000001",
        issued_on=NOW.date(),
        currency="EUR",
        order_id="302-1234567-1234567",
        seller_order_number="1000000001",
        customer_number="AMZDE",
        delivery_number="3000001",
        due_on=NOW.date() + dt.timedelta(days=30),
        lines=(
            InvoiceLine(
                line_id="1",
                item_number="IT1",
                sku="S1",
                quantity=Decimal(2),
                net_amount=Money("20.00", "EUR"),
            ),
            InvoiceLine(
                line_id="2", item_number="IT2", quantity=Decimal("1.5"), net_amount=Money("3.33", "EUR")
            ),
        ),
        net_total=Money("23.33", "EUR"),
        tax_total=Money("4.43", "EUR"),
        total=Money("27.76", "EUR"),
    )


def positions() -> list[InventoryPosition]:
    return [
        InventoryPosition(
            item_number=f"IT{n}",
            sku=f"S{n}",
            location="100",
            on_hand=Decimal(10 * n),
            allocated=Decimal(n),
            as_of=NOW,
            source="m3",
        )
        for n in (1, 2)
    ]


def adjustment() -> InventoryAdjustment:
    return InventoryAdjustment(
        adjustment_id="ADJ-1",
        item_number="IT1",
        location="100",
        quantity=Decimal(-3),
        reason="DMG",
        adjusted_at=NOW,
    )


def items() -> list[Item]:
    return [
        Item(
            item_number="IT1",
            name="Ball Bearing",
            description="Long text",
            status="20",
            unit_of_measure="PCS",
            gtin="05012345678900",
            aliases=("BALL-S-0001", "BALL-ALT"),
        ),
        Item(item_number="IT2", status="90"),
    ]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<SyncShipment xmlns="http://schema.infor.com/InforOAGIS/2"><ApplicationArea><BODID>&lol9;</BODID>
</ApplicationArea><DataArea/></SyncShipment>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE SyncShipment [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<SyncShipment xmlns="http://schema.infor.com/InforOAGIS/2"><ApplicationArea><BODID>&xxe;</BODID>
</ApplicationArea><DataArea/></SyncShipment>"""

XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<x/>"""

MALFORMED = b"<SyncShipment xmlns='http://schema.infor.com/InforOAGIS/2'><ApplicationArea></SyncShipment>"

WRONG_NAMESPACE = b"""<SyncShipment xmlns="http://www.openapplications.org/oagis/9">
<ApplicationArea><BODID>x</BODID></ApplicationArea><DataArea/></SyncShipment>"""
