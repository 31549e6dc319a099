"""The SQS consumer against arbitrary input: no crash, every bad message an incident, good ones go on.

A fake SQS client is the unit seam here (hypothesis runs hundreds of batches; moto would need
minutes); tests/integration/engine/test_sqs_intake.py runs the same consumer against a real SQS
protocol server.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m3amazon.amazon.intake import SqsIntake, count_deliveries
from m3amazon.canonical import OrderChanged
from m3amazon.config import SqsSettings
from m3amazon.ops import db
from m3amazon.ops.incidents import list_incidents
from m3amazon.sim.amazon.notify import order_change_notification
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount

ACCOUNT = SellerAccount()
ORDER_IDS = generate_orders(ACCOUNT, 5, seed=3)


class FakeSqs:
    """Just enough of the SQS API for the consumer: one batch, then empty."""

    def __init__(self, bodies: list[str]) -> None:
        self.messages = [
            {"MessageId": f"m-{i}", "ReceiptHandle": f"r-{i}", "Body": body} for i, body in enumerate(bodies)
        ]
        self.deleted: list[str] = []
        self.extended: list[str] = []
        self.extended_event = asyncio.Event()

    async def receive_message(self, **_: Any) -> dict[str, Any]:
        batch, self.messages = self.messages[:10], self.messages[10:]
        return {"Messages": batch} if batch else {}

    async def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> None:
        self.deleted += [e["Id"] for e in Entries]

    async def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> None:
        self.extended += [e["Id"] for e in Entries]
        self.extended_event.set()


def _good(order_id: str) -> str:
    order = ACCOUNT.get_order(order_id)
    assert order is not None
    return json.dumps(
        order_change_notification(
            order,
            seller_id=ACCOUNT.seller_id,
            application_id=ACCOUNT.application_id,
            notification_id=str(uuid.uuid4()),
            subscription_id="s",
        )
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
garbage = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.sampled_from(ORDER_IDS)
    .map(lambda i: json.loads(_good(i)))
    .flatmap(
        lambda env: st.sampled_from(list(env)).map(
            lambda k: json.dumps({x: v for x, v in env.items() if x != k})
        )
    ),
    st.integers(min_value=10_000, max_value=200_000).map(lambda n: json.dumps({"NotificationType": "X" * n})),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bad=st.lists(garbage, min_size=1, max_size=6),
    good_ids=st.lists(st.sampled_from(ORDER_IDS), max_size=4, unique=True),
    data=st.randoms(),
)
def test_no_message_crashes_the_consumer(tmp_path_factory, bad, good_ids, data) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path_factory.mktemp('p') / 'intake.sqlite'}")
    db.create_tables(engine)
    bodies = bad + [_good(i) for i in good_ids]
    data.shuffle(bodies)
    submitted: list[OrderChanged] = []

    async def submit(event: OrderChanged) -> str:
        submitted.append(event)
        return event.order_id

    fake = FakeSqs(bodies)
    intake = SqsIntake(SqsSettings(queue_url="q", visibility_timeout_s=30), engine, submit)

    async def drain() -> None:
        while await intake.poll_once(fake):
            pass

    asyncio.run(drain())
    assert set(good_ids) <= {e.order_id for e in submitted}  # valid messages in the batch still go on
    assert len(fake.deleted) == len(bodies)  # everything accounted for, nothing left to redeliver
    incidents = list_incidents(engine, limit=1000)
    # Every message is handed on, counted as a re-delivery of one handed on, or kept as an incident
    # (the parser tolerates harmless omissions, such as a missing NotificationVersion, so some
    # mutated envelopes are valid; hypothesis may repeat a body, which is then a duplicate).
    distinct, deliveries = count_deliveries(engine)
    assert distinct == len(submitted)
    assert len(incidents) + deliveries == len(bodies)
    assert all(i["payload"] is not None and " " in i["message"] for i in incidents)
    engine.dispose()


def test_visibility_is_extended_while_a_slow_enqueue_runs(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    db.create_tables(engine)
    fake = FakeSqs([_good(ORDER_IDS[0])])

    async def slow_submit(event: OrderChanged) -> str:
        await asyncio.wait_for(fake.extended_event.wait(), timeout=10)  # outlasts half the timeout
        return event.order_id

    intake = SqsIntake(SqsSettings(queue_url="q", visibility_timeout_s=5), engine, slow_submit)
    asyncio.run(intake.poll_once(fake))
    assert fake.extended == ["m-0"] and fake.deleted == ["m-0"]
