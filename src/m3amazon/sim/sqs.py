"""A local SQS server (moto) on loopback, for the demo and the tests.

Why moto's server and not an in-process mock: the intake talks real AWS SQS wire protocol through
boto3/aiobotocore, so the tests exercise what production runs. Keep queues shallow: moto scans the
whole queue on every call (research stack §2), so it is a protocol double, not a load-test target.

All moto servers in one process share moto's in-memory backend: give each test its own queue name.
"""

from __future__ import annotations

import logging
import threading
from typing import Any


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
