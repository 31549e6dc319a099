"""A local SQS server (moto) on loopback, for the demo and the tests.

Why moto's server and not an in-process mock: the intake talks real AWS SQS wire protocol through
boto3/aiobotocore, so the tests exercise what production runs. Keep queues shallow: moto scans the
whole queue on every call (research stack §2), so it is a protocol double, not a load-test target.

All moto servers in one process share moto's in-memory backend: give each test its own queue name.

`SqsServer.start` makes moto's bookkeeping cheaper without changing what it answers
(`_lighten_moto_sqs`): the demo and the end-to-end tests spent a third of their CPU time in it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

_moto_lightened = False
#: moto's own implementations, kept for the test that compares the two (tests/e2e/test_sqs_sim.py).
MOTO_ORIGINALS: dict[str, Any] = {}


def _lighten_moto_sqs() -> None:
    """The same answers from moto's SQS backend for far less CPU (moto 5.x; anything else is left alone).

    moto reads the clock (a datetime built and subtracted) once per message whenever it counts the
    visible, delayed or in-flight messages of a queue, and it computes every queue attribute, all
    three counts included, once per received message only to read the retention period, and once
    per sent message only to read ContentBasedDeduplication. Each scan here reads the clock once
    and compares numbers; the retention period is read from the queue itself.
    """
    global _moto_lightened
    if _moto_lightened:
        return
    _moto_lightened = True
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs import models

    queue_cls: Any = models.Queue
    backend_cls: Any = models.SQSBackend
    needed = (
        "messages",
        "approximate_number_of_messages",
        "approximate_number_of_messages_delayed",
        "approximate_number_of_messages_not_visible",
    )
    if not all(isinstance(getattr(queue_cls, name, None), property) for name in needed) or not hasattr(
        backend_cls, "is_message_valid_based_on_retention_period"
    ):
        return

    def messages(self: Any) -> list[Any]:
        now = unix_time_millis()  # moto: visible means now > visible_at, delayed now < delayed_until
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def approximate_number_of_messages(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now > m.visible_at and not now < m.delayed_until)

    def approximate_number_of_messages_delayed(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def approximate_number_of_messages_not_visible(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    MOTO_ORIGINALS.update({name: getattr(queue_cls, name) for name in needed})
    MOTO_ORIGINALS["is_message_valid_based_on_retention_period"] = (
        backend_cls.is_message_valid_based_on_retention_period
    )
    queue_cls.messages = property(messages)
    queue_cls.approximate_number_of_messages = property(approximate_number_of_messages)
    queue_cls.approximate_number_of_messages_delayed = property(approximate_number_of_messages_delayed)
    queue_cls.approximate_number_of_messages_not_visible = property(
        approximate_number_of_messages_not_visible
    )
    backend_cls.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


class SqsServer:
    """moto's ThreadedMotoServer on 127.0.0.1; port 0 picks a free port."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, region: str = "us-east-1", *, access_log: bool = False
    ) -> None:
        self.host = host
        self.port = port
        self.region = region
        self.access_log = access_log
        self._server: Any = None

    def start(self) -> SqsServer:
        from moto.server import ThreadedMotoServer

        _lighten_moto_sqs()
        if not self.access_log:  # Werkzeug logs every request at INFO
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.host, self.port = self._server.get_host_and_port()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> SqsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self) -> Any:
        """A boto3 SQS client for this server (dummy credentials; moto accepts any)."""
        import boto3

        return boto3.client(
            "sqs",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def create_queue(self, name: str, *, visibility_timeout_s: int = 30) -> str:
        """Create (or find) the queue `name` and return its URL."""
        sqs = self.client()
        try:
            result = sqs.create_queue(
                QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout_s)}
            )
            return str(result["QueueUrl"])
        finally:
            sqs.close()


def serve_sqs_forever(host: str = "127.0.0.1", port: int = 9324, queues: tuple[str, ...] = ()) -> None:
    """Run a local SQS server in the foreground until interrupted (`m3amazon sim sqs`)."""
    server = SqsServer(host, port).start()
    for name in queues:
        print(f"queue {name}: {server.create_queue(name)}")
    print(f"local SQS (moto) listening on {server.url}; Ctrl-C to stop")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
