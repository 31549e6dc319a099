"""The ION Messaging Service (IMS) v3 protocol: multipart messages, both directions.

A v3 `multipartMessage` is a `multipart/form-data` POST with two parts (research notes §4.3):
`ParameterRequest` (JSON: documentName, fromLogicalId, toLogicalId, messageId, encoding,
characterSet, optional accountingEntity, location, documentId, variationId, ...) and
`MessagePayload` (the BOD bytes, deflated when `encoding` says so). ION answers 202 on accept
(any 2xx is success).

This module holds the wire format (`encode_message` / `decode_message`), bounded inflation, and
`ImsClient`, the outbound sender (to ION through the ION API, or to any IMS endpoint such as our
own in tests). The inbound endpoints are in `m3amazon.web.ims`; the M3 simulator sends its BODs
with `encode_message` too.

Deflate: whether ION's "deflate" is zlib-wrapped or raw is UNVERIFIED, so both are accepted on
input; output is zlib-wrapped. The encoding value for it is taken as "DEFLATE" (UNVERIFIED).
"""

from __future__ import annotations

import json
import logging
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import stamina
from python_multipart.multipart import MultipartParser, parse_options_header

log = logging.getLogger(__name__)

PARAMETERS_PART = "ParameterRequest"
PAYLOAD_PART = "MessagePayload"
DEFLATE = "DEFLATE"
#: Bytes a multipart envelope adds around its parts (headers, boundaries); the request limit is
#: the payload limit plus this.
ENVELOPE_ALLOWANCE = 64 * 1024


class ImsProtocolError(Exception):
    """A request that is not a usable IMS message (HTTP status, reason code, sentence)."""

    def __init__(self, status: int, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason_code = reason_code
        self.message = message


@dataclass(frozen=True)
class ImsParameters:
    """The ParameterRequest part."""

    document_name: str
    from_logical_id: str
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    to_logical_id: str = "lid://default"
    encoding: str = "NONE"
    character_set: str = "UTF-8"
    accounting_entity: str | None = None
    location: str | None = None
    document_id: str | None = None
    variation_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "documentName": self.document_name,
            "fromLogicalId": self.from_logical_id,
            "toLogicalId": self.to_logical_id,
            "messageId": self.message_id,
            "encoding": self.encoding,
            "characterSet": self.character_set,
        }
        for key, value in (
            ("accountingEntity", self.accounting_entity),
            ("location", self.location),
            ("documentId", self.document_id),
            ("variationId", self.variation_id),
        ):
            if value is not None:
                body[key] = value
        return {**body, **self.extra}

    @classmethod
    def from_json(cls, data: object) -> ImsParameters:
        if not isinstance(data, dict):
            raise ImsProtocolError(400, "IMS_BAD_PARAMETERS", "ParameterRequest is not a JSON object")
        missing = [key for key in ("documentName", "messageId") if not str(data.get(key) or "").strip()]
        if missing:
            raise ImsProtocolError(400, "IMS_BAD_PARAMETERS", f"ParameterRequest lacks {', '.join(missing)}")
        known = {"documentName", "fromLogicalId", "toLogicalId", "messageId", "encoding", "characterSet",
                 "accountingEntity", "location", "documentId", "variationId"}  # fmt: skip
        return cls(
            document_name=str(data["documentName"]),
            from_logical_id=str(data.get("fromLogicalId") or ""),
            message_id=str(data["messageId"])[:250],
            to_logical_id=str(data.get("toLogicalId") or ""),
            encoding=str(data.get("encoding") or "NONE").upper(),
            character_set=str(data.get("characterSet") or "UTF-8"),
            accounting_entity=_optional(data.get("accountingEntity")),
            location=_optional(data.get("location")),
            document_id=_optional(data.get("documentId")),
            variation_id=_optional(data.get("variationId")),
            extra={str(k): str(v) for k, v in data.items() if k not in known and isinstance(v, str | int)},
        )


def _optional(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


@dataclass(frozen=True)
class ImsMessage:
    parameters: ImsParameters
    #: The BOD as sent (inflated when it came deflated).
    payload: bytes


# -- wire format ------------------------------------------------------------------------------


def encode_message(parameters: ImsParameters, payload: bytes) -> tuple[str, bytes]:
    """(content type, body) of a v3 multipart message; the payload is deflated when asked."""
    boundary = uuid.uuid4().hex
    data = zlib.compress(payload) if parameters.encoding == DEFLATE else payload
    parts = [
        (PARAMETERS_PART, "application/json", json.dumps(parameters.to_json()).encode()),
        (PAYLOAD_PART, "application/octet-stream", data),
    ]
    body = bytearray()
    for name, content_type, content in parts:
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        body += content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(body)


def decode_message(content_type: str, body: bytes, *, max_payload: int) -> ImsMessage:
    """The IMS message in a multipart body, or ImsProtocolError (4xx) saying what is wrong."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ImsProtocolError(
            415, "IMS_NOT_MULTIPART", "an IMS message is multipart/form-data with a boundary"
        )
    parts: dict[str, bytearray] = {}
    current: dict[str, Any] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        current["field"] = current.get("field", b"") + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        current["value"] = current.get("value", b"") + data[start:end]

    def on_header_end() -> None:
        if current.pop("field", b"").lower() == b"content-disposition":
            _, disposition = parse_options_header(current.get("value", b""))
            current["name"] = disposition.get(b"name", b"").decode("latin-1")
        current.pop("value", None)

    def on_part_begin() -> None:
        current.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        name = current.get("name", "")
        buffer = parts.setdefault(name, bytearray())
        buffer += data[start:end]
        if len(buffer) > max_payload:
            raise ImsProtocolError(413, "BOD_TOO_LARGE", f"part {name} exceeds {max_payload} bytes")

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except ImsProtocolError:
        raise
    except Exception as exc:  # python-multipart raises its own errors on broken bodies
        raise ImsProtocolError(
            400, "IMS_BAD_MULTIPART", f"the multipart body cannot be read: {exc}"
        ) from None
    if PARAMETERS_PART not in parts or PAYLOAD_PART not in parts:
        raise ImsProtocolError(
            400, "IMS_MISSING_PART", f"an IMS message has a {PARAMETERS_PART} and a {PAYLOAD_PART} part"
        )
    try:
        raw_parameters = json.loads(bytes(parts[PARAMETERS_PART]))
    except ValueError:
        raise ImsProtocolError(400, "IMS_BAD_PARAMETERS", "ParameterRequest is not valid JSON") from None
    parameters = ImsParameters.from_json(raw_parameters)
    payload = bytes(parts[PAYLOAD_PART])
    if parameters.encoding == DEFLATE:
        payload = inflate(payload, max_payload)
    elif parameters.encoding not in ("NONE", ""):
        raise ImsProtocolError(400, "IMS_BAD_PARAMETERS", f"encoding {parameters.encoding} is not supported")
    return ImsMessage(parameters, payload)


def inflate(data: bytes, limit: int) -> bytes:
    """Inflate zlib or raw deflate data, refusing to produce more than `limit` bytes (deflate bombs)."""
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(data, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit or inflater.unconsumed_tail:
            raise ImsProtocolError(413, "BOD_TOO_LARGE", f"the inflated payload exceeds {limit} bytes")
        return out
    raise ImsProtocolError(400, "IMS_BAD_DEFLATE", "the payload is marked DEFLATE but cannot be inflated")


# -- outbound ---------------------------------------------------------------------------------


TokenSource = Callable[[], Awaitable[str]]


class ImsSendError(Exception):
    def __init__(self, message: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


class ImsClient:
    """Sends BODs to an IMS endpoint (ION through the ION API, or any IMS v3 receiver).

    `base_url` is the IMS service root: `{iu}/{ti}/IONSERVICES/api/ion/messaging/service` through
    the ION API gateway (research notes §4.3). Authentication is a bearer token from `token` (the
    .ionapi service account, see `MIClient.bearer_token`) or an httpx auth (basic). Connection
    failures, 429 and 5xx are retried with backoff; the message id stays the same, so a receiver
    that deduplicates on it (ours does) sees one message.
    """

    def __init__(
        self,
        base_url: str,
        *,
        from_logical_id: str,
        to_logical_id: str = "lid://default",
        token: TokenSource | None = None,
        auth: httpx.Auth | None = None,
        deflate: bool = False,
        timeout_s: float = 30.0,
        attempts: int = 5,
        wait_initial: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._from = from_logical_id
        self._to = to_logical_id
        self._token = token
        self._auth = auth
        self._deflate = deflate
        self._attempts = attempts
        self._wait_initial = wait_initial
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport, verify=verify)
        self.sent = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ImsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._token()}"} if self._token else {}

    async def ping(self) -> bool:
        response = await self._http.get(
            f"{self._base}/ping", headers=await self._headers(), auth=self._auth or httpx.USE_CLIENT_DEFAULT
        )
        return response.status_code == 200

    async def send(
        self, document_name: str, payload: bytes, *, message_id: str | None = None, **parameters: Any
    ) -> str:
        """Send one BOD; returns its message id once the receiver answered 2xx."""
        params = ImsParameters(
            document_name=document_name,
            from_logical_id=self._from,
            to_logical_id=self._to,
            message_id=message_id or uuid.uuid4().hex,
            encoding=DEFLATE if self._deflate else "NONE",
            **parameters,
        )
        content_type, body = encode_message(params, payload)
        async for attempt in stamina.retry_context(
            on=lambda exc: isinstance(exc, ImsSendError) and exc.transient,
            attempts=self._attempts,
            timeout=None,
            wait_initial=self._wait_initial,
        ):
            with attempt:
                await self._post(content_type, body)
        self.sent += 1
        return params.message_id

    async def _post(self, content_type: str, body: bytes) -> None:
        try:
            response = await self._http.post(
                f"{self._base}/v3/multipartMessage",
                content=body,
                headers={**await self._headers(), "Content-Type": content_type},
                auth=self._auth or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise ImsSendError(f"IMS endpoint not reachable: {type(exc).__name__}", transient=True) from None
        if response.is_success:
            return
        transient = response.status_code >= 500 or response.status_code == 429
        raise ImsSendError(
            f"IMS endpoint answered HTTP {response.status_code}: {response.text[:200]}",
            status=response.status_code,
            transient=transient,
        )
