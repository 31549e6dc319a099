"""Simulated notifications against the official notification schemas; the schemas' examples parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from amazon_reference import assert_valid, reference_dir, strict, validator

from m3amazon.amazon.notifications import parse_notification, to_order_changed
from m3amazon.canonical import OrderStatus
from m3amazon.sim.amazon.notify import ListPublisher, publish_order_changes
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount

pytestmark = pytest.mark.reference


def _schema_files() -> list[Path]:
    return sorted((reference_dir() / "amazon-sp-api" / "schemas" / "notifications").glob("*.json"))


def test_generated_order_changes_match_the_schema() -> None:
    schema = json.loads(
        (reference_dir() / "amazon-sp-api/schemas/notifications/OrderChangeNotification.json").read_text()
    )
    check = validator(strict(schema))
    account = SellerAccount(marketplaces=["ATVPDKIKX0DER", "A1PA6795UKMFR9", "A1F83G8C2ARO7P"])
    ids = generate_orders(account, 40, seed=8, afn_share=0.5, pending_share=0.2)
    for status, order_id in zip(OrderStatus, ids, strict=False):
        account.set_status(order_id, status)
    publisher = ListPublisher()
    publish_order_changes(account, publisher, ids, duplicate_share=0.2, seed=8)
    publish_order_changes(account, publisher, ids[:5], seed=9, change_type="BuyerRequestedChange")
    for body in publisher.bodies:
        assert_valid(check, json.loads(body))
    assert len({json.loads(b)["NotificationMetadata"]["NotificationId"] for b in publisher.bodies}) == 45


def test_every_documented_example_parses() -> None:
    parsed = 0
    for path in _schema_files():
        schema = json.loads(path.read_text(encoding="utf-8"))
        for example in schema.get("examples") or []:  # FBA inventory's schema carries none
            notification = parse_notification(json.dumps(example))
            assert notification.notification_type and notification.notification_id, path.name
            parsed += 1
            if notification.notification_type == "ORDER_CHANGE":
                event = to_order_changed(notification)
                assert event.order_id == example["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    assert parsed >= 8
