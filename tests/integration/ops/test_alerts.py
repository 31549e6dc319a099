"""Alerts reach a real SMTP server and a real webhook, grouped per category and window."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request

from m3amazon.ops.alerts import Alert, Alerter, AlertRoute, AlertSettings, Severity
from m3amazon.sim.server import RunningServer, serve_in_thread


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    with socket.socket() as probe:  # aiosmtpd's Controller cannot start on port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict[str, Any]], RunningServer]]:
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append(json.loads(await request.body()))
        return {"ok": "yes"}

    server = serve_in_thread(app, name="webhook")
    try:
        yield received, server
    finally:
        server.stop()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_alerts_are_batched_per_category_and_window(smtp, webhook) -> None:
    mailbox, smtp_port = smtp
    hooks, hook_server = webhook
    mail = f"mailto://127.0.0.1:{smtp_port}?from=m3amazon@example.com&to=ops@example.com&mode=insecure"
    settings = AlertSettings(
        window_s=60,
        routes=[
            AlertRoute(urls=[mail], categories=["*"], min_severity="warning"),
            AlertRoute(
                urls=[f"json://127.0.0.1:{hook_server.port}/hook"],
                categories=["m3_unavailable"],
                min_severity="error",
            ),
        ],
    )
    clock = _Clock()
    alerter = Alerter(settings, clock=clock)
    for n in range(5):
        alerter.raise_alert(Alert("sku_unknown", Severity.WARNING, "Unknown SKU", subject=f"SKU-{n}"))
    alerter.raise_alert(Alert("sku_unknown", Severity.WARNING, "Unknown SKU", subject="SKU-0"))  # same key
    alerter.raise_alert(
        Alert("m3_unavailable", Severity.ERROR, "M3 circuit open", body="12 timeouts in a row")
    )
    alerter.raise_alert(Alert("noise", Severity.INFO, "FYI"))  # below every route's minimum
    assert not alerter.due()
    clock.now = 61
    assert alerter.due()
    sent = asyncio.run(alerter.flush())

    assert sent == 3  # two categories by mail, one of them also to the webhook
    assert len(mailbox.messages) == 2
    unknown = next(m for m in mailbox.messages if "Unknown SKU" in m)
    assert "+5 more in this window" in unknown and "5 distinct" in unknown and "SKU-4" in unknown
    assert len(hooks) == 1 and "M3 circuit open" in hooks[0]["title"] and "12 timeouts" in hooks[0]["message"]
    assert asyncio.run(alerter.flush()) == 0  # the window was emptied


def test_a_broken_channel_never_raises_and_keeps_the_alert(tmp_path) -> None:
    settings = AlertSettings(routes=[AlertRoute(urls=["json://127.0.0.1:9/nothing-listens"])])
    alerter = Alerter(settings)
    alerter.raise_alert(Alert("m3_unavailable", Severity.CRITICAL, "M3 down"))
    assert asyncio.run(alerter.flush()) == 0
    assert alerter.failed == 1
    assert "m3_unavailable" in alerter._pending  # goes out with the next window


def test_bad_urls_are_refused_in_plain_words() -> None:
    alerter = Alerter(AlertSettings(routes=[AlertRoute(urls=["nosuchscheme://x"])]))
    alerter.raise_alert(Alert("x", Severity.ERROR, "t"))
    assert asyncio.run(alerter.flush()) == 0 and alerter.failed == 1
