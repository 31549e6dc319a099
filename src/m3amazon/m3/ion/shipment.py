"""Shipment (Sync) <-> canonical Shipment.

ShipmentHeader/DocumentID/ID = `shipment_id` (M3's delivery number, DLIX); ActualShipDateTime =
`shipped_at`; SalesOrderReference/DocumentID/ID = `order_id` (the customer's order number, CUOR,
when M3 has one: the Amazon order id). One ShipmentItem per line: ItemID/ID = M3 item number,
CustomerItemID/ID = `sku`, ShippedQuantity, SalesOrderReference/LineNumber = `line_id`. One
ShipUnit per package: CarrierParty/PartyIDs/ID, TrackingID, TransportationMethodCode. The header's
UserArea carries `source` ('m3', 'fba', 'mcf').
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree

from m3amazon.canonical import Package, Shipment, ShipmentLine
from m3amazon.m3.ion import bod
from m3amazon.m3.ion.sales_order import user_area, user_values
from m3amazon.m3.ion.xml import (
    BodError,
    decimal,
    find,
    find_all,
    optional,
    required,
    sub,
    sub_path,
    text,
    timestamp,
)


def encode(data: etree._Element, shipments: list[Any]) -> None:
    for shipment in shipments:
        assert isinstance(shipment, Shipment)
        noun = sub(data, "Shipment")
        header = sub(noun, "ShipmentHeader")
        sub_path(header, "DocumentID/ID", shipment.shipment_id)
        sub(header, "ActualShipDateTime", shipment.shipped_at)
        sub_path(header, "SalesOrderReference/DocumentID/ID", shipment.order_id)
        user_area(header, {"source": shipment.source})
        for line in shipment.lines:
            item = sub(noun, "ShipmentItem")
            optional(item, "ItemID/ID", line.item_number)
            sub_path(item, "CustomerItemID/ID", line.sku)
            sub(item, "ShippedQuantity", line.quantity, unitCode="EA")
            reference = sub(item, "SalesOrderReference")
            sub_path(reference, "DocumentID/ID", shipment.order_id)
            optional(reference, "LineNumber", line.line_id)
        for package in shipment.packages:
            unit = sub(noun, "ShipUnit")
            optional(unit, "CarrierParty/PartyIDs/ID", package.carrier)
            optional(unit, "TrackingID", package.tracking_number)
            optional(unit, "TransportationMethodCode", package.ship_method)


def decode(noun: etree._Element) -> Sequence[Shipment]:
    header = find(noun, "ShipmentHeader")
    if header is None:
        raise BodError("BOD_INVALID", "Shipment: ShipmentHeader is missing")
    where = "ShipmentHeader"
    shipment_id = required(header, "DocumentID/ID", where)
    lines = []
    for index, item in enumerate(find_all(noun, "ShipmentItem"), start=1):
        here = f"Shipment {shipment_id} item {index}"
        quantity = decimal(required(item, "ShippedQuantity", here), f"{here}: ShippedQuantity")
        if quantity != quantity.to_integral_value():
            raise BodError("BOD_INVALID", f"{here}: ShippedQuantity must be a whole number")
        sku = text(item, "CustomerItemID/ID") or text(item, "ItemID/ID")
        if sku is None:
            raise BodError("BOD_INVALID", f"{here}: neither CustomerItemID/ID nor ItemID/ID is given")
        lines.append(
            ShipmentLine(
                line_id=text(item, "SalesOrderReference/LineNumber"),
                sku=sku,
                quantity=int(quantity),
                item_number=text(item, "ItemID/ID"),
            )
        )
    order_id = text(header, "SalesOrderReference/DocumentID/ID") or next(
        (text(item, "SalesOrderReference/DocumentID/ID") for item in find_all(noun, "ShipmentItem")), None
    )
    if order_id is None:
        raise BodError("BOD_INVALID", f"Shipment {shipment_id}: no SalesOrderReference")
    shipped = timestamp(required(header, "ActualShipDateTime", where), f"{where}: ActualShipDateTime")
    packages = tuple(
        Package(
            carrier=text(unit, "CarrierParty/PartyIDs/ID"),
            tracking_number=text(unit, "TrackingID"),
            ship_method=text(unit, "TransportationMethodCode"),
        )
        for unit in find_all(noun, "ShipUnit")
    )
    return [
        Shipment(
            shipment_id=shipment_id,
            order_id=order_id,
            source=user_values(header).get("source", "m3"),
            shipped_at=shipped,
            lines=tuple(lines),
            packages=packages,
        )
    ]


bod.register(
    bod.NounCodec(
        noun="Shipment",
        verbs=("Sync",),
        model=Shipment,
        decode=decode,
        encode=encode,
        document_id=lambda shipment: shipment.shipment_id,
    )
)
