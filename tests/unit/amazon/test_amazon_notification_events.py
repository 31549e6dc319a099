"""Every notification type the product handles becomes its canonical event; bad ones say why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from m3amazon.amazon.describe import describe_notification
from m3amazon.amazon.notifications import NotificationError, parse_event
from m3amazon.canonical import (
    FeedProcessed,
    FulfillmentOrderStatusChanged,
    InventoryChanged,
    ListingQuantityChanged,
    OutboundShipmentStatusChanged,
    ReportProcessed,
)
from m3amazon.cli import app
from m3amazon.sim.amazon import envelopes
from m3amazon.sim.amazon.inventory import StockLevel
from m3amazon.sim.amazon.mcf import FulfillmentOrders
from m3amazon.sim.catalog import build_catalog

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ITEM = build_catalog(size=1)[0]


def _mcf_order() -> Any:
    orders = FulfillmentOrders()
    body = {
        "sellerFulfillmentOrderId": "MCF-7",
        "displayableOrderId": "MCF-7",
        "displayableOrderDate": "2026-03-01T00:00:00Z",
        "displayableOrderComment": "thanks",
        "shippingSpeedCategory": "Standard",
        "destinationAddress": {"name": "A", "addressLine1": "1 St", "postalCode": "1", "countryCode": "US"},
        "items": [{"sellerSku": ITEM.sku, "sellerFulfillmentOrderItemId": "1", "quantity": 1}],
    }
    order = orders.create(body, default_marketplace="ATVPDKIKX0DER", known=lambda _: True, now=NOW)
    for _ in range(3):
        orders.advance(order, NOW, lambda _: 10)
    return order


CASES: list[tuple[dict[str, Any], type, dict[str, Any]]] = [
    (
        envelopes.inventory_changed(
            "SELLER", ITEM, {"ATVPDKIKX0DER": (StockLevel(on_hand=9, working=2, shipped=1), 3)}, NOW
        ),
        InventoryChanged,
        {"sku": ITEM.sku, "fnsku": ITEM.fnsku},
    ),
    (
        envelopes.fulfillment_order_status("SELLER", _mcf_order(), "APP", "SUB", NOW, shipment=True),
        FulfillmentOrderStatusChanged,
        {"request_id": "MCF-7", "status": "Complete", "event_type": "Shipment", "shipment_status": "SHIPPED"},
    ),
    (
        envelopes.outbound_shipment_status("SELLER", "111-1", "D1", "Shipped", "APP", "SUB", NOW),
        OutboundShipmentStatusChanged,
        {"order_id": "111-1", "shipment_id": "D1", "status": "Shipped"},
    ),
    (
        envelopes.report_finished(
            "SELLER",
            {"reportId": "R1", "reportType": "T", "processingStatus": "DONE", "reportDocumentId": "D"},
            "A",
            "S",
            NOW,
        ),
        ReportProcessed,
        {"report_id": "R1", "processing_status": "DONE", "report_document_id": "D"},
    ),
    (
        envelopes.feed_finished(
            "SELLER",
            {"feedId": "F1", "feedType": "JSON_LISTINGS_FEED", "processingStatus": "FATAL"},
            "A",
            "S",
            NOW,
        ),
        FeedProcessed,
        {"feed_id": "F1", "processing_status": "FATAL", "result_document_id": None},
    ),
    (
        envelopes.listing_quantity_changed("SELLER", "SKU-9", 0, "APP", "SUB", NOW),
        ListingQuantityChanged,
        {"sku": "SKU-9", "quantity": 0, "fulfillment_channel_code": "DEFAULT"},
    ),
]


@pytest.mark.parametrize(("envelope", "kind", "expected"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_each_type_becomes_its_event(envelope: dict[str, Any], kind: type, expected: dict[str, Any]) -> None:
    notification, event = parse_event(json.dumps(envelope))
    assert isinstance(event, kind) and event.seller_id == "SELLER"
    assert event.model_dump(include=set(expected)) == expected
    assert event.notification_id == notification.notification_id and event.event_time is not None


def test_inventory_positions_carry_fulfillable_as_available() -> None:
    _, event = parse_event(json.dumps(CASES[0][0]))
    assert isinstance(event, InventoryChanged)
    (position,) = event.positions
    assert (position.on_hand, position.reserved, position.inbound, position.available) == (9, 3, 3, 6)
    assert event.notification_id.startswith("sha256:")  # no metadata: the body's hash is the key


def test_shipment_packages_come_along() -> None:
    _, event = parse_event(json.dumps(CASES[1][0]))
    assert isinstance(event, FulfillmentOrderStatusChanged)
    assert event.packages and event.packages[0].tracking_number


def _recase(node: Any, change: Any) -> Any:
    if isinstance(node, dict):
        return {change(k): _recase(v, change) for k, v in node.items()}
    if isinstance(node, list):
        return [_recase(v, change) for v in node]
    return node


@pytest.mark.parametrize("change", [str.lower, str.upper, lambda k: k[0].upper() + k[1:]])
def test_key_casing_does_not_matter(change: Any) -> None:
    for envelope, kind, _ in CASES:
        _, event = parse_event(json.dumps(_recase(envelope, change)))
        assert isinstance(event, kind)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e["Payload"].pop("SKU"), "MISSING_FIELD"),
        (
            lambda e: e["Payload"]["FulfillmentInventoryByMarketplace"][0].update(MarketplaceId=""),
            "MISSING_FIELD",
        ),
        (
            lambda e: e["Payload"]["FulfillmentInventoryByMarketplace"][0]["FulfillmentInventory"].update(
                Fulfillable="9"
            ),
            "WRONG_TYPE",
        ),
        (lambda e: e["Payload"].update(FulfillmentInventoryByMarketplace=[7]), "WRONG_TYPE"),
        (lambda e: e.update(NotificationType="LISTINGS_ITEM_ISSUES_CHANGE"), "UNSUPPORTED_NOTIFICATION"),
        (lambda e: e.update(EventTime="yesterday"), "BAD_TIMESTAMP"),
    ],
)
def test_broken_inventory_notifications_say_why(mutate: Any, reason: str) -> None:
    envelope = json.loads(json.dumps(CASES[0][0]))
    mutate(envelope)
    with pytest.raises(NotificationError) as caught:
        parse_event(json.dumps(envelope))
    assert caught.value.reason_code == reason and caught.value.message


def test_negative_listing_quantity_is_refused() -> None:
    envelope = envelopes.listing_quantity_changed("S", "SKU", 0, "A", "B", NOW)
    envelope["Payload"]["Quantity"] = -3
    with pytest.raises(NotificationError, match="negative"):
        parse_event(json.dumps(envelope))


def test_describe_gives_the_event_or_the_reason() -> None:
    good = describe_notification(json.dumps(CASES[2][0]))
    assert good["ok"] and good["event_type"] == "OutboundShipmentStatusChanged"
    assert (
        good["event"]["order_id"] == "111-1"
        and good["notification"]["type"] == "FBA_OUTBOUND_SHIPMENT_STATUS"
    )
    bad = describe_notification(b"\xff\xfe")
    assert not bad["ok"] and bad["error"]["reason_code"] == "INVALID_JSON"


def test_inspect_notification_command(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(CASES[5][0]), encoding="utf-8")
    bad.write_text('{"NotificationType": "ORDER_CHANGE", "Payload": {}}', encoding="utf-8")
    runner = CliRunner()
    shown = runner.invoke(app, ["inspect", "notification", str(good), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["event"]["sku"] == "SKU-9"
    refused = runner.invoke(app, ["inspect", "notification", str(bad)])
    assert refused.exit_code == 2 and "MISSING_FIELD" in refused.stderr
    missing = runner.invoke(app, ["inspect", "notification", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2
