"""JSON log lines carry correlation ids; personal data and secrets are redacted (ops/logs.py, redact.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import httpx
import pytest
from fastapi import FastAPI

from m3amazon.ops.logs import REQUEST_ID, JsonFormatter, RequestContext
from m3amazon.ops.redact import mask_keys, redact


def _line(msg: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.makeLogRecord({"name": "m3amazon.test", "levelname": "INFO", "msg": msg, "args": args})
    record.__dict__.update(extra)
    return dict(json.loads(JsonFormatter().format(record)))


def test_a_line_is_json_with_the_order_read_from_the_workflow_id() -> None:
    line = _line("order %s created", "113-1", workflow_id="amazon-order:113-1:UNSHIPPED:0")
    assert line["msg"] == "order 113-1 created" and line["level"] == "INFO"
    assert line["workflow_id"] == "amazon-order:113-1:UNSHIPPED:0"
    assert line["amazon_order_id"] == "113-1"
    assert _line("x", amazon_order_id="114-2")["amazon_order_id"] == "114-2"
    assert "buyer" not in _line("x", buyer="Jane Doe")  # arbitrary extras stay out


def test_the_request_id_joins_the_line() -> None:
    token = REQUEST_ID.set("req-42")
    try:
        assert _line("x")["request_id"] == "req-42"
    finally:
        REQUEST_ID.reset(token)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "eyJhbGciOiJIUzI1NiJ9"),
        ("token m3a_abcdefghijklmnopqrstuvwxyz0123 used", "m3a_abcdefghijklmnopqrstuvwxyz0123"),
        ("lwa answered Atza|IwEBIExampleAccessToken", "IwEBIExampleAccessToken"),
        ('{"password": "hunter2 hunter2"}', "hunter2"),
        ("login password=s3cret&user=a", "s3cret"),
        ("client_secret: amzn1.oa2-cs.v1.abc", "amzn1.oa2-cs.v1.abc"),
        ("mail to jane.doe@example.com failed", "jane.doe@example.com"),
    ],
)
def test_secrets_and_email_addresses_are_redacted(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out and "***" in out
    assert secret not in _line(text)["msg"]  # type: ignore[operator]


def test_exceptions_are_redacted_too() -> None:
    try:
        raise ValueError("refused for password=topsecret")
    except ValueError:
        record = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})
    line = json.loads(JsonFormatter().format(record))
    assert "topsecret" not in line["exc"] and "ValueError" in line["exc"]


def test_personal_keys_are_masked_at_any_depth() -> None:
    payload = {
        "order": {"ship_to": {"name": "Jane Doe", "line1": "1 Main St", "city": "Seattle", "country": "US"}},
        "buyer_email": "jane@example.com",
        "lines": [{"sku": "A-1", "phone": "+1 555 0100"}],
        "already": {"name": "***"},
    }
    masked = mask_keys(payload)
    assert masked["order"]["ship_to"] == {"name": "***", "line1": "***", "city": "Seattle", "country": "US"}
    assert masked["buyer_email"] == "***" and masked["lines"] == [{"sku": "A-1", "phone": "***"}]
    assert masked["already"] == {"name": "***"}
    assert payload["order"]["ship_to"]["name"] == "Jane Doe"  # a copy


def test_every_answer_carries_a_request_id() -> None:
    app = FastAPI()
    seen: list[str | None] = []

    @app.get("/x")
    async def x() -> dict[str, str]:
        seen.append(REQUEST_ID.get())
        return {}

    app.add_middleware(RequestContext)

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.get("/x", headers={"X-Request-ID": "abc-1"}), await client.get(
                "/x", headers={"X-Request-ID": "bad id\n"}
            )

    given, made = asyncio.run(scenario())
    assert given.headers["x-request-id"] == "abc-1" and seen[0] == "abc-1"
    assert made.headers["x-request-id"] != "bad id" and len(made.headers["x-request-id"]) == 16


def test_setup_logging_writes_json_lines(capfd: pytest.CaptureFixture[str]) -> None:
    from m3amazon.ops.logs import setup_logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        setup_logging("INFO", "json", ("httpx",))
        logging.getLogger("m3amazon.x").info("token m3a_%s seen", "a" * 30)
        logging.getLogger("httpx").info("quiet")  # libraries that log URLs only speak on trouble
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    assert [line["msg"] for line in lines] == ["token *** seen"]
