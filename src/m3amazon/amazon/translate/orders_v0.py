"""Canonical `Shipment` -> Orders API v0 `confirmShipment` body. Pure: no I/O, no clock.

Rules (and why):
- One confirmation describes one package, so a shipment must carry exactly one package with a
  tracking number; a multi-package delivery is confirmed one package (one Shipment) at a time.
- `packageReferenceId` must be a positive number unique within the order (model text). It is the
  shipment id when that is numeric, else a number derived from the shipment id by hashing, so a
  retried confirmation of the same shipment always sends the same reference.
- `carrierCode`: Amazon checks it against its carrier list. Carriers we know are sent as their
  code; anything else is sent as "Other" with the name in `carrierName`, which the model requires
  for "Other".
- Lines need Amazon's orderItemId (`line_id`), which the order flow stored when it created the
  M3 order.
"""

from __future__ import annotations

import hashlib

from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.models.orders_v0 import ConfirmShipmentOrderItem, ConfirmShipmentRequest, PackageDetail
from m3amazon.canonical import Shipment

OTHER_CARRIER = "Other"
#: Carrier codes Amazon lists for shipment confirmations that M3 carrier names map to directly.
#: A subset (the full list is per marketplace and not in the models): others go as "Other".
KNOWN_CARRIERS = {
    name.casefold(): name
    for name in (
        "UPS",
        "USPS",
        "FedEx",
        "DHL",
        "DHL eCommerce",
        "DPD",
        "GLS",
        "Hermes",
        "Royal Mail",
        "Canada Post",
        "Deutsche Post",
        "La Poste",
        "Colissimo",
        "Chronopost",
        "Poste Italiane",
        "BRT",
        "SEUR",
        "Correos",
        "Amazon Shipping",
    )
}


def package_reference(shipment_id: str) -> str:
    """A positive numeric reference that is stable for `shipment_id`."""
    if shipment_id.isdigit() and int(shipment_id) > 0:
        return str(int(shipment_id))
    digest = hashlib.sha256(shipment_id.encode()).hexdigest()
    return str(int(digest[:12], 16) % 999_999_999 + 1)


def carrier_fields(carrier: str | None) -> tuple[str, str | None]:
    """(carrierCode, carrierName) for a carrier as M3 names it."""
    if not carrier or not carrier.strip():
        raise AmazonTranslationError("SHIPMENT_WITHOUT_CARRIER", "the package has no carrier")
    known = KNOWN_CARRIERS.get(carrier.strip().casefold())
    return (known, None) if known else (OTHER_CARRIER, carrier.strip())


def confirm_shipment_request(shipment: Shipment, marketplace_id: str) -> ConfirmShipmentRequest:
    """The confirmShipment body for `shipment` (raises AmazonTranslationError when it cannot be)."""

    def fail(reason: str, message: str) -> AmazonTranslationError:
        return AmazonTranslationError(
            reason,
            f"shipment {shipment.shipment_id} of order {shipment.order_id}: {message}",
            order_id=shipment.order_id,
            payload=shipment.model_dump(mode="json"),
        )

    if len(shipment.packages) != 1:
        raise fail(
            "SHIPMENT_PACKAGE_COUNT",
            f"has {len(shipment.packages)} packages; Amazon confirms one package per call",
        )
    package = shipment.packages[0]
    if not package.tracking_number:
        raise fail("SHIPMENT_WITHOUT_TRACKING", "the package has no tracking number")
    try:
        code, name = carrier_fields(package.carrier)
    except AmazonTranslationError as exc:
        raise fail(exc.reason, exc.message) from None
    missing = [line.sku for line in shipment.lines if not line.line_id]
    if missing:
        raise fail("SHIPMENT_LINE_WITHOUT_ITEM_ID", f"lines without Amazon orderItemId: {', '.join(missing)}")
    return ConfirmShipmentRequest(
        marketplace_id=marketplace_id,
        package_detail=PackageDetail(
            package_reference_id=package_reference(shipment.shipment_id),
            carrier_code=code,
            carrier_name=name,
            shipping_method=package.ship_method,
            tracking_number=package.tracking_number,
            ship_date=shipment.shipped_at,
            order_items=[
                ConfirmShipmentOrderItem(order_item_id=str(line.line_id), quantity=line.quantity)
                for line in shipment.lines
            ],
        ),
    )
