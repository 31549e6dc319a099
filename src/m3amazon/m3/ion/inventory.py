"""InventoryCount (Sync) <-> InventoryPosition; InventoryAdjustment (Sync/Process) <-> InventoryAdjustment.

InventoryCount: one noun per BOD with a header (DocumentID/ID, DocumentDateTime = as of) and one
InventoryCountLine per item and location: Item/ItemID/ID (M3 item), Item/CustomerItemID/ID (SKU),
Site/ID (warehouse), Quantity (on hand), AllocatedQuantity, ReservedQuantity, InboundQuantity
(the last three are not OAGIS names: M3's own set is UNVERIFIED; they are read when present).

InventoryAdjustment: one noun per adjustment: header DocumentID/ID (`adjustment_id`),
DocumentDateTime, ReasonCode; one InventoryAdjustmentLine with Item, Site/ID and a signed
Quantity. A noun with several lines gives one adjustment per line, `{id}-{LineNumber}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from lxml import etree

from m3amazon.canonical import InventoryAdjustment, InventoryPosition
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


def _item(parent: etree._Element, item_number: str | None, sku: str | None) -> None:
    item = sub(parent, "Item")
    optional(item, "ItemID/ID", item_number)
    optional(item, "CustomerItemID/ID", sku)


def _quantity(node: etree._Element, name: str, where: str) -> Decimal:
    value = text(node, name)
    return Decimal(0) if value is None else decimal(value, f"{where}: {name}")


def encode_count(data: etree._Element, positions: list[Any]) -> None:
    noun = sub(data, "InventoryCount")
    header = sub(noun, "InventoryCountHeader")
    first = positions[0]
    sub_path(header, "DocumentID/ID", f"{first.location}-{first.as_of:%Y%m%d%H%M%S}")
    sub(header, "DocumentDateTime", max(p.as_of for p in positions))
    for position in positions:
        assert isinstance(position, InventoryPosition)
        line = sub(noun, "InventoryCountLine")
        _item(line, position.item_number, position.sku)
        sub_path(line, "Site/ID", position.location)
        sub(line, "Quantity", position.on_hand, unitCode="EA")
        for name, value in (
            ("AllocatedQuantity", position.allocated),
            ("ReservedQuantity", position.reserved),
            ("InboundQuantity", position.inbound),
        ):
            if value:
                sub(line, name, value, unitCode="EA")
        sub(line, "LastModificationDateTime", position.as_of)
        user_area(line, {"source": position.source})


def decode_count(noun: etree._Element) -> Sequence[InventoryPosition]:
    header = find(noun, "InventoryCountHeader")
    as_of = timestamp(text(header, "DocumentDateTime"), "InventoryCountHeader: DocumentDateTime")
    positions = []
    for index, line in enumerate(find_all(noun, "InventoryCountLine"), start=1):
        where = f"InventoryCountLine {index}"
        stamp = (
            timestamp(text(line, "LastModificationDateTime"), f"{where}: LastModificationDateTime") or as_of
        )
        if stamp is None:
            raise BodError("BOD_INVALID", f"{where}: no DocumentDateTime or LastModificationDateTime")
        item_number, sku = text(line, "Item/ItemID/ID"), text(line, "Item/CustomerItemID/ID")
        if not (item_number or sku):
            raise BodError("BOD_INVALID", f"{where}: Item/ItemID/ID or Item/CustomerItemID/ID is needed")
        positions.append(
            InventoryPosition(
                item_number=item_number,
                sku=sku,
                location=required(line, "Site/ID", where),
                on_hand=decimal(required(line, "Quantity", where), f"{where}: Quantity"),
                allocated=_quantity(line, "AllocatedQuantity", where),
                reserved=_quantity(line, "ReservedQuantity", where),
                inbound=_quantity(line, "InboundQuantity", where),
                as_of=stamp,
                source=user_values(line).get("source", "m3"),
            )
        )
    if not positions:
        raise BodError("BOD_INVALID", "InventoryCount has no InventoryCountLine")
    return positions


def encode_adjustment(data: etree._Element, adjustments: list[Any]) -> None:
    for adjustment in adjustments:
        assert isinstance(adjustment, InventoryAdjustment)
        noun = sub(data, "InventoryAdjustment")
        header = sub(noun, "InventoryAdjustmentHeader")
        sub_path(header, "DocumentID/ID", adjustment.adjustment_id)
        sub(header, "DocumentDateTime", adjustment.adjusted_at)
        optional(header, "ReasonCode", adjustment.reason)
        line = sub(noun, "InventoryAdjustmentLine")
        _item(line, adjustment.item_number, adjustment.sku)
        sub_path(line, "Site/ID", adjustment.location)
        sub(line, "Quantity", adjustment.quantity, unitCode="EA")


def decode_adjustment(noun: etree._Element) -> Sequence[InventoryAdjustment]:
    header = find(noun, "InventoryAdjustmentHeader")
    if header is None:
        raise BodError("BOD_INVALID", "InventoryAdjustment: InventoryAdjustmentHeader is missing")
    document_id = required(header, "DocumentID/ID", "InventoryAdjustmentHeader")
    stamp = timestamp(required(header, "DocumentDateTime", document_id), f"{document_id}: DocumentDateTime")
    assert stamp is not None
    lines = find_all(noun, "InventoryAdjustmentLine")
    if not lines:
        raise BodError("BOD_INVALID", f"InventoryAdjustment {document_id} has no InventoryAdjustmentLine")
    out = []
    for index, line in enumerate(lines, start=1):
        where = f"InventoryAdjustment {document_id} line {index}"
        number = text(line, "LineNumber") or str(index)
        out.append(
            InventoryAdjustment(
                adjustment_id=document_id if len(lines) == 1 else f"{document_id}-{number}",
                item_number=text(line, "Item/ItemID/ID"),
                sku=text(line, "Item/CustomerItemID/ID"),
                location=required(line, "Site/ID", where),
                quantity=decimal(required(line, "Quantity", where), f"{where}: Quantity"),
                reason=text(header, "ReasonCode"),
                adjusted_at=stamp,
            )
        )
    return out


bod.register(
    bod.NounCodec(
        noun="InventoryCount",
        verbs=("Sync",),
        model=InventoryPosition,
        decode=decode_count,
        encode=encode_count,
        document_id=lambda position: f"{position.location}-{position.as_of:%Y%m%d%H%M%S}",
    )
)
bod.register(
    bod.NounCodec(
        noun="InventoryAdjustment",
        verbs=("Sync", "Process"),
        model=InventoryAdjustment,
        decode=decode_adjustment,
        encode=encode_adjustment,
        document_id=lambda adjustment: adjustment.adjustment_id,
    )
)
