"""What `m3amazon inspect bod` prints: a BOD's envelope and canonical objects, or why it is refused.

Personal data is masked by default (the same masking incidents use), so a BOD can be looked at and
shared in a ticket without copying a buyer's address.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from m3amazon.canonical import masked as mask
from m3amazon.m3.ion.bod import decode
from m3amazon.m3.ion.xml import DEFAULT_MAX_BYTES, BodError


def describe_bod(data: bytes, *, masked: bool = True, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """{"ok": True, "envelope": ..., "documents": [...]} or {"ok": False, "error": {...}} (JSON-ready)."""
    try:
        decoded = decode(data, max_bytes=max_bytes)
    except BodError as exc:
        return {"ok": False, "error": {"reason_code": exc.reason_code, "message": exc.message}}
    envelope = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in
                dataclasses.asdict(decoded.envelope).items()}  # fmt: skip
    envelope["document_name"] = decoded.envelope.document_name
    documents = [
        {"type": type(document).__name__, **(mask(document) if masked else document.model_dump(mode="json"))}
        for document in decoded.documents
    ]
    return {"ok": True, "envelope": envelope, "documents": documents}
