"""Feed and report documents behind pre-signed URLs, as Amazon's document storage serves them.

A document URL carries its own authorisation: an expiry time and an HMAC signature over the
document id, the method and the expiry (in the spirit of S3's pre-signed URLs), and no SP-API
token is needed or looked at. URLs expire after five minutes (divided by the time scale). Upload
URLs accept one PUT with the content type declared at createFeedDocument; download URLs serve the
bytes as stored, gzip-compressed when the document says GZIP. Refusals come in S3's XML error
shape (AccessDenied, SignatureDoesNotMatch, NoSuchKey).

Guarded by the account's lock (see state.py).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

URL_LIFETIME_S = 300.0


@dataclass
class Document:
    document_id: str
    content_type: str
    content: bytes | None = None
    #: "GZIP" when `content` is stored compressed (report documents).
    compression: str | None = None
    #: Feed input documents are written once by the seller (PUT); report documents by Amazon.
    writable: bool = False


class DocumentError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)

    def xml(self) -> str:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{self.message}</Message></Error>"
        )


class DocumentStore:
    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self._secret = secrets.token_bytes(32)

    def new_upload(self, content_type: str) -> Document:
        document = Document("amzn1.tortuga.4.sim." + uuid.uuid4().hex, content_type, writable=True)
        self.documents[document.document_id] = document
        return document

    def new_download(self, content: bytes, content_type: str, *, compress: bool) -> Document:
        document = Document(
            "amzn1.tortuga.4.sim." + uuid.uuid4().hex,
            content_type,
            gzip.compress(content, mtime=0) if compress else content,
            "GZIP" if compress else None,
        )
        self.documents[document.document_id] = document
        return document

    def get(self, document_id: str) -> Document | None:
        return self.documents.get(document_id)

    def _signature(self, document_id: str, method: str, expires: int) -> str:
        message = f"{method}\n{document_id}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, document: Document, method: str, *, time_scale: float = 1.0) -> str:
        """A pre-signed URL for `method` (GET or PUT) on `document`, valid for five minutes."""
        expires = int(time.time() + URL_LIFETIME_S / time_scale) + 1
        query = urlencode(
            {
                "X-Sim-Expires": expires,
                "X-Sim-Signature": self._signature(document.document_id, method, expires),
            }
        )
        return f"{base_url.rstrip('/')}/_docs/{document.document_id}?{query}"

    def authorise(
        self, document_id: str, method: str, expires: str | None, signature: str | None
    ) -> Document:
        """The document a pre-signed request may use, or DocumentError (403/404) as S3 answers."""
        try:
            when = int(expires or "")
        except ValueError:
            raise DocumentError(
                403, "AccessDenied", "Query-string authentication requires an expiry"
            ) from None
        expected = self._signature(document_id, method, when)
        if not signature or not hmac.compare_digest(signature, expected):
            raise DocumentError(
                403, "SignatureDoesNotMatch", "The request signature we calculated does not match"
            )
        if time.time() > when:
            raise DocumentError(403, "AccessDenied", "Request has expired")
        document = self.documents.get(document_id)
        if document is None:
            raise DocumentError(404, "NoSuchKey", "The specified key does not exist.")
        return document

    def store(self, document: Document, content: bytes, content_type: str | None) -> None:
        """The seller's PUT of a feed document (the declared content type must match the signature's)."""
        if not document.writable:
            raise DocumentError(403, "AccessDenied", "Access Denied")
        if (content_type or "").split(";")[0].strip().lower() != document.content_type.split(";")[
            0
        ].strip().lower():
            raise DocumentError(
                403, "SignatureDoesNotMatch", "The Content-Type does not match the signed one"
            )
        document.content = content
