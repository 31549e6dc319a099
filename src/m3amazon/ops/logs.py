"""Structured logs: one JSON object per line, with correlation ids, personal data and secrets redacted.

Every line carries what ties it to the work it belongs to:

- `workflow_id` when it was written inside a DBOS workflow or step (the engine knows), and the
  `amazon_order_id` read from it (order workflows are named `amazon-order:{id}:...`) or given by
  the caller (`log.info(..., extra={"amazon_order_id": ...})`);
- `request_id` when it was written while the web surface answered a request (`RequestContext`
  takes the caller's `X-Request-ID` when it is sane, else makes one, and answers with it).

The message and any exception text pass through `ops.redact.redact` (e-mail addresses, bearer and
API tokens, `password=...`-style secrets), so a careless log call does not leak them.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from m3amazon.ops.redact import redact

REQUEST_ID: ContextVar[str | None] = ContextVar("m3amazon_request_id", default=None)
_ORDER_IN_WORKFLOW = re.compile(r"^amazon-order:([^:]+)")
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: `extra` keys copied to the line (anything else stays out: it could be personal data).
CORRELATION_KEYS = ("amazon_order_id", "workflow_id", "notification_id", "bod_id", "incident_id")


def _workflow_id() -> str | None:
    try:
        from dbos import DBOS

        return DBOS.workflow_id
    except Exception:  # outside the engine, or the engine is gone
        return None


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line (see module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key in CORRELATION_KEYS:
            value = record.__dict__.get(key)
            if value is not None:
                line[key] = str(value)
        workflow_id = line.get("workflow_id") or _workflow_id()
        if workflow_id:
            line["workflow_id"] = workflow_id
            match = _ORDER_IN_WORKFLOW.match(workflow_id)
            if match and "amazon_order_id" not in line:
                line["amazon_order_id"] = match.group(1)
        request_id = REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """The plain text format, redacted the same way."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(level: str, fmt: str = "json", quiet: tuple[str, ...] = ()) -> None:
    """Configure the root logger once for the process (replaces earlier handlers)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)


class RequestContext:
    """ASGI middleware: a request id for every HTTP request, in the logs and the `X-Request-ID` answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_REQUEST_ID.match(given) else secrets.token_hex(8)
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode("latin-1"))]
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
