"""Notification bodies other than ORDER_CHANGE (see notify.py), as Amazon sends them to SQS.

Each follows its schema in schemas/notifications/ (a reference test validates every kind):
- PascalCase envelopes, version 1.0: FBA_INVENTORY_AVAILABILITY_CHANGES (fields directly under
  `Payload`, no NotificationMetadata, as its schema declares none), FULFILLMENT_ORDER_STATUS,
  FBA_OUTBOUND_SHIPMENT_STATUS, LISTINGS_ITEM_MFN_QUANTITY_CHANGE;
- camelCase envelopes, version 2020-09-04: REPORT_PROCESSING_FINISHED, FEED_PROCESSING_FINISHED.
FULFILLMENT_ORDER_STATUS: the schema's values are placeholders (research §5.3); the simulator
sends EventType "Order" for status changes and "Shipment" when a shipment changes, the order
status in MCF's spelling, and the shipment block only when there is a shipment.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from m3amazon.sim.amazon.inventory import StockLevel
from m3amazon.sim.amazon.mcf import McfOrder
from m3amazon.sim.catalog import CatalogItem


def ms(moment: datetime) -> str:
    """Notification timestamps carry milliseconds: 2020-01-11T00:09:53.109Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _metadata(
    application_id: str, subscription_id: str, published: datetime, *, camel: bool
) -> dict[str, str]:
    fields = {
        "ApplicationId": application_id,
        "SubscriptionId": subscription_id,
        "PublishTime": ms(published),
        "NotificationId": str(uuid.uuid4()),
    }
    return {k[0].lower() + k[1:]: v for k, v in fields.items()} if camel else fields


def _pascal(
    kind: str, payload: dict[str, Any], application_id: str, subscription_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "NotificationVersion": "1.0",
        "NotificationType": kind,
        "PayloadVersion": "1.0",
        "EventTime": ms(now),
        "Payload": payload,
        "NotificationMetadata": _metadata(application_id, subscription_id, now, camel=False),
    }


def _camel(
    kind: str, payload: dict[str, Any], application_id: str, subscription_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "notificationVersion": "2020-09-04",
        "notificationType": kind,
        "payloadVersion": "2020-09-04",
        "eventTime": ms(now),
        "payload": payload,
        "notificationMetadata": _metadata(application_id, subscription_id, now, camel=True),
    }


def inventory_changed(
    seller_id: str, item: CatalogItem, levels: dict[str, tuple[StockLevel, int]], now: datetime
) -> dict[str, Any]:
    """FBA_INVENTORY_AVAILABILITY_CHANGES for one SKU; `levels`: marketplace -> (level, reserved)."""
    markets = []
    for marketplace, (level, reserved) in sorted(levels.items()):
        markets.append(
            {
                "MarketplaceId": marketplace,
                "ItemName": item.title,
                "FulfillmentInventory": {
                    "InboundQuantityBreakdown": {
                        "Working": level.working,
                        "Shipped": level.shipped,
                        "Receiving": level.receiving,
                    },
                    "Fulfillable": max(0, level.on_hand - reserved),
                    "Unfulfillable": level.unfulfillable,
                    "Researching": level.researching,
                    "ReservedQuantityBreakdown": {
                        "WarehouseProcessing": 0,
                        "WarehouseTransfer": 0,
                        "PendingCustomerOrder": min(reserved, level.on_hand),
                    },
                    "FutureSupplyBuyable": 0,
                    "PendingCustomerOrderInTransit": 0,
                },
                "Stores": [],
            }
        )
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES",
        "PayloadVersion": "1.0",
        "EventTime": ms(now),
        "Payload": {
            "SellerId": seller_id,
            "FNSKU": item.fnsku,
            "ASIN": item.asin,
            "SKU": item.sku,
            "FulfillmentInventoryByMarketplace": markets,
        },
    }


def fulfillment_order_status(
    seller_id: str,
    order: McfOrder,
    application_id: str,
    subscription_id: str,
    now: datetime,
    *,
    shipment: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "SellerId": seller_id,
        "EventType": "Shipment" if shipment else "Order",
        "StatusUpdatedDateTime": ms(order.status_updated),
        "SellerFulfillmentOrderId": order.request_id,
        "FulfillmentOrderStatus": order.status,
    }
    if order.shipments:
        first = order.shipments[0]
        packages = [
            {
                "PackageNumber": p["packageNumber"],
                "CarrierCode": p["carrierCode"],
                "TrackingNumber": p["trackingNumber"],
            }
            for p in first.packages
        ]
        body["FulfillmentShipment"] = {
            "FulfillmentShipmentStatus": first.status,
            "AmazonShipmentId": first.shipment_id,
            "EstimatedArrivalDateTime": ms(first.estimated_arrival),
            "FulfillmentShipmentPackages": packages,
        }
        if packages:
            body["FulfillmentShipment"]["info"] = packages[0]
    return _pascal(
        "FULFILLMENT_ORDER_STATUS",
        {"FulfillmentOrderStatusNotification": body},
        application_id,
        subscription_id,
        now,
    )


def outbound_shipment_status(
    seller_id: str,
    order_id: str,
    shipment_id: str,
    status: str,
    application_id: str,
    subscription_id: str,
    now: datetime,
) -> dict[str, Any]:
    body = {
        "SellerId": seller_id,
        "AmazonOrderId": order_id,
        "AmazonShipmentId": shipment_id,
        "ShipmentStatus": status,
    }
    return _pascal(
        "FBA_OUTBOUND_SHIPMENT_STATUS",
        {"FBAOutboundShipmentStatusNotification": body},
        application_id,
        subscription_id,
        now,
    )


def listing_quantity_changed(
    seller_id: str, sku: str, quantity: int, application_id: str, subscription_id: str, now: datetime
) -> dict[str, Any]:
    payload = {"SellerId": seller_id, "FulfillmentChannelCode": "DEFAULT", "Sku": sku, "Quantity": quantity}
    return _pascal("LISTINGS_ITEM_MFN_QUANTITY_CHANGE", payload, application_id, subscription_id, now)


def report_finished(
    seller_id: str, report: dict[str, Any], application_id: str, subscription_id: str, now: datetime
) -> dict[str, Any]:
    return _finished(
        "REPORT",
        report,
        ("reportId", "reportType", "reportDocumentId"),
        application_id,
        subscription_id,
        seller_id,
        now,
    )


def feed_finished(
    seller_id: str, feed: dict[str, Any], application_id: str, subscription_id: str, now: datetime
) -> dict[str, Any]:
    return _finished(
        "FEED",
        feed,
        ("feedId", "feedType", "resultFeedDocumentId"),
        application_id,
        subscription_id,
        seller_id,
        now,
    )


def _finished(
    kind: str,
    rendered: dict[str, Any],
    keys: tuple[str, str, str],
    application_id: str,
    subscription_id: str,
    seller_id: str,
    now: datetime,
) -> dict[str, Any]:
    """REPORT_/FEED_PROCESSING_FINISHED from the rendered Report or Feed (same camelCase keys)."""
    ident, type_key, document_key = keys
    body = {
        "sellerId": seller_id,
        "accountId": f"amzn1.merchant.o.{seller_id}",
        ident: rendered[ident],
        type_key: rendered[type_key],
        "processingStatus": rendered["processingStatus"],
    }
    if rendered.get(document_key):
        body[document_key] = rendered[document_key]
    wrapper = f"{kind.lower()}ProcessingFinishedNotification"
    return _camel(f"{kind}_PROCESSING_FINISHED", {wrapper: body}, application_id, subscription_id, now)
