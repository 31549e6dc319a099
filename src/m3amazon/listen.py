"""Listening sockets for the web surface and the simulators."""

from __future__ import annotations

import socket


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A bound TCP socket (port 0 picks a free one), ready to hand to uvicorn.

    Binding first gives a plain OSError when the port is taken (instead of uvicorn's sys.exit),
    and lets callers learn the port before serving. IPPROTO_TCP is explicit because asyncio only
    sets TCP_NODELAY on connections accepted from such sockets; without it each loopback request
    waits ~40 ms for delayed ACKs.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        message = f"cannot listen on {host}:{port}: {exc.strerror} (is the port in use?)"
        raise OSError(exc.errno, message) from exc
    sock.set_inheritable(True)
    return sock
