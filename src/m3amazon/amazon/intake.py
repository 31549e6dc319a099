"""SQS intake: SP-API notifications -> canonical events -> the durable engine.

Routing by type: order changes go to the order flow's queue; every other notification type the
product subscribes to becomes a canonical event kept in the event inbox (ops/event_inbox.py) for
its flow. A message is deleted from SQS only after its event is durably enqueued or stored (or,
for bad input, after an incident holding the original body is stored). If the engine cannot take
it, the message stays and SQS delivers it again after the visibility timeout: nothing is lost.
Duplicates are cheap: a NotificationId seen before is counted in the intake log and not handed
on again, and the workflow id makes a second enqueue of the same order change a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiobotocore.session import get_session
from sqlalchemy.engine import Engine

from m3amazon.amazon.notifications import NotificationError, parse_event
from m3amazon.canonical import OrderChanged
from m3amazon.canonical.events import AmazonEvent
from m3amazon.config import SqsSettings
from m3amazon.ops import event_inbox, metrics
from m3amazon.ops.db import intake_log
from m3amazon.ops.event_inbox import subject_of
from m3amazon.ops.incidents import Incident, open_incident

log = logging.getLogger(__name__)

Submit = Callable[[OrderChanged], Awaitable[str | None]]
SubmitEvent = Callable[[str, str, AmazonEvent], Awaitable[str | None]]


def _seen_before(engine: Engine, notification_id: str) -> bool:
    """True (and one more delivery counted) when this NotificationId was handed on before."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                intake_log.update()
                .where(intake_log.c.notification_id == notification_id)
                .values(deliveries=intake_log.c.deliveries + 1)
            ).rowcount
        )


def _log_delivery(
    engine: Engine, notification_id: str, ntype: str, subject: str | None, workflow_id: str | None
) -> bool:
    """Record the notification; returns False when this NotificationId was seen before."""
    with engine.begin() as conn:
        updated = conn.execute(
            intake_log.update()
            .where(intake_log.c.notification_id == notification_id)
            .values(deliveries=intake_log.c.deliveries + 1)
        ).rowcount
        if updated:
            return False
        conn.execute(
            intake_log.insert().values(
                notification_id=notification_id,
                notification_type=ntype,
                subject=subject,
                workflow_id=workflow_id,
                deliveries=1,
                received_at=datetime.now(UTC),
            )
        )
        return True


class SqsIntake:
    def __init__(
        self, settings: SqsSettings, engine: Engine, submit: Submit, submit_event: SubmitEvent | None = None
    ) -> None:
        if not settings.queue_url:
            raise ValueError("amazon.sqs.queue_url is not set: there is no queue to take notifications from")
        self.settings = settings
        self.engine = engine
        self.submit = submit
        #: Where events other than order changes go: their flow, or by default the event inbox.
        self.submit_event: SubmitEvent = submit_event or self._store_in_inbox
        self.last_message_at: float | None = None
        self.received = 0

    def _client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"region_name": self.settings.region}
        if self.settings.endpoint_url:
            kwargs["endpoint_url"] = self.settings.endpoint_url
        if self.settings.access_key_id:
            kwargs["aws_access_key_id"] = self.settings.access_key_id
            secret = self.settings.secret_access_key
            kwargs["aws_secret_access_key"] = secret.get_secret_value() if secret else ""
        return kwargs

    async def run(self, stop: asyncio.Event) -> None:
        """Take batches until `stop` is set. Errors talking to SQS are logged and retried."""
        session = get_session()
        async with session.create_client("sqs", **self._client_kwargs()) as client:
            backoff = 1.0
            while not stop.is_set():
                try:
                    await self.poll_once(client, wait_time_s=self.settings.wait_time_s)
                    backoff = 1.0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # network trouble, SQS errors: never kill the worker
                    log.warning("SQS intake error (%s); retrying in %.0f s", exc, backoff)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=backoff)
                    backoff = min(backoff * 2, 30.0)

    async def poll_once(self, client: Any, *, wait_time_s: int = 0) -> int:
        """Receive one batch, hand each message on, delete what is safe to delete. Returns the count."""
        response = await client.receive_message(
            QueueUrl=self.settings.queue_url,
            MaxNumberOfMessages=self.settings.batch_size,
            WaitTimeSeconds=wait_time_s,
            VisibilityTimeout=self.settings.visibility_timeout_s,
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        started = time.perf_counter()
        done: list[dict[str, str]] = []
        async with self._kept_invisible(client, messages):
            for message in messages:
                if await self._handle(message):
                    done.append({"Id": message["MessageId"], "ReceiptHandle": message["ReceiptHandle"]})
            if done:
                await client.delete_message_batch(QueueUrl=self.settings.queue_url, Entries=done)
        self.received += len(messages)
        self.last_message_at = time.time()
        metrics.INTAKE_BATCH_SECONDS.observe(time.perf_counter() - started)
        return len(messages)

    @contextlib.asynccontextmanager
    async def _kept_invisible(self, client: Any, messages: list[dict[str, Any]]) -> AsyncIterator[None]:
        """While a batch is being handled, extend its visibility timeout every half timeout.

        A slow enqueue (the database is busy) must not let SQS hand the same messages to another
        worker in the meantime; they become visible again only if this worker dies.
        """
        timeout = self.settings.visibility_timeout_s

        async def extend() -> None:
            while True:
                await asyncio.sleep(timeout / 2)
                entries = [
                    {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": timeout}
                    for m in messages
                ]
                try:
                    await client.change_message_visibility_batch(
                        QueueUrl=self.settings.queue_url, Entries=entries
                    )
                except Exception as exc:  # the next extension (or SQS's redelivery) covers it
                    log.warning("could not extend the visibility of %d messages: %s", len(entries), exc)

        task = asyncio.create_task(extend(), name="sqs-visibility")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _handle(self, message: dict[str, Any]) -> bool:
        """True when the message may be deleted (handed on, a known duplicate, or kept as an incident)."""
        body = message.get("Body", "")
        try:
            notification, event = parse_event(body)
        except NotificationError as exc:
            await asyncio.to_thread(self._bad_message, message, exc)
            return True
        notification_id = notification.notification_id or message["MessageId"]
        ntype = notification.notification_type
        if await asyncio.to_thread(_seen_before, self.engine, notification_id):
            metrics.NOTIFICATIONS.labels(type=ntype, result="duplicate").inc()
            return True  # handed on at its first delivery; _seen_before counted this one
        try:
            if isinstance(event, OrderChanged):
                handed_to = await self.submit(event)
                subject: str | None = event.order_id
            else:
                handed_to = await self.submit_event(notification_id, ntype, event)
                subject = subject_of(event)
        except Exception:
            log.exception(
                "could not hand on notification %s (%s); SQS will deliver it again", notification_id, ntype
            )
            metrics.NOTIFICATIONS.labels(type=ntype, result="retry").inc()
            return False
        first = await asyncio.to_thread(
            _log_delivery, self.engine, notification_id, ntype, subject, handed_to
        )
        result = ("enqueued" if handed_to else "ignored") if first else "duplicate"
        metrics.NOTIFICATIONS.labels(type=ntype, result=result).inc()
        return True

    async def _store_in_inbox(self, notification_id: str, ntype: str, event: AmazonEvent) -> str | None:
        """Default for events without a flow yet: keep them in the event inbox."""
        stored = await asyncio.to_thread(event_inbox.store, self.engine, notification_id, ntype, event)
        return f"inbox:{ntype}" if stored else None

    def _bad_message(self, message: dict[str, Any], exc: NotificationError) -> None:
        open_incident(
            self.engine,
            Incident(
                key=f"sqs-message:{message['MessageId']}",
                category="notification",
                reason_code=exc.reason_code,
                message=exc.message,
                subject=message["MessageId"],
                payload=message.get("Body", ""),
                actions=("discard",),
            ),
        )
        metrics.NOTIFICATIONS.labels(type="invalid", result="incident").inc()
        metrics.INCIDENTS.labels(category="notification", reason=exc.reason_code).inc()


def count_deliveries(engine: Engine) -> tuple[int, int]:
    """(distinct notifications, deliveries including duplicates)."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(intake_log.c.deliveries), 0)).select_from(
                intake_log
            )
        ).one()
    return int(row[0]), int(row[1])
