"""A circuit breaker per M3 connection: when M3 is down, M3-bound work waits instead of failing.

Why hold rather than fail: every caller of the M3 edge is a durable workflow step that would
otherwise burn its retries against a dead server and end in an incident per order, although
nothing is wrong with the orders. So:

- closed: calls go through; each transient failure (timeout, 5xx, dropped or refused connection,
  token endpoint down) counts, any answer from M3 (business errors included) resets the count;
- after `failure_threshold` consecutive transient failures the breaker opens: it tells
  `on_state_change(old, new)` (alerting hooks in here; it is logged at WARNING meanwhile) and every
  M3 call waits in `wait_until_closed()`;
- a background probe (the client's `ping`, a cheap read) runs after `probe_initial_s`, doubling up
  to `probe_max_s` while it fails (half-open while it runs); when it succeeds the breaker closes
  and all waiting calls continue.

A call that failed while the breaker opened is not lost either: the client waits for the breaker
and sends it again when that is safe (reads, and writes M3 certainly did not run); a write whose
outcome is unknown goes back to its caller, which looks its object up by natural key first.

`circuit_state()` reports every live breaker for /metrics and the console; the gauge
`m3amazon_m3_circuit_state` (0 closed, 1 half-open, 2 open) carries the same per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from prometheus_client import Gauge

log = logging.getLogger(__name__)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_GAUGE_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}
CIRCUIT_GAUGE = Gauge(
    "m3amazon_m3_circuit_state",
    "Circuit breaker of an M3 connection: 0 closed, 1 half-open (probing), 2 open (M3 calls wait)",
    ["connection"],
)


@dataclass(frozen=True)
class CircuitPolicy:
    """When the breaker opens and how it probes (from M3Settings.circuit)."""

    enabled: bool = True
    failure_threshold: int = 10
    probe_initial_s: float = 1.0
    probe_max_s: float = 60.0


StateListener = Callable[[CircuitState, CircuitState], None]

_BREAKERS: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()


def circuit_state() -> dict[str, str]:
    """State of each M3 connection's breaker (the worst when a connection has several clients)."""
    states: dict[str, CircuitState] = {}
    for breaker in list(_BREAKERS):
        seen = states.get(breaker.name)
        if seen is None or _GAUGE_VALUE[breaker.state] > _GAUGE_VALUE[seen]:
            states[breaker.name] = breaker.state
    return {name: state.value for name, state in sorted(states.items())}


class CircuitBreaker:
    """See the module docstring. Lives on one event loop (that of the client that owns it)."""

    def __init__(
        self,
        name: str,
        policy: CircuitPolicy,
        probe: Callable[[], Awaitable[object]],
        *,
        on_state_change: StateListener | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self._probe = probe
        self._listeners: list[StateListener] = [self._log]
        if on_state_change is not None:
            self._listeners.append(on_state_change)
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._closed: asyncio.Event | None = None
        self._probe_task: asyncio.Task[None] | None = None
        #: Calls currently held by the open breaker.
        self.waiting = 0
        #: How many times the breaker opened.
        self.openings = 0
        _BREAKERS.add(self)
        CIRCUIT_GAUGE.labels(connection=name).set(0)

    @property
    def state(self) -> CircuitState:
        return self._state

    def add_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def _event(self) -> asyncio.Event:
        if self._closed is None:
            self._closed = asyncio.Event()
            if self._state is CircuitState.CLOSED:
                self._closed.set()
        return self._closed

    async def wait_until_closed(self) -> None:
        """Return at once when closed; otherwise hold the caller until a probe succeeded."""
        if not self.policy.enabled or self._state is CircuitState.CLOSED:
            return
        self.waiting += 1
        try:
            await self._event().wait()
        finally:
            self.waiting -= 1

    def record_success(self) -> None:
        self._failures = 0

    def record_failure(self) -> None:
        if not self.policy.enabled:
            return
        self._failures += 1
        if self._state is CircuitState.CLOSED and self._failures >= self.policy.failure_threshold:
            self._open()

    def _open(self) -> None:
        self.openings += 1
        self._event().clear()
        self._set(CircuitState.OPEN)
        if self._probe_task is None or self._probe_task.done():
            self._probe_task = asyncio.get_running_loop().create_task(self._probe_until_closed())

    async def _probe_until_closed(self) -> None:
        delay = self.policy.probe_initial_s
        while True:
            await asyncio.sleep(delay)
            self._set(CircuitState.HALF_OPEN)
            try:
                await self._probe()
            except Exception as exc:
                log.info("M3 connection %s: probe failed (%s); next in %.1f s", self.name, exc, delay)
                self._set(CircuitState.OPEN)
                delay = min(self.policy.probe_max_s, delay * 2)
                continue
            self._failures = 0
            self._set(CircuitState.CLOSED)
            self._event().set()
            return

    def _set(self, new: CircuitState) -> None:
        old, self._state = self._state, new
        if old is new:
            return
        CIRCUIT_GAUGE.labels(connection=self.name).set(_GAUGE_VALUE[new])
        for listener in self._listeners:
            try:
                listener(old, new)
            except Exception:
                log.exception("a circuit breaker listener failed")

    def _log(self, old: CircuitState, new: CircuitState) -> None:
        if new is CircuitState.OPEN and old is CircuitState.CLOSED:
            log.warning(
                "M3 connection %s: circuit breaker OPEN after %d transient failures; M3 calls wait until a"
                " probe succeeds",
                self.name,
                self._failures,
            )
        elif new is CircuitState.CLOSED:
            log.warning(
                "M3 connection %s: circuit breaker closed again; %d waiting calls continue",
                self.name,
                self.waiting,
            )

    async def aclose(self) -> None:
        """Stop probing (the client is closing); waiting calls are released to fail on their own."""
        task, self._probe_task = self._probe_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._closed is not None:
            self._closed.set()
