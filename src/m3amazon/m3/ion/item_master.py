"""ItemMaster (Sync) <-> canonical Item: one ItemMaster noun per item (Sync ItemMaster carries 1..n).

ItemMasterHeader: ItemID/ID = `item_number`, GTIN, Description (type Short = name, Long =
description), ItemStatus/Code = M3 status, BaseUOMCode, CustomerItemID/ID (repeated) = aliases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree

from m3amazon.canonical import Item
from m3amazon.m3.ion import bod
from m3amazon.m3.ion.xml import BodError, clean, find, find_all, optional, required, sub, sub_path, text


def encode(data: etree._Element, items: list[Any]) -> None:
    for item in items:
        assert isinstance(item, Item)
        header = sub(sub(data, "ItemMaster"), "ItemMasterHeader")
        sub_path(header, "ItemID/ID", item.item_number)
        optional(header, "GTIN", item.gtin)
        if item.name:
            sub(header, "Description", item.name, type="Short")
        if item.description:
            sub(header, "Description", item.description, type="Long")
        optional(header, "ItemStatus/Code", item.status)
        optional(header, "BaseUOMCode", item.unit_of_measure)
        for alias in item.aliases:
            sub_path(header, "CustomerItemID/ID", alias)


def decode(noun: etree._Element) -> Sequence[Item]:
    header = find(noun, "ItemMasterHeader")
    if header is None:
        raise BodError("BOD_INVALID", "ItemMaster: ItemMasterHeader is missing")
    descriptions = {
        node.get("type", "Short"): clean(node.text) or "" for node in find_all(header, "Description")
    }
    return [
        Item(
            item_number=required(header, "ItemID/ID", "ItemMasterHeader"),
            name=descriptions.get("Short") or None,
            description=descriptions.get("Long") or None,
            status=text(header, "ItemStatus/Code"),
            unit_of_measure=text(header, "BaseUOMCode"),
            gtin=text(header, "GTIN"),
            aliases=tuple(
                value for node in find_all(header, "CustomerItemID") if (value := text(node, "ID"))
            ),
        )
    ]


bod.register(
    bod.NounCodec(
        noun="ItemMaster",
        verbs=("Sync",),
        model=Item,
        decode=decode,
        encode=encode,
        document_id=lambda item: item.item_number,
    )
)
