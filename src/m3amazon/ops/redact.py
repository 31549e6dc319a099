"""Hiding personal data and secrets in what people see: console pages and log lines.

Two tools, one list of what is personal (the canonical model's `pii_field`s):

- `mask_keys(value)`: a copy of a JSON-like value with every PII key's value replaced by "***"
  (a second line of defence for payloads that are stored masked already, and for payloads of
  other origins);
- `redact(text)`: a log line with e-mail addresses, bearer/API tokens, passwords and secrets in
  `key=value` or JSON form replaced by "***".
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from m3amazon.canonical.party import Address, Party
from m3amazon.canonical.pii import MASK, is_pii

#: Keys that are personal whatever the model they come from (Amazon's and M3's own spellings).
EXTRA_PII_KEYS = frozenset(
    {
        "buyer_name",
        "buyer_email",
        "email",
        "phone",
        "address_line1",
        "address_line2",
        "address_line3",
        "addressline1",
        "addressline2",
        "addressline3",
        "buyername",
        "buyeremail",
        "recipientname",
    }
)


@cache
def pii_keys() -> frozenset[str]:
    """Lower-case names of the canonical model's PII fields, plus the usual foreign spellings."""
    keys = {name for model in (Address, Party) for name in model.model_fields if is_pii(model, name)}
    return frozenset({k.lower() for k in keys} | EXTRA_PII_KEYS)


def mask_keys(value: Any) -> Any:
    """A copy of `value` with the values of PII keys (any depth) replaced by "***"."""
    if isinstance(value, dict):
        keys = pii_keys()
        return {
            k: (MASK if str(k).lower() in keys and v not in (None, "", MASK) else mask_keys(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_keys(v) for v in value]
    return value


_SECRET_WORDS = r"password|passwd|secret|token|api[_-]?key|authorization|refresh_token|client_secret|cookie"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer xyz / Basic xyz
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 ***"),
    # our API tokens and Amazon's LWA tokens wherever they stand
    (re.compile(r"\bm3a_[A-Za-z0-9_-]{20,}"), MASK),
    (re.compile(r"\b(Atza|Atzr)\|[A-Za-z0-9._~+/=|-]+"), r"\1|***"),
    # "password": "x" / password=x / secret: x
    (
        re.compile(rf"(?i)([\"']?(?:{_SECRET_WORDS})[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&}}]+)"),
        r"\1***",
    ),
    # e-mail addresses
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), MASK),
)


def redact(text: str) -> str:
    """`text` with secrets and e-mail addresses replaced by "***"."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
