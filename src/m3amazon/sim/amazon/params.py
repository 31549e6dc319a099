"""How the simulated SP-API reads requests and says no: parameters, errors, pagination tokens.

Every operation module uses the same helpers so that all operations enforce the models' rules the
same way: array parameters comma-separated (Swagger 2.0's default `collectionFormat`, repeated
parameters are accepted too), enums checked, undeclared parameters refused, date-times in ISO 8601,
and errors in the models' `{"errors": [{code, message, details}]}` shape.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any


class SpApiError(Exception):
    """An SP-API error answer: HTTP status plus the model's error object."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        self.status, self.code, self.message, self.details = status, code, message, details
        super().__init__(message)


def bad(message: str, details: str | None = None) -> SpApiError:
    return SpApiError(400, "InvalidInput", message, details)


def not_found(message: str, details: str | None = None) -> SpApiError:
    return SpApiError(404, "NotFound", message, details)


def error_body(code: str, message: str, details: str | None = None) -> dict[str, Any]:
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"errors": [error]}


class Params:
    """The query parameters of one request, checked against the names an operation declares."""

    def __init__(self, pairs: Iterable[tuple[str, str]], allowed: Iterable[str]) -> None:
        self.pairs = list(pairs)
        unknown = sorted({k for k, _ in self.pairs} - set(allowed))
        if unknown:
            raise bad(f"Unknown parameter(s): {', '.join(unknown)}")
        self.single = {k: v for k, v in self.pairs}

    def __contains__(self, name: str) -> bool:
        return name in self.single

    def get(self, name: str) -> str | None:
        return self.single.get(name)

    def list(
        self, name: str, *, allowed: Iterable[str] | None = None, max_items: int | None = None
    ) -> list[str]:
        values = [part for key, value in self.pairs if key == name for part in value.split(",") if part]
        if allowed is not None:
            choices = set(allowed)
            wrong = [v for v in values if v not in choices]
            if wrong:
                raise bad(f"Invalid value(s) for {name}: {', '.join(wrong)}")
        if max_items is not None and len(values) > max_items:
            raise bad(f"{name} accepts at most {max_items} values.")
        return values

    def time(self, name: str) -> datetime | None:
        return parse_time(self.single.get(name), name)

    def int(self, name: str, default: int, low: int, high: int) -> int:
        value = self.single.get(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise bad(f"{name} must be an integer.") from None
        if not low <= number <= high:
            raise bad(f"{name} must be between {low} and {high}.")
        return number

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.single.get(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise bad(f"{name} must be true or false.")
        return value.lower() == "true"

    def required(self, name: str) -> str:
        value = self.single.get(name)
        if not value:
            raise bad(f"Missing required parameter {name}.")
        return value


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when it has no offset), as the SP-API accepts them."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"{name} is not an ISO 8601 date-time.", value[:40]) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def body_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad(f"The request body must be a JSON object ({what}).")
    return body


def fingerprint(filters: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:16]


def make_token(print_: str, offset: int, **extra: Any) -> str:
    """An opaque pagination token bound to the request's filters."""
    raw = json.dumps({"f": print_, "o": offset, **extra}, default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(token: str, print_: str | None, name: str = "nextToken") -> dict[str, Any]:
    """The token's content; `print_` None accepts any filters (for tokens that must come alone)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise bad(f"Invalid {name}.") from None
    if print_ is not None and data.get("f") != print_:
        raise bad(f"{name} does not match the request's other parameters.")
    return dict(data)


def page(items: list[Any], offset: int, size: int) -> tuple[list[Any], int | None]:
    """One page and the offset of the next one (None on the last page)."""
    chunk = items[offset : offset + size]
    return chunk, (offset + size if offset + size < len(items) else None)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a 'Z', as Amazon writes timestamps."""
    text = moment.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
