"""What operators look at: an order (trail, timeline, incidents) and an incident (with its payload).

The CLI (`m3amazon order show`, `m3amazon incidents ...`) and the admin API read through these
functions, so both show the same facts. Payloads are stored with personal data already masked
(flows/records.py masks before it writes); nothing here unmasks anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from m3amazon.ops import incidents, trail

#: Incident fields shown in lists (the payload only one incident at a time).
SUMMARY_FIELDS = (
    "id",
    "key",
    "category",
    "reason_code",
    "message",
    "subject",
    "actions",
    "status",
    "resolution",
    "occurrences",
    "created_at",
    "updated_at",
)


def incident_summary(row: dict[str, Any]) -> dict[str, Any]:
    """An incident row without its payload, actions as a list."""
    out = {name: row.get(name) for name in SUMMARY_FIELDS}
    out["actions"] = _actions(row.get("actions"))
    return out


def incident_detail(row: dict[str, Any]) -> dict[str, Any]:
    """An incident row with its payload as an operator may see it (see `shown_payload`)."""
    out = incident_summary(row)
    out["payload"] = shown_payload(row)
    return out


def shown_payload(row: dict[str, Any]) -> Any:
    """The payload parsed (JSON when it is JSON, else the text as stored), never unmasked.

    Order incidents are stored masked and SP-API notification bodies carry no personal data; a BOD
    as ION sent it can (ship-to addresses), so it is shown as the codec reads it, masked, instead
    of as received.
    """
    text = row.get("payload")
    if row.get("category") == "bod" and text:
        from m3amazon.m3.ion.describe import describe_bod

        return {
            "withheld": "the BOD as received may hold personal data: shown as read, personal data masked",
            "bod": describe_bod(text.encode("utf-8"), masked=True),
        }
    return parse_payload(text)


def parse_payload(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def problems(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The `problems` of an order incident's payload (reason code, message, SKU, suggestions, ...)."""
    payload = parse_payload(row.get("payload"))
    if not isinstance(payload, dict):
        return []
    found = payload.get("problems")
    return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []


def _actions(text: Any) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return [str(text)]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass(frozen=True)
class OrderView:
    """Everything known about one Amazon order: where it stands, what happened, what is wrong."""

    amazon_order_id: str
    trail: dict[str, Any] | None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)


def order_view(engine: Engine, amazon_order_id: str) -> OrderView | None:
    """None when the product has never heard of the order."""
    entry = trail.get(engine, amazon_order_id)
    events = trail.timeline(engine, amazon_order_id)
    rows = incidents.list_incidents(engine, status=None, subject=amazon_order_id, limit=1000)
    if entry is None and not events and not rows:
        return None
    return OrderView(
        amazon_order_id,
        entry,
        events,
        [incident_summary(r) for r in sorted(rows, key=lambda r: r["id"])],
    )


def json_ready(value: Any) -> Any:
    """Datetimes as ISO text, containers copied, everything else as it is."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
