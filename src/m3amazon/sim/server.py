"""Serve an ASGI app with uvicorn on loopback, in a background thread or in the foreground.

Tests, the demo and the benchmarks start the simulators with `serve_in_thread`, which binds the
socket first (port 0 picks a free port) so the URL is known before the first request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from m3amazon.listen import bind


@dataclass
class RunningServer:
    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int
    scheme: str
    _sock: socket.socket = field(repr=False)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self._sock.close()


def _config(app: Any, tls: tuple[Path, Path] | None, log_level: str) -> uvicorn.Config:
    kwargs: dict[str, Any] = {"log_level": log_level, "access_log": False, "lifespan": "on"}
    if tls is not None:
        kwargs["ssl_certfile"] = str(tls[0])
        kwargs["ssl_keyfile"] = str(tls[1])
    return uvicorn.Config(app, **kwargs)


def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: tuple[Path, Path] | None = None,
    log_level: str = "warning",
    name: str = "server",
) -> RunningServer:
    """Start `app` in a daemon thread and return once it accepts connections."""
    sock = bind(host, port)
    server = uvicorn.Server(_config(app, tls, log_level))

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"{name} failed to start")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not start within 30 s")
        time.sleep(0.01)
    return RunningServer(server, thread, host, sock.getsockname()[1], "https" if tls else "http", sock)


def serve_forever(
    app: Any, *, host: str, port: int, tls: tuple[Path, Path] | None = None, log_level: str = "info"
) -> None:
    """Serve in the foreground until Ctrl-C (the `m3amazon sim ...` commands)."""
    sock = bind(host, port)
    server = uvicorn.Server(_config(app, tls, log_level))
    asyncio.run(server.serve(sockets=[sock]))
