"""Incidents as the order flow writes them, and an enqueue that records what it was asked to queue.

Shared by the operator-action tests (tests/unit/ops, tests/integration/ops). The payload has the
shape of flows/records.py's `_payload`: the masked event and order, and the problems with their
reason codes, SKUs and suggestions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from m3amazon.canonical import OrderChanged, masked
from m3amazon.ops import db
from m3amazon.ops.incidents import Incident, open_incident


def make_engine(tmp_path: Path, name: str = "ops.sqlite") -> Engine:
    engine = db.create_engine(f"sqlite:///{tmp_path / name}")
    db.create_tables(engine)
    return engine


def unknown_sku(sku: str, suggestions: Sequence[tuple[str, str, float]] = ()) -> dict[str, Any]:
    return {
        "reason_code": "UNKNOWN_SKU",
        "message": f"SKU {sku} has no M3 item (no MMS025MI alias, no sku_to_item entry)",
        "retryable": False,
        "sku": sku,
        "suggestions": [
            {"item_number": i, "name": n, "score": s, "matched_on": "name", "matched_text": n}
            for i, n, s in suggestions
        ],
    }


def problem(reason_code: str, message: str) -> dict[str, Any]:
    return {"reason_code": reason_code, "message": message, "retryable": True}


def order_incident(
    engine: Engine,
    order_id: str,
    category: str,
    problems: Sequence[dict[str, Any]],
    *,
    from_order_flow: bool = True,
) -> int:
    """Open an order incident the way flows/records.py does (the M3-side flows pass no event)."""
    event = OrderChanged(order_id=order_id, reported_status="Unshipped", notification_id=f"n-{order_id}")
    payload = {
        "event": masked(event) if from_order_flow else None,
        "order": {"order_id": order_id, "ship_to": {"name": "***", "line1": "***", "country": "US"}},
        "problems": list(problems),
    }
    reasons = sorted({p["reason_code"] for p in problems})
    return open_incident(
        engine,
        Incident(
            key=f"order:{order_id}:{category}",
            category=category,
            reason_code=reasons[0] if len(reasons) == 1 else "+".join(reasons),
            message="; ".join(p["message"] for p in problems),
            subject=order_id,
            payload=payload,
            actions=("fix mapping then retry", "retry", "discard"),
        ),
    )


class RecordingEnqueue:
    """An `Enqueue` that remembers each (order, reason) and hands out workflow ids in sequence."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    async def __call__(self, order_id: str, reason: str) -> str:
        if self.fail is not None:
            raise self.fail
        self.calls.append((order_id, reason))
        return f"amazon-order:{order_id}:retry:{len(self.calls)}"
