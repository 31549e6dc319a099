"""Alerts: tell people when something needs them, without flooding them.

Anything in the product may `raise_alert` (an incident category filling up, the M3 circuit
opening, a feed stuck in progress). Alerts are grouped per category over a window (default five
minutes): the first alert of a category in a window is held, the rest are counted, and at the end
of the window one message per category goes out with the counts and the distinct subjects. The
same alert key raised again in a window is counted, not repeated.

Delivery uses apprise URLs (email, Slack, Teams, webhooks, ...), routed by category and minimum
severity; a route with categories ["*"] takes everything. Sending never raises into the caller: a
failed delivery is logged, counted, and retried with the next window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import apprise

from m3amazon.config import AlertRoute, AlertSettings

log = logging.getLogger(__name__)


__all__ = ["Alert", "AlertRoute", "AlertSettings", "Alerter", "Severity"]


class Severity(IntEnum):
    INFO = 10
    WARNING = 20
    ERROR = 30
    CRITICAL = 40


@dataclass(frozen=True)
class Alert:
    category: str
    severity: Severity
    title: str
    body: str = ""
    #: Alerts with the same key in one window are one alert counted several times.
    key: str | None = None
    subject: str | None = None


@dataclass
class _Pending:
    severity: Severity
    first: Alert
    count: int = 0
    keys: set[str] = field(default_factory=set)
    subjects: list[str] = field(default_factory=list)


class Alerter:
    def __init__(
        self,
        settings: AlertSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        notifier_factory: Callable[[list[str]], Any] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._factory = notifier_factory or _apprise_for
        self._pending: dict[str, _Pending] = {}
        self._window_started = clock()
        self.sent = 0
        self.failed = 0

    def raise_alert(self, alert: Alert) -> None:
        """Record an alert for the current window (cheap, never blocks, never raises)."""
        pending = self._pending.get(alert.category)
        if pending is None:
            pending = self._pending[alert.category] = _Pending(alert.severity, alert)
        key = alert.key or f"{alert.title}|{alert.subject}"
        if key in pending.keys:
            pending.count += 1
            return
        pending.keys.add(key)
        pending.count += 1
        pending.severity = max(pending.severity, alert.severity)
        if alert.subject and len(pending.subjects) < self.settings.max_subjects:
            pending.subjects.append(alert.subject)

    def pending(self) -> dict[str, int]:
        """Alerts collected in the current window, per category (what the next flush will tell)."""
        return {category: item.count for category, item in sorted(self._pending.items())}

    def due(self) -> bool:
        return self._clock() - self._window_started >= self.settings.window_s

    async def flush(self) -> int:
        """Send one message per category with what the window collected; returns messages sent."""
        pending, self._pending = self._pending, {}
        self._window_started = self._clock()
        sent = 0
        for category, item in sorted(pending.items()):
            for route in self.settings.routes:
                if not _takes(route, category, item.severity):
                    continue
                title, body = self._message(category, item)
                if await self._send(route.urls, title, body):
                    sent += 1
                else:
                    self._requeue(category, item)
        self.sent += sent
        return sent

    async def run(self, stop: asyncio.Event, tick_s: float = 1.0) -> None:
        """Flush at the end of every window until `stop`; a last flush on the way out."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick_s)
            if self.due() or stop.is_set():
                await self.flush()

    def _message(self, category: str, item: _Pending) -> tuple[str, str]:
        distinct = len(item.keys)
        title = f"[m3-amazon] {item.severity.name.lower()}: {item.first.title}"
        if item.count > 1:
            title += f" (+{item.count - 1} more in this window)"
        lines = [item.first.body] if item.first.body else []
        lines.append(f"Category {category}: {item.count} alert(s), {distinct} distinct.")
        if item.subjects:
            lines.append("Subjects: " + ", ".join(item.subjects))
        return title, "\n".join(lines)

    async def _send(self, urls: list[str], title: str, body: str) -> bool:
        try:
            notifier = self._factory(urls)
            ok = bool(await asyncio.to_thread(notifier.notify, title=title, body=body))
        except Exception as exc:  # a broken alert channel must not break the worker
            log.warning("alert delivery failed: %s", exc)
            ok = False
        if not ok:
            self.failed += 1
            log.warning("alert %r could not be delivered; it will be sent with the next window", title)
        return ok

    def _requeue(self, category: str, item: _Pending) -> None:
        current = self._pending.get(category)
        if current is None:
            self._pending[category] = item
        else:
            current.count += item.count
            current.keys |= item.keys


def _takes(route: AlertRoute, category: str, severity: Severity) -> bool:
    wanted = Severity[route.min_severity.upper()]
    return severity >= wanted and ("*" in route.categories or category in route.categories)


def _apprise_for(urls: list[str]) -> apprise.Apprise:
    notifier = apprise.Apprise()
    for url in urls:
        if not notifier.add(url):
            raise ValueError(f"not a usable apprise URL: {url.split('://')[0]}://...")
    return notifier
