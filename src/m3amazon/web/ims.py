"""The IMS endpoints ION delivers BODs to: `GET /service/ping`, `GET /service/protocol`,
`POST /service/v3/multipartMessage` (research notes §4.3, "ION -> application").

What an answer promises: 2xx means the BOD is stored durably (`m3a_bod_inbox`, one transaction)
and its handling was handed to `on_bod` (the flows' enqueue hook), so ION may forget it. Anything
else makes ION deliver again, and a repeated delivery (same messageId or BODID) is answered 2xx
without being stored twice.

What is refused, and how (`docs/operations.md` lists the reason codes):

- 401 without the configured bearer token or basic credentials (none configured: every request);
- 413 when the request is larger than `max_message_bytes` (+ the multipart envelope): by
  Content-Length before reading anything, or while streaming, so memory stays bounded; a deflated
  payload is inflated with the same bound;
- 415/400 for a body that is not an IMS multipart message, and 400 for a payload that is not a
  safe, well-formed Infor BOD (malformed XML, DTD/entities, wrong namespace); each also becomes an
  incident with what was received;
- a well-formed BOD whose noun is not handled or whose content is invalid is acknowledged (202)
  and becomes an incident with the original payload: ION cannot fix it by sending it again.

Mounting: `app.include_router(ims_router(engine, settings.m3.ion, on_bod=...))`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from sqlalchemy.engine import Engine

from m3amazon.config import IonSettings
from m3amazon.m3.ion import bod
from m3amazon.m3.ion.ims import ENVELOPE_ALLOWANCE, ImsMessage, ImsProtocolError, decode_message
from m3amazon.m3.ion.inbox import ENQUEUED, StoredBod, mark_enqueued, record
from m3amazon.m3.ion.xml import BodError
from m3amazon.ops.incidents import Incident, open_incident

log = logging.getLogger(__name__)

OnBod = Callable[[StoredBod], Awaitable[bool | None]]

BODS = Counter(
    "m3amazon_bods_total",
    "BOD deliveries on the IMS endpoint, by document and result",
    ["document", "result"],
)


def _credentials_check(settings: IonSettings) -> Callable[[Request], bool]:
    token = settings.inbound_token_value() if settings.inbound_auth == "bearer" else None
    password = settings.inbound_password_value() if settings.inbound_auth == "basic" else None
    expected_basic = None
    if settings.inbound_auth == "basic" and settings.inbound_username and password is not None:
        expected_basic = base64.b64encode(f"{settings.inbound_username}:{password}".encode()).decode()
    if token is None and expected_basic is None:
        log.warning("IMS endpoints have no inbound credentials configured (m3.ion.inbound_*): refusing all")

    def check(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if token is not None and scheme.lower() == "bearer":
            return secrets.compare_digest(value.strip().encode(), token.encode())
        if expected_basic is not None and scheme.lower() == "basic":
            return secrets.compare_digest(value.strip().encode(), expected_basic.encode())
        return False

    return check


def _refusal(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"status": "refused", "reason": reason, "message": message}, status_code=status)


def ims_router(
    engine: Engine, settings: IonSettings, on_bod: OnBod | None = None, *, prefix: str = "/service"
) -> APIRouter:
    """The IMS endpoints over `engine` (see the module docstring). Without `on_bod` BODs are stored
    and stay "received" for a dispatcher to hand over later."""
    router = APIRouter(prefix=prefix, tags=["ION IMS"])
    authorised = _credentials_check(settings)
    limit = settings.max_message_bytes

    def unauthorised() -> JSONResponse:
        return JSONResponse(
            {"status": "refused", "reason": "UNAUTHORIZED"},
            status_code=401,
            headers={
                "WWW-Authenticate": "Bearer" if settings.inbound_auth == "bearer" else 'Basic realm="IMS"'
            },
        )

    async def incident(reason: str, message: str, key: str, payload: Any, subject: str | None = None) -> None:
        BODS.labels(document=subject or "unknown", result=reason).inc()
        await asyncio.to_thread(
            open_incident,
            engine,
            Incident(
                key=f"bod:{reason}:{key}",
                category="bod",
                reason_code=reason,
                message=message,
                subject=subject,
                payload=payload,
                actions=("discard",),
            ),
        )

    @router.get("/ping")
    async def ping(request: Request) -> JSONResponse:
        if not authorised(request):
            return unauthorised()
        return JSONResponse({"status": "OK", "code": 200})

    @router.get("/protocol")
    async def protocol(request: Request) -> JSONResponse:
        if not authorised(request):
            return unauthorised()
        return JSONResponse({"messageMethod": "multipartMessage", "hasDiscovery": False, "version": "v3"})

    @router.post("/v3/multipartMessage")
    async def multipart_message(request: Request) -> JSONResponse:
        if not authorised(request):
            return unauthorised()
        ceiling = limit + ENVELOPE_ALLOWANCE
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > ceiling:
            message = f"the message is {declared} bytes; at most {ceiling} are accepted"
            await incident("BOD_TOO_LARGE", message, uuid.uuid4().hex, {"content_length": int(declared)})
            return _refusal(413, "BOD_TOO_LARGE", message)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > ceiling:
                message = f"the message exceeds {ceiling} bytes"
                await incident("BOD_TOO_LARGE", message, uuid.uuid4().hex, {"received_bytes": len(body)})
                return _refusal(413, "BOD_TOO_LARGE", message)
        raw = bytes(body)
        try:
            message_in = decode_message(request.headers.get("content-type", ""), raw, max_payload=limit)
        except ImsProtocolError as exc:
            key = hashlib.sha256(raw).hexdigest()[:32]
            await incident(exc.reason_code, exc.message, key, raw.decode("utf-8", errors="replace"))
            return _refusal(exc.status, exc.reason_code, exc.message)
        return await _handle(message_in)

    async def _handle(message_in: ImsMessage) -> JSONResponse:
        parameters = message_in.parameters
        key = parameters.message_id
        text = message_in.payload.decode("utf-8", errors="replace")
        original = {"parameters": parameters.to_json(), "payload": text}
        try:
            decoded = await asyncio.to_thread(bod.decode, message_in.payload, max_bytes=limit)
            if not decoded.envelope.bod_id:
                raise BodError(
                    "BOD_INVALID", f"{decoded.envelope.document_name} has no ApplicationArea/BODID"
                )
        except BodError as exc:
            await incident(exc.reason_code, exc.message, key, original, parameters.document_name)
            if exc.is_rejection:
                status = 413 if exc.reason_code == "BOD_TOO_LARGE" else 400
                return _refusal(status, exc.reason_code, exc.message)
            return JSONResponse(
                {"status": "incident", "reason": exc.reason_code, "message": exc.message}, status_code=202
            )
        envelope = decoded.envelope
        assert envelope.bod_id is not None
        stored, new = await asyncio.to_thread(
            record,
            engine,
            message_id=parameters.message_id,
            bod_id=envelope.bod_id,
            verb=envelope.verb,
            noun=envelope.noun,
            from_logical_id=parameters.from_logical_id or envelope.sender_logical_id,
            payload=text,
        )
        if stored.status != ENQUEUED and on_bod is not None:
            try:
                taken = await on_bod(stored)
            except Exception:
                log.exception("handing BOD %s (inbox %d) to the flows failed", stored.bod_id, stored.inbox_id)
                BODS.labels(document=envelope.document_name, result="enqueue_failed").inc()
                return _refusal(
                    503, "ENQUEUE_FAILED", "the BOD is stored but could not be enqueued; send again"
                )
            if taken is not False:  # False: no flow takes this noun yet; it stays "received"
                await asyncio.to_thread(mark_enqueued, engine, stored.inbox_id)
        BODS.labels(document=envelope.document_name, result="accepted" if new else "duplicate").inc()
        return JSONResponse(
            {"status": "accepted", "inboxId": stored.inbox_id, "duplicate": not new}, status_code=202
        )

    return router
