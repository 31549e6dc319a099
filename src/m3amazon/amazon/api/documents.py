"""Feed and report documents at Amazon's pre-signed URLs: upload, download, gunzip, decode.

Why outside the gateway's call path: a pre-signed URL is a plain HTTPS GET or PUT to storage, not an
SP-API operation. It carries no LWA token (the signature is in the URL), has no usage plan, and
expires after five minutes. Its failures are different too: a download can arrive cut short (the
gzip stream ends early, or the connection closes before Content-Length bytes), which is worth a
few quick retries of the same URL; an expired URL answers 403, and then only a fresh
getReportDocument / getFeedDocument helps (the caller does that, see `DocumentExpired`).

Text decoding: report documents come in the marketplace's encoding (UTF-8, or Windows-1252 for
some European flat files; research §11.5 says it is unverified which). The declared charset of the
response wins when it decodes; otherwise a UTF-8 byte-order mark, then strict UTF-8, then
Windows-1252, then ISO-8859-1, which decodes any byte string, so a report is never lost to its
encoding. The encoding used is returned with the text.

The HTTP client is the one the API's library client already holds (same TLS trust, timeout and
connection pool); requests are sent without any SP-API header.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import random
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from m3amazon.amazon.errors import AmazonApiError, AuthError, Unavailable, connection_error

log = logging.getLogger(__name__)

GZIP = "GZIP"
_T = TypeVar("_T")


class DocumentExpired(AuthError):
    """The pre-signed URL was refused (expired after five minutes): fetch the document anew."""


@dataclass(frozen=True)
class TransferPolicy:
    retries: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return rng.uniform(ceiling / 2, ceiling)


def decode_text(data: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, encoding) for a document's bytes, per the module docstring."""
    declared = _charset(content_type)
    if declared:
        try:
            return data.decode(declared), declared
        except (LookupError, UnicodeDecodeError):
            log.warning("document declared charset %s but does not decode with it", declared)
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace"), "utf-8-sig"
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("iso-8859-1"), "iso-8859-1"


def _charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def decompress(data: bytes, compression: str | None) -> bytes:
    """The document's bytes, gunzipped when Amazon says GZIP (a cut-short stream raises)."""
    if not compression:
        return data
    if compression.upper() != GZIP:
        raise AmazonApiError(200, "UnknownCompression", f"compressionAlgorithm {compression!r} is not GZIP")
    return gzip.decompress(data)


class DocumentTransfer:
    """Pre-signed URL transfers with bounded retries (see the module docstring)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        policy: TransferPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int | None = None,
    ) -> None:
        self._http = http
        self.policy = policy or TransferPolicy()
        self._sleep = sleep
        self._rng = random.Random(seed)
        #: Transfers that failed and were tried again (cut short, 5xx, timeouts).
        self.retried = 0

    async def download(self, url: str, *, compression: str | None = None) -> tuple[bytes, str | None]:
        """The document's bytes (decompressed) and the response's Content-Type."""

        async def once() -> tuple[bytes, str | None]:
            response = await self._http.get(url)
            _check(response, "download")
            try:
                return decompress(response.content, compression), response.headers.get("content-type")
            except (EOFError, OSError, zlib.error) as exc:
                raise Unavailable(
                    200, "TruncatedDocument", f"the document is cut short ({exc})", "download"
                ) from None

        return await self._with_retries("download", once)

    async def download_text(self, url: str, *, compression: str | None = None) -> tuple[str, str]:
        """(text, encoding) of a text document."""
        data, content_type = await self.download(url, compression=compression)
        return decode_text(data, content_type)

    async def upload(self, url: str, content: bytes, content_type: str) -> None:
        """PUT `content` with the content type given to createFeedDocument (the URL is signed for it)."""

        async def once() -> None:
            response = await self._http.put(url, content=content, headers={"content-type": content_type})
            _check(response, "upload")

        await self._with_retries("upload", once)

    async def _with_retries(self, what: str, once: Callable[[], Awaitable[_T]]) -> _T:
        attempt = 0
        while True:
            try:
                return await once()
            except httpx.TimeoutException as exc:
                error: AmazonApiError = Unavailable(0, "Timeout", f"no answer ({type(exc).__name__})", what)
            except httpx.TransportError as exc:  # includes a body shorter than its Content-Length
                error = connection_error(exc, what)
            except Unavailable as exc:
                error = exc
            if not error.retryable or attempt >= self.policy.retries:
                raise error
            self.retried += 1
            log.info("document %s failed (%s); trying again", what, error.code)
            await self._sleep(self.policy.delay(attempt, self._rng))
            attempt += 1


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code < 300:
        return
    text = response.text[:200]
    if response.status_code == 403:
        raise DocumentExpired(403, "DocumentUrlRefused", f"the pre-signed URL was refused: {text}", what)
    if response.status_code >= 500:
        raise Unavailable(response.status_code, f"HTTP{response.status_code}", text or "storage error", what)
    raise AmazonApiError(response.status_code, f"HTTP{response.status_code}", text or "refused", what)
