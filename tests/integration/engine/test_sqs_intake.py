"""SQS intake against a real (moto) SQS server: bad messages become incidents, good ones go on."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from aiobotocore.session import get_session

from m3amazon.amazon.intake import SqsIntake, count_deliveries
from m3amazon.canonical import OrderChanged
from m3amazon.config import SqsSettings
from m3amazon.ops import db
from m3amazon.ops.incidents import list_incidents
from m3amazon.sim.amazon.notify import order_change_notification
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.sqs import SqsServer


@pytest.fixture(scope="module")
def sqs():
    with SqsServer() as server:
        yield server


def _body(account: SellerAccount, order_id: str) -> str:
    order = account.get_order(order_id)
    assert order is not None
    return json.dumps(
        order_change_notification(
            order,
            seller_id=account.seller_id,
            application_id=account.application_id,
            notification_id=str(uuid.uuid4()),
            subscription_id="sub-1",
        )
    )


def _settings(sqs: SqsServer, queue_url: str) -> SqsSettings:
    return SqsSettings(
        queue_url=queue_url,
        endpoint_url=sqs.url,
        region=sqs.region,
        access_key_id="x",
        secret_access_key="x",
        wait_time_s=0,
        visibility_timeout_s=5,
    )


async def _drain(intake: SqsIntake, settings: SqsSettings) -> None:
    kwargs = {
        "region_name": settings.region,
        "endpoint_url": settings.endpoint_url,
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
    }
    async with get_session().create_client("sqs", **kwargs) as client:
        while await intake.poll_once(client):
            pass


def test_bad_messages_become_incidents_and_good_ones_are_enqueued_once(
    sqs: SqsServer, tmp_path: Path
) -> None:
    queue_url = sqs.create_queue(f"intake-{uuid.uuid4().hex[:8]}")
    engine = db.create_engine(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    db.create_tables(engine)
    account = SellerAccount()
    ids = generate_orders(account, 3, seed=5)
    good = [_body(account, i) for i in ids]
    garbage = [
        "{not json",
        json.dumps({"NotificationType": "ORDER_CHANGE"}),
        json.dumps([1, 2]),
        json.dumps({**json.loads(good[0]), "NotificationType": "MYSTERY_EVENT"}),
    ]
    bodies = [good[0], garbage[0], good[1], garbage[1], good[0], garbage[2], good[2], garbage[3]]
    client = sqs.client()
    for body in bodies:
        client.send_message(QueueUrl=queue_url, MessageBody=body)

    submitted: list[OrderChanged] = []

    async def submit(event: OrderChanged) -> str:
        submitted.append(event)
        return f"amazon-order:{event.order_id}"

    settings = _settings(sqs, queue_url)
    asyncio.run(_drain(SqsIntake(settings, engine, submit), settings))

    # The re-delivered notification (same NotificationId) is counted, not handed on again.
    assert sorted(e.order_id for e in submitted) == sorted(ids)
    incidents = list_incidents(engine)
    assert len(incidents) == 4
    assert {i["category"] for i in incidents} == {"notification"}
    assert {i["payload"] for i in incidents} == set(garbage)  # the original body, byte for byte
    assert all(i["message"] and " " in i["message"] for i in incidents)  # a sentence, not a code
    assert "UNSUPPORTED_NOTIFICATION" in {i["reason_code"] for i in incidents}
    assert count_deliveries(engine) == (3, 4)  # the duplicate is counted, not lost
    remaining = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert remaining["ApproximateNumberOfMessages"] == "0"
    assert remaining["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_message_whose_enqueue_fails_stays_in_the_queue(sqs: SqsServer, tmp_path: Path) -> None:
    queue_url = sqs.create_queue(f"intake-{uuid.uuid4().hex[:8]}")
    engine = db.create_engine(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    db.create_tables(engine)
    account = SellerAccount()
    order_id = generate_orders(account, 1, seed=9)[0]
    sqs.client().send_message(QueueUrl=queue_url, MessageBody=_body(account, order_id))

    async def broken_engine(event: OrderChanged) -> str:
        raise ConnectionError("database is down")

    settings = _settings(sqs, queue_url)
    asyncio.run(_drain(SqsIntake(settings, engine, broken_engine), settings))
    attrs = sqs.client().get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"  # not deleted: SQS delivers it again
    assert list_incidents(engine) == []


def test_other_notification_types_wait_in_the_event_inbox_once(sqs: SqsServer, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from m3amazon.ops import event_inbox
    from m3amazon.sim.amazon import envelopes

    queue_url = sqs.create_queue(f"intake-{uuid.uuid4().hex[:8]}")
    engine = db.create_engine(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    db.create_tables(engine)
    now = datetime.now(UTC)
    bodies = [
        envelopes.outbound_shipment_status(
            "SELLER", "111-1111111-1111111", "SHIP-1", "SHIPPED", "app", "sub", now
        ),
        envelopes.listing_quantity_changed("SELLER", "SKU-1", 7, "app", "sub", now),
        envelopes.report_finished(
            "SELLER",
            {
                "reportId": "R1",
                "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
                "processingStatus": "DONE",
                "reportDocumentId": "D1",
            },
            "app",
            "sub",
            now,
        ),
    ]
    client = sqs.client()
    for body in [*bodies, bodies[1]]:  # the listing change is delivered twice
        client.send_message(
            QueueUrl=queue_url, MessageBody=body if isinstance(body, str) else json.dumps(body)
        )

    async def no_orders(event: OrderChanged) -> str:
        raise AssertionError("no order change was sent")

    settings = _settings(sqs, queue_url)
    asyncio.run(_drain(SqsIntake(settings, engine, no_orders), settings))
    waiting = event_inbox.pending(engine)
    assert sorted(row["event_type"] for row in waiting) == [
        "FBA_OUTBOUND_SHIPMENT_STATUS",
        "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
        "REPORT_PROCESSING_FINISHED",
    ]
    assert {row["subject"] for row in waiting} == {"111-1111111-1111111", "SKU-1", "R1"}
    listing = next(r for r in waiting if r["subject"] == "SKU-1")
    assert json.loads(listing["event"])["quantity"] == 7
    assert count_deliveries(engine) == (3, 4)
    assert list_incidents(engine) == []
