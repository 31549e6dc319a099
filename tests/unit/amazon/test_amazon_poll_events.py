"""The events the poll submits, and the change time both the poll and notifications carry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.notifications import parse_notification, to_order_changed
from m3amazon.amazon.poll import event_for, event_for_rejected, v0_status
from m3amazon.canonical import OrderStatus
from m3amazon.flows.dispatch import wants_workflow
from m3amazon.sim.amazon.notify import V0_STATUS, order_change_notification
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount


def test_v0_spelling_matches_what_amazon_sends_in_notifications() -> None:
    assert {s: v0_status(s) for s in OrderStatus} == V0_STATUS


def test_a_polled_order_becomes_the_event_its_notification_would_have_been() -> None:
    account = SellerAccount()
    order_id = generate_orders(account, 1, seed=71)[0]
    order = account.set_status(order_id, OrderStatus.SHIPPED, at=datetime(2026, 3, 1, 12, tzinfo=UTC))
    body = order_change_notification(
        order, seller_id=account.seller_id, application_id="app", notification_id="n-1", subscription_id="s"
    )
    notified = to_order_changed(parse_notification(json.dumps(body)))
    polled = event_for(order)
    for field in ("order_id", "marketplace_id", "seller_id", "reported_status", "channel", "changed_at"):
        assert getattr(polled, field) == getattr(notified, field), field
    assert notified.changed_at == order.updated_at  # TimeOfOrderChange, not the later EventTime
    assert notified.event_time is not None and notified.event_time > order.updated_at
    assert polled.origin == "poll" and polled.change_time == order.updated_at
    assert wants_workflow(polled)
    cancelled = event_for(order.model_copy(update={"status": OrderStatus.CANCELLED}))
    pending = event_for(order.model_copy(update={"status": OrderStatus.PENDING}))
    assert wants_workflow(cancelled)  # the status table closes a cancelled order's open lines in M3
    assert not wants_workflow(pending)  # Amazon notifies again when it releases the order


def test_an_unreadable_time_of_change_leaves_the_event_without_it() -> None:
    account = SellerAccount()
    order = account.get_order(generate_orders(account, 1, seed=72)[0])
    assert order is not None
    body = order_change_notification(
        order, seller_id=account.seller_id, application_id="app", notification_id="n-2", subscription_id="s"
    )
    for value in ("yesterday", None, 12):
        body["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["TimeOfOrderChange"] = value
        event = to_order_changed(parse_notification(json.dumps(body)))
        assert event.changed_at is None and event.change_time == event.event_time


def test_an_untranslatable_searched_order_still_reaches_the_flow_unless_pending() -> None:
    unshipped = AmazonTranslationError(
        "MISSING_PRICE",
        "no price",
        order_id="111-1",
        payload={"fulfillment": {"fulfillmentStatus": "UNSHIPPED"}},
    )
    event = event_for_rejected(unshipped)
    assert event is not None and event.reported_status == "Unshipped" and wants_workflow(event)
    pending = AmazonTranslationError(
        "MISSING_PRICE",
        "no price",
        order_id="111-2",
        payload={"fulfillment": {"fulfillmentStatus": "PENDING"}},
    )
    assert not wants_workflow(event_for_rejected(pending))  # type: ignore[arg-type]
    odd = AmazonTranslationError("X", "odd", order_id="111-3", payload={"fulfillment": "?"})
    assert event_for_rejected(odd).reported_status is None  # type: ignore[union-attr]
    assert event_for_rejected(AmazonTranslationError("X", "no id")) is None
