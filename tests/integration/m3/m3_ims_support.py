"""Our IMS endpoints on loopback over a real database, with a recording `on_bod` (for the M3 tests)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from m3amazon.config import IonSettings
from m3amazon.m3.ion.inbox import StoredBod
from m3amazon.ops import db
from m3amazon.ops.incidents import list_incidents
from m3amazon.sim.server import RunningServer, serve_in_thread
from m3amazon.web.ims import ims_router

TOKEN = "ims-inbound-token"


@dataclass
class Receiver:
    engine: Engine
    server: RunningServer
    handed: list[StoredBod] = field(default_factory=list)
    fail_next: int = 0

    @property
    def url(self) -> str:
        return f"{self.server.url}/service"

    async def on_bod(self, stored: StoredBod) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("the engine queue is not reachable")
        self.handed.append(stored)

    def incidents(self) -> list[dict]:
        return list_incidents(self.engine, status=None)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[StoredBod]:
        deadline = time.monotonic() + timeout
        while len(self.handed) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.handed


def start_receiver(tmp: Path, **settings: object) -> Receiver:
    engine = db.create_engine(f"sqlite:///{tmp / 'receiver.sqlite'}")
    db.create_tables(engine)
    ion = IonSettings(inbound_token=TOKEN, **settings)  # type: ignore[arg-type]
    receiver = Receiver(engine, None)  # type: ignore[arg-type]
    app = FastAPI()
    app.include_router(ims_router(engine, ion, on_bod=receiver.on_bod))
    receiver.server = serve_in_thread(app, name="ims-receiver")
    return receiver


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = start_receiver(tmp_path, max_message_bytes=4 * 1024 * 1024)
    try:
        yield r
    finally:
        r.server.stop()
        r.engine.dispose()


def raw_post(
    host: str, port: int, path: str, headers: dict[str, str], chunks: Iterator[bytes]
) -> tuple[int, int]:
    """POST chunk by chunk on a plain socket, stopping as soon as the server answers.

    Returns (HTTP status, bytes sent). A client library would insist on sending the whole body
    first; this one shows what the server does with a body it does not want.
    """
    sock = socket.create_connection((host, port), timeout=10)
    sent = 0
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        sock.sendall(head.encode() + b"\r\n")
        sock.setblocking(False)
        answer = b""
        for chunk in chunks:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            try:
                sock.setblocking(True)
                sock.sendall(chunk)
                sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            finally:
                sock.setblocking(False)
        sock.setblocking(True)
        sock.settimeout(10)
        while b"\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    finally:
        sock.close()
    return int(answer.split(b" ", 2)[1]), sent
