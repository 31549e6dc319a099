"""Marking of personal data (PII) in the canonical model.

A field declared with `pii_field()` carries `{"pii": True}` in its JSON schema. Everything that
writes canonical objects somewhere (logs, incidents, the console, the project's own tables) asks
`pii_paths()` / `masked()` which values to hide or encrypt, so the list of PII lives in one place:
the model itself.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

MASK = "***"


def pii_field(default: Any = None, **kwargs: Any) -> Any:
    """A model field that holds personal data (name, address line, phone, email, postal code)."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["pii"] = True
    return Field(default, json_schema_extra=extra, **kwargs)


def is_pii(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields[field]
    extra = info.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("pii"))


def masked(value: Any) -> Any:
    """A JSON-ready copy of `value` with every PII field replaced by '***' (recursively)."""
    if isinstance(value, BaseModel):
        out: dict[str, Any] = {}
        for name in type(value).model_fields:
            item = getattr(value, name)
            if item is not None and is_pii(type(value), name):
                out[name] = MASK
            else:
                out[name] = masked(item)
        return out
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class PIIModel(BaseModel):
    """Base for canonical models holding PII: their repr never shows the personal values."""

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name is not None and value is not None and is_pii(type(self), name):
                yield name, MASK
            else:
                yield name, value
