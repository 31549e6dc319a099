"""Orders API v0 `confirmShipment`: tell Amazon that the seller shipped (part of) an MFN order.

The library's `OrdersV0.confirm_shipment` sends exactly the model's request, so it is used as is.
Idempotency: Amazon refuses to confirm items that are already shipped, and a step may run twice
after a crash, so `ensure_confirmed` first reads the order's packages (Orders v2026-01-01 getOrder
with includedData=PACKAGES) and skips a package Amazon already has (same tracking number).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sp_api.asyncio.api import Orders

from m3amazon.amazon.api._base import ApiBase
from m3amazon.amazon.gateway import GET_ORDER
from m3amazon.amazon.models.orders_v0 import ConfirmShipmentRequest
from m3amazon.amazon.translate.orders_v0 import confirm_shipment_request
from m3amazon.canonical import Shipment

CONFIRM_SHIPMENT = "confirmShipment"


@dataclass(frozen=True)
class ConfirmOutcome:
    order_id: str
    tracking_number: str
    #: False when Amazon already had this package (a retried step), True when we confirmed it now.
    confirmed_now: bool


class OrdersV0Api(ApiBase):
    library = Orders
    library_version = "v0"

    async def confirm_shipment(self, order_id: str, request: ConfirmShipmentRequest) -> None:
        """One confirmShipment call (204 No Content when Amazon accepts it)."""
        body = request.to_json()
        await self.call(CONFIRM_SHIPMENT, lambda: self.client.confirm_shipment(order_id, **body))

    async def packages(self, order_id: str) -> list[dict[str, Any]]:
        """The packages Amazon knows for an MFN order (Orders v2026-01-01, includedData=PACKAGES)."""
        orders = self.gateway._orders
        response = await self.call(GET_ORDER, lambda: orders.get_order(order_id, includedData="PACKAGES"))
        order = response.payload.get("order") if isinstance(response.payload, dict) else None
        packages = order.get("packages") if isinstance(order, dict) else None
        return [p for p in packages or [] if isinstance(p, dict)]

    async def ensure_confirmed(self, shipment: Shipment, marketplace_id: str) -> ConfirmOutcome:
        """Confirm `shipment` unless Amazon already has its package (looked up by tracking number)."""
        request = confirm_shipment_request(shipment, marketplace_id)
        tracking = request.package_detail.tracking_number
        known = {p.get("trackingNumber") for p in await self.packages(shipment.order_id)}
        if tracking in known:
            return ConfirmOutcome(shipment.order_id, tracking, confirmed_now=False)
        await self.confirm_shipment(shipment.order_id, request)
        return ConfirmOutcome(shipment.order_id, tracking, confirmed_now=True)
