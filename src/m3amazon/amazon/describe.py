"""What the product makes of one notification, offline (`m3amazon inspect notification FILE`).

Why a command: when a message lands in the incident list, an operator wants to know whether the
file is a readable SP-API notification and which canonical event it becomes, without a worker,
a queue or Amazon. The same parser the intake uses decides; its reason codes and sentences are
shown as they are.
"""

from __future__ import annotations

from typing import Any

from m3amazon.amazon.notifications import NotificationError, parse_event


def describe_notification(body: str | bytes) -> dict[str, Any]:
    """{"ok": True, notification, event_type, event} or {"ok": False, error: {reason_code, message}}."""
    try:
        notification, event = parse_event(body)
    except NotificationError as exc:
        return {"ok": False, "error": {"reason_code": exc.reason_code, "message": exc.message}}
    return {
        "ok": True,
        "notification": {
            "type": notification.notification_type,
            "id": notification.notification_id,
            "event_time": notification.event_time.isoformat() if notification.event_time else None,
        },
        "event_type": type(event).__name__,
        "event": event.model_dump(mode="json"),
    }
