"""Scenario -> ORDER_CHANGE notifications on a moto SQS queue -> boto3 receive -> parse_notification."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from amazon_sim_harness import AmazonSim

from m3amazon.amazon.notifications import parse_notification, to_order_changed
from m3amazon.sim.amazon.notify import SqsPublisher
from m3amazon.sim.sqs import SqsServer


def drain(sqs: SqsServer, queue_url: str) -> list[str]:
    client = sqs.client()
    bodies: list[str] = []
    try:
        while True:
            batch = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = batch.get("Messages", [])
            if not messages:
                return bodies
            bodies += [m["Body"] for m in messages]
            client.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    finally:
        client.close()


def test_scenario_notifications_arrive_on_sqs_and_parse(
    start_amazon: Callable[..., AmazonSim], sqs: SqsServer, queue_url: str
) -> None:
    publisher = SqsPublisher(sqs.url, queue_url, sqs.region)
    sim = start_amazon(publisher=publisher)
    answer = httpx.post(
        sim.url + "/_sim/scenario",
        json={"orders": 12, "seed": 21, "duplicate_share": 0.25, "afn_share": 0.5},
        verify=sim.verify,
    ).json()
    assert answer["orders_generated"] == 12
    assert answer["notifications_sent"] == 12 + answer["duplicates_sent"] and answer["duplicates_sent"] > 0

    bodies = drain(sqs, queue_url)
    assert len(bodies) == answer["notifications_sent"]
    events = [to_order_changed(parse_notification(body)) for body in bodies]
    assert {e.order_id for e in events} == set(answer["order_ids"])
    assert len({e.notification_id for e in events}) == 12  # duplicates repeat their NotificationId
    assert all(e.seller_id == sim.account.seller_id and e.reported_status == "Unshipped" for e in events)

    # The flow's next step: each event leads to getOrder through the gateway.
    async def fetch() -> None:
        async with sim.gateway() as gateway:
            for event in {e.order_id: e for e in events}.values():
                order = await gateway.get_order(event.order_id)
                assert order.channel == event.channel and order.marketplace_id == event.marketplace_id

    asyncio.run(fetch())
    publisher.close()


def test_status_change_publishes_one_notification(
    start_amazon: Callable[..., AmazonSim], sqs: SqsServer, queue_url: str
) -> None:
    sim = start_amazon(publisher=SqsPublisher(sqs.url, queue_url, sqs.region))
    verify = sim.verify
    order_id = httpx.post(
        sim.url + "/_sim/scenario", json={"orders": 1, "seed": 1, "notify": False}, verify=verify
    ).json()["order_ids"][0]
    httpx.post(f"{sim.url}/_sim/orders/{order_id}/status", json={"status": "CANCELLED"}, verify=verify)
    (body,) = drain(sqs, queue_url)
    event = to_order_changed(parse_notification(body))
    assert (event.order_id, event.reported_status) == (order_id, "Canceled")
