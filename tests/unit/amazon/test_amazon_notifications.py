"""Notification parsing: the documented envelopes, casing quirks, and garbage that must not crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from m3amazon.amazon.notifications import NotificationError, parse_notification, to_order_changed
from m3amazon.canonical import FulfillmentChannel, OrderChanged
from m3amazon.sim.amazon.notify import ListPublisher, publish_order_changes
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount


def envelope(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": "2026-03-01T10:00:00.123Z",
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": "A1SELLER",
                "AmazonOrderId": "113-0000001-0000001",
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {"TimeOfOrderChange": None, "ChangeReason": "Order status changed"},
                "Summary": {
                    "MarketplaceId": "ATVPDKIKX0DER",
                    "OrderStatus": "Unshipped",
                    "PurchaseDate": None,
                    "DestinationPostalCode": None,
                    "FulfillmentType": "AFN",
                    "OrderType": "StandardOrder",
                    "OrderItems": [],
                },
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "app",
            "SubscriptionId": "sub",
            "PublishTime": "2026-03-01T10:00:01.000Z",
            "NotificationId": "n-1",
        },
    }
    body.update(overrides)
    return body


def test_order_change_becomes_order_changed() -> None:
    n = parse_notification(json.dumps(envelope()).encode())
    assert (n.notification_id, n.notification_type) == ("n-1", "ORDER_CHANGE")
    assert n.event_time == datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert to_order_changed(n) == OrderChanged(
        order_id="113-0000001-0000001",
        marketplace_id="ATVPDKIKX0DER",
        seller_id="A1SELLER",
        notification_id="n-1",
        reported_status="Unshipped",
        channel=FulfillmentChannel.AMAZON,
        change_type="OrderStatusChange",
        event_time=datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC),
    )


def test_camel_case_envelopes_parse_too() -> None:
    body = {
        "notificationVersion": "2020-09-04",
        "notificationType": "REPORT_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": "2026-03-01T10:00:00Z",
        "payload": {"reportProcessingFinishedNotification": {"reportId": "1"}},
        "notificationMetadata": {
            "applicationId": "a",
            "subscriptionId": "s",
            "publishTime": "2026-03-01T10:00:00Z",
            "notificationId": "n-2",
        },
    }
    n = parse_notification(json.dumps(body))
    assert (n.notification_id, n.notification_type) == ("n-2", "REPORT_PROCESSING_FINISHED")
    with pytest.raises(NotificationError) as caught:
        to_order_changed(n)
    assert caught.value.reason_code == "UNEXPECTED_TYPE"


def test_without_metadata_the_key_is_a_stable_body_hash() -> None:
    body = envelope()
    del body["NotificationMetadata"]
    first, again = parse_notification(json.dumps(body)), parse_notification(json.dumps(body, indent=2))
    assert first.notification_id.startswith("sha256:") and first.notification_id == again.notification_id


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "INVALID_JSON"),
        ("not json", "INVALID_JSON"),
        ("[1, 2]", "NOT_AN_OBJECT"),
        (json.dumps(envelope(NotificationType=None)), "MISSING_FIELD"),
        (json.dumps(envelope(NotificationType=7)), "WRONG_TYPE"),
        (json.dumps(envelope(Payload="x")), "WRONG_TYPE"),
        (json.dumps(envelope(EventTime="last tuesday")), "BAD_TIMESTAMP"),
        (json.dumps(envelope(NotificationMetadata={"ApplicationId": "a"})), "MISSING_FIELD"),
        (json.dumps(envelope(NotificationMetadata=[1])), "WRONG_TYPE"),
        ("[" * 100_000 + "]" * 100_000, "INVALID_JSON"),
    ],
)
def test_bad_messages_say_why(body: str | bytes, reason: str) -> None:
    with pytest.raises(NotificationError) as caught:
        parse_notification(body)
    assert caught.value.reason_code == reason and caught.value.message


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"AmazonOrderId": None}, "MISSING_FIELD"),
        ({"AmazonOrderId": 113}, "WRONG_TYPE"),
        ({"AmazonOrderId": "  "}, "MISSING_FIELD"),
        ({"Summary": "x"}, "WRONG_TYPE"),
        ({"Summary": {"FulfillmentType": "XYZ"}}, "WRONG_TYPE"),
        ({"SellerId": ["A"]}, "WRONG_TYPE"),
    ],
)
def test_bad_order_changes_say_why(change: dict[str, Any], reason: str) -> None:
    body = envelope()
    body["Payload"]["OrderChangeNotification"].update(change)
    with pytest.raises(NotificationError) as caught:
        to_order_changed(parse_notification(json.dumps(body)))
    assert caught.value.reason_code == reason


def test_simulated_notifications_parse_and_duplicates_keep_their_id() -> None:
    account = SellerAccount(marketplaces=["ATVPDKIKX0DER", "A1PA6795UKMFR9"])
    ids = generate_orders(account, 20, seed=5, afn_share=0.5)
    publisher = ListPublisher()
    result = publish_order_changes(account, publisher, ids, duplicate_share=0.3, seed=5)
    assert result.duplicates > 0 and len(publisher.bodies) == 20 + result.duplicates
    events = [to_order_changed(parse_notification(b)) for b in publisher.bodies]
    assert {e.order_id for e in events} == set(ids)
    assert len({e.notification_id for e in events}) == 20
    by_id = {o.order_id: o for o in account.orders()}
    for event in events:
        assert event.channel == by_id[event.order_id].channel and event.reported_status == "Unshipped"


# -- garbage never raises anything but NotificationError -----------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    [
        "NotificationType",
        "notificationtype",
        "Payload",
        "payload",
        "EventTime",
        "NotificationMetadata",
        "NotificationId",
        "OrderChangeNotification",
        "AmazonOrderId",
        "Summary",
        "FulfillmentType",
        "SellerId",
    ]
)
_almost = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=30)
    | st.just("ORDER_CHANGE")
    | st.just("2026-01-01T00:00:00Z"),
    lambda children: st.dictionaries(_keys, children, max_size=6) | st.lists(children, max_size=3),
    max_leaves=25,
)


def _check(body: str | bytes) -> None:
    try:
        to_order_changed(parse_notification(body))
    except NotificationError as exc:
        assert exc.reason_code and exc.message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_bytes_and_text(body: str | bytes) -> None:
    _check(body)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_arbitrary_json(value: Any) -> None:
    _check(json.dumps(value))


@settings(max_examples=300, deadline=None)
@given(_almost)
def test_almost_notifications(value: Any) -> None:
    _check(json.dumps(value))
