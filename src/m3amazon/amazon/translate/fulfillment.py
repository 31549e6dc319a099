"""Multi-Channel Fulfillment (Fulfillment Outbound v2020-07-01) <-> canonical. Pure: no I/O.

- FulfillmentRequest -> CreateFulfillmentOrderRequest / GetFulfillmentPreviewRequest: the request
  id becomes `sellerFulfillmentOrderId` (the natural key: Amazon's create answers no id of its own),
  each line's id `sellerFulfillmentOrderItemId`; the comment defaults to the M3 order number,
  because the model requires one (it is printed on the packing slip). Declared values go through
  amazon.money (MCF's `{currencyCode, value}` shape).
- GetFulfillmentOrderResult -> FulfillmentProgress: statuses map case-insensitively
  ("CompletePartialled" -> COMPLETE_PARTIALLED); only SHIPPED shipments become canonical
  shipments (a PENDING one has not left the building), with Amazon's shipment id as their id and
  the order lines' ids as line ids.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import ValidationError

from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.models import fulfillment_2020 as mcf
from m3amazon.amazon.money import MoneyShape, parse_money, render_money
from m3amazon.canonical import (
    Address,
    FulfillmentLineProgress,
    FulfillmentProgress,
    FulfillmentRequest,
    FulfillmentStatus,
    Money,
    Package,
    Shipment,
    ShipmentLine,
)

SHIPPED = "SHIPPED"


def _fail(request_id: str, reason: str, message: str) -> AmazonTranslationError:
    return AmazonTranslationError(reason, f"fulfillment order {request_id}: {message}")


def address(ship_to: Address, request_id: str) -> mcf.Address:
    """MCF requires name, addressLine1, postalCode and countryCode (city everywhere but Japan)."""
    missing = [
        n
        for n, v in (("name", ship_to.name), ("line1", ship_to.line1), ("postal code", ship_to.postal_code))
        if not v
    ]
    if missing:
        raise _fail(request_id, "ADDRESS_INCOMPLETE", f"the delivery address has no {', '.join(missing)}")
    return mcf.Address(
        name=str(ship_to.name),
        address_line1=str(ship_to.line1),
        address_line2=ship_to.line2,
        address_line3=ship_to.line3,
        city=ship_to.city,
        district_or_county=ship_to.district,
        state_or_region=ship_to.state,
        postal_code=str(ship_to.postal_code),
        country_code=ship_to.country_code,
        phone=ship_to.phone,
    )


def _declared(value: Money | None) -> mcf.Money | None:
    if value is None:
        return None
    return mcf.Money.model_validate(render_money(MoneyShape.MCF_2020, value.rounded()))


def create_request(
    request: FulfillmentRequest, *, marketplace_id: str | None, ordered_at: datetime
) -> mcf.CreateFulfillmentOrderRequest:
    """The createFulfillmentOrder body for `request`; `ordered_at` is printed on the packing slip."""
    return mcf.CreateFulfillmentOrderRequest(
        marketplace_id=marketplace_id,
        seller_fulfillment_order_id=request.request_id,
        displayable_order_id=request.displayable_order_id,
        displayable_order_date=ordered_at,
        displayable_order_comment=request.comment or f"Order {request.m3_order_number}",
        shipping_speed_category=request.speed.value,
        destination_address=address(request.ship_to, request.request_id),
        fulfillment_action="Ship",
        fulfillment_policy=request.policy,
        items=[
            mcf.CreateFulfillmentOrderItem(
                seller_sku=line.sku,
                seller_fulfillment_order_item_id=line.line_id,
                quantity=line.quantity,
                per_unit_declared_value=_declared(line.declared_unit_value),
            )
            for line in request.lines
        ],
    )


def preview_request(
    request: FulfillmentRequest, *, marketplace_id: str | None
) -> mcf.GetFulfillmentPreviewRequest:
    """The getFulfillmentPreview body: can Amazon ship `request`, at what speed and cost?"""
    return mcf.GetFulfillmentPreviewRequest(
        marketplace_id=marketplace_id,
        address=address(request.ship_to, request.request_id),
        items=[
            mcf.GetFulfillmentPreviewItem(
                seller_sku=line.sku,
                quantity=line.quantity,
                seller_fulfillment_order_item_id=line.line_id,
                per_unit_declared_value=_declared(line.declared_unit_value),
            )
            for line in request.lines
        ],
        shipping_speed_categories=[request.speed.value],
    )


def preview_fees(preview: mcf.FulfillmentPreview) -> Money | None:
    """The estimated fees of a preview, summed (None when Amazon gave none)."""
    fees = [parse_money(MoneyShape.MCF_2020, fee.amount.to_json()) for fee in preview.estimated_fees or []]
    return Money.sum(fees, fees[0].currency) if fees else None


def status(value: str, request_id: str = "?") -> FulfillmentStatus:
    """MCF's FulfillmentOrderStatus ("CompletePartialled") in canonical spelling."""
    key = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", value.strip()).upper()
    try:
        return FulfillmentStatus(key)
    except ValueError:
        raise _fail(request_id, "UNKNOWN_STATUS", f"unknown fulfillmentOrderStatus {value[:40]!r}") from None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _shipment(order: mcf.GetFulfillmentOrderResult, shipment: mcf.FulfillmentShipment) -> Shipment:
    fo = order.fulfillment_order
    packages = tuple(
        Package(carrier=p.carrier_code, tracking_number=p.tracking_number)
        for p in shipment.fulfillment_shipment_package or []
    )
    return Shipment(
        shipment_id=shipment.amazon_shipment_id,
        order_id=fo.seller_fulfillment_order_id,
        source="mcf",
        shipped_at=_aware(shipment.shipping_date or fo.status_updated_date),
        lines=tuple(
            ShipmentLine(
                line_id=item.seller_fulfillment_order_item_id, sku=item.seller_sku, quantity=item.quantity
            )
            for item in shipment.fulfillment_shipment_item
            if item.quantity > 0
        ),
        packages=packages,
    )


def progress(order: mcf.GetFulfillmentOrderResult) -> FulfillmentProgress:
    """What Amazon reports about a fulfillment order, in canonical form."""
    fo = order.fulfillment_order
    request_id = fo.seller_fulfillment_order_id
    try:
        return FulfillmentProgress(
            request_id=request_id,
            status=status(fo.fulfillment_order_status, request_id),
            status_updated_at=_aware(fo.status_updated_date),
            lines=tuple(
                FulfillmentLineProgress(
                    line_id=item.seller_fulfillment_order_item_id,
                    sku=item.seller_sku,
                    quantity=item.quantity,
                    cancelled=item.cancelled_quantity,
                    unfulfillable=item.unfulfillable_quantity,
                )
                for item in order.fulfillment_order_items
            ),
            shipments=tuple(
                _shipment(order, s)
                for s in order.fulfillment_shipments or []
                if s.fulfillment_shipment_status.upper() == SHIPPED and s.fulfillment_shipment_item
            ),
        )
    except ValidationError as exc:
        raise _fail(request_id, "INVALID_FULFILLMENT_ORDER", str(exc.errors()[0].get("msg"))) from None
