"""The local SQS server answers as moto does, with moto's per-message bookkeeping made cheap.

`SqsServer.start` replaces moto's message counts, its visible-message list and its retention check
with versions that read the clock once per scan (sim/sqs.py). Every end-to-end test runs on them,
so here they are compared with moto's own on one queue holding visible, delayed, in-flight and
expired messages, and checked through the SQS API the intake uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from m3amazon.sim.sqs import MOTO_ORIGINALS, SqsServer


@pytest.fixture(scope="module")
def sqs() -> Iterator[SqsServer]:
    with SqsServer() as server:
        yield server


def _backend_queue(name: str) -> tuple[Any, Any]:
    from moto.sqs.models import sqs_backends

    for account in sqs_backends.values():
        for backend in account.values():
            if name in backend.queues:
                return backend, backend.queues[name]
    raise AssertionError(f"queue {name} not in moto's backend")


def test_counts_and_retention_are_moto_s_own(sqs: SqsServer) -> None:
    assert set(MOTO_ORIGINALS) == {
        "messages",
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
        "is_message_valid_based_on_retention_period",
    }, "moto changed: sim/sqs.py no longer replaces its bookkeeping"
    name = f"sim-{uuid.uuid4().hex[:12]}"
    url = sqs.create_queue(name)
    client = sqs.client()
    try:
        for i in range(6):
            client.send_message(QueueUrl=url, MessageBody=f"now-{i}")
        for i in range(2):
            client.send_message(QueueUrl=url, MessageBody=f"later-{i}", DelaySeconds=60)
        taken = client.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=60)
        assert len(taken["Messages"]) == 3  # in flight from now on

        backend, queue = _backend_queue(name)
        expected = {
            "approximate_number_of_messages": 3,
            "approximate_number_of_messages_delayed": 2,
            "approximate_number_of_messages_not_visible": 3,
        }
        for prop, count in expected.items():
            assert getattr(queue, prop) == MOTO_ORIGINALS[prop].fget(queue) == count, prop
        visible = queue.messages
        assert visible == MOTO_ORIGINALS["messages"].fget(queue)
        assert sorted(m.body for m in visible) == ["now-3", "now-4", "now-5"]
        attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "3"
        assert attributes["ApproximateNumberOfMessagesDelayed"] == "2"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "3"

        client.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})
        fresh, expired = visible[0], visible[1]
        expired.sent_timestamp -= 120_000  # sent two minutes ago: past the retention period
        original = MOTO_ORIGINALS["is_message_valid_based_on_retention_period"]
        assert backend.is_message_valid_based_on_retention_period(name, fresh) is True
        assert original(backend, name, fresh) is True
        assert backend.is_message_valid_based_on_retention_period(name, expired) is False
        assert original(backend, name, expired) is False

        received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert expired.body not in {m["Body"] for m in received}
    finally:
        client.close()
