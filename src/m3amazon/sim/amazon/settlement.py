"""The V2 flat-file settlement report (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2) of a closed
financial event group.

Layout (research §11): one tab-separated header line with the 24 columns below, then the summary
row (settlement id, period, deposit date, total, currency; transaction columns empty), then one
row per amount, classified by transaction-type / amount-type / amount-description. Amounts use the
marketplace's local format: a decimal comma in the EU marketplaces ("95,00"). Dates are written as
the V2 format notice describes them: `YYYY-MM-DD HH:MM:SS UTC`, and `posted-date` as MM/DD/YY.
EU files are encoded in Windows-1252, the others in UTF-8 (which one Amazon uses per marketplace is
unverified; the product's reader copes with both).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from m3amazon.amazon.endpoints import MARKETPLACES
from m3amazon.sim.amazon.finances import EventGroup
from m3amazon.sim.catalog import MARKETPLACES as SIM_MARKETPLACES

COLUMNS = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "amount-type",
    "amount-description",
    "amount",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
    "promotion-id",
)
_AMOUNT_TYPES = {"charge": "ItemPrice", "fee": "ItemFees", "promotion": "Promotion"}
_DESCRIPTIONS = {"ShippingCharge": "Shipping"}


def decimal_comma(marketplace_id: str) -> bool:
    market = SIM_MARKETPLACES.get(marketplace_id)
    return bool(market and market.decimal_comma)


def amount_text(amount: Decimal, comma: bool) -> str:
    text = format(amount.quantize(Decimal("0.01")), "f")
    return text.replace(".", ",") if comma else text


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def settlement_text(group: EventGroup) -> str:
    """The report's text for a closed group."""
    assert group.closed and group.end is not None and group.fund_transfer_date is not None
    comma = decimal_comma(group.marketplace_id)
    market = MARKETPLACES[group.marketplace_id].domain
    settlement_id = group.settlement_id or group.group_id
    empty = dict.fromkeys(COLUMNS, "")
    rows = [
        empty
        | {
            "settlement-id": settlement_id,
            "settlement-start-date": _stamp(group.start),
            "settlement-end-date": _stamp(group.end),
            "deposit-date": _stamp(group.fund_transfer_date),
            "total-amount": amount_text(group.total.amount, comma),
            "currency": group.currency,
        }
    ]
    for event in group.events:
        for item in event.items:
            for component in item.components:
                rows.append(
                    empty
                    | {
                        "settlement-id": settlement_id,
                        "transaction-type": event.kind,
                        "order-id": event.order_id,
                        "adjustment-id": event.adjustment_id or "",
                        "shipment-id": event.shipment_id,
                        "marketplace-name": market,
                        "amount-type": _AMOUNT_TYPES[component.kind],
                        "amount-description": _DESCRIPTIONS.get(component.name, component.name),
                        "amount": amount_text(component.amount.amount, comma),
                        "fulfillment-id": event.fulfillment,
                        "posted-date": event.posted.strftime("%m/%d/%y"),
                        "posted-date-time": _stamp(event.posted),
                        "order-item-code": item.order_item_id,
                        "sku": item.sku,
                        "quantity-purchased": str(item.quantity),
                        "promotion-id": f"PROMO-{item.order_item_id[-6:]}"
                        if component.kind == "promotion"
                        else "",
                    }
                )
    lines = ["\t".join(COLUMNS)] + ["\t".join(row[c] for c in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def settlement_bytes(group: EventGroup) -> bytes:
    encoding = "cp1252" if decimal_comma(group.marketplace_id) else "utf-8"
    return settlement_text(group).encode(encoding, errors="replace")
