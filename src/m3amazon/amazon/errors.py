"""Typed errors of the Amazon edge.

Why typed: a flow decides what to do from the kind of failure, not from a status code buried in a
library exception. `NotFound` and `BadRequest` are facts about the request (retrying will not help,
open an incident); `Throttled` and `Unavailable` are facts about the moment (the durable engine may
try the step again later); `AuthError` means the credentials or the seller's authorisation need a
human. Every error carries the SP-API error `code`, `message`, the operation and Amazon's request id,
which is what Amazon support asks for.

`AmazonTranslationError` is separate: the call worked, but the order Amazon returned cannot become a
canonical order (no price, unknown status, ...). It carries a reason code and a human sentence for
the incident.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any


class AmazonApiError(Exception):
    """An SP-API or LWA call failed. `status` is the HTTP status (0 when no response arrived)."""

    retryable = False

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        operation: str | None = None,
        *,
        details: str | None = None,
        request_id: str | None = None,
        rate_limit: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.operation = operation
        self.details = details
        self.request_id = request_id
        self.rate_limit = rate_limit
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" in {self.operation}" if self.operation else ""
        text = f"HTTP {self.status} {self.code}{where}: {self.message}"
        if self.details:
            text += f" ({self.details})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"operation={self.operation!r}, request_id={self.request_id!r})"
        )


class BadRequest(AmazonApiError):
    """400: the request has missing or invalid parameters."""


class NotFound(AmazonApiError):
    """404: the resource (e.g. the order id) does not exist for this seller."""


class Throttled(AmazonApiError):
    """429: the operation's usage plan is exhausted (after the gateway's retry budget)."""

    retryable = True


class AuthError(AmazonApiError):
    """401/403 from the SP-API, or an LWA token request that was refused."""


class Unavailable(AmazonApiError):
    """500/502/503/504 or no response at all (timeout, connection refused)."""

    retryable = True


class TlsError(AmazonApiError):
    """The server's certificate is not trusted. Retrying cannot help; the CA setting must change."""


def _certificate_problem(exc: BaseException) -> bool:
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def connection_error(exc: BaseException, operation: str | None, prefix: str = "") -> AmazonApiError:
    """The typed error for a request that got no HTTP answer (refused, reset, bad certificate)."""
    text = f"{prefix}{exc}" if str(exc) else f"{prefix}{type(exc).__name__}"
    if _certificate_problem(exc):
        return TlsError(
            0, "CertificateNotTrusted", text + " (set amazon.ca_bundle to the issuing CA)", operation
        )
    return Unavailable(0, "ConnectionError", text, operation)


_BY_STATUS: dict[int, type[AmazonApiError]] = {
    400: BadRequest,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    429: Throttled,
    500: Unavailable,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_from_response(
    status: int, body: bytes | str, headers: Mapping[str, str], operation: str | None
) -> AmazonApiError:
    """The typed error for an SP-API error response (`{"errors": [{code, message, details}]}`).

    Tolerates bodies that are not JSON or not in the documented shape: the status still decides the
    type, and the code falls back to the HTTP reason.
    """
    code, message, details = f"HTTP{status}", "no error body", None
    try:
        data: Any = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        data = None
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        message = text.strip()[:200] or message
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = str(first.get("code") or code)
        message = str(first.get("message") or message)
        details = str(first["details"]) if first.get("details") else None
    cls = _BY_STATUS.get(status, Unavailable if status >= 500 else AmazonApiError)
    return cls(
        status,
        code,
        message,
        operation,
        details=details,
        request_id=headers.get("x-amzn-RequestId"),
        rate_limit=_float_or_none(headers.get("x-amzn-RateLimit-Limit")),
    )


class AmazonTranslationError(ValueError):
    """An Amazon document that cannot become a canonical object. `reason` is a stable code."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        order_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        self.reason = reason
        self.message = message
        self.order_id = order_id
        #: The original document, for the incident (it may hold PII: store it as the incident store does).
        self.payload = payload
        super().__init__(f"{reason}: {message}")

    def __repr__(self) -> str:
        return f"AmazonTranslationError(reason={self.reason!r}, order_id={self.order_id!r})"
