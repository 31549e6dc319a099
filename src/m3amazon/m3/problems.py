"""What keeps an Amazon order from becoming an M3 order: one reason code and one sentence each.

A value of its own (not an exception) because translation is pure and reports every problem of an
order at once; the order flow turns them into one incident.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    reason_code: str
    message: str
    subject: str | None = None
