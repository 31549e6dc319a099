"""What makes the simulated SP-API say no: usage-plan token buckets and injected faults.

The buckets follow Amazon's documented algorithm (rate tokens per second up to burst, one per
request) with the rates of amazon/data/operations.json, so a client that copes here copes with the
real usage plans. Faults (shares of 429/500/503, a queue of fixed next failures, latency) are what
the chaos tests and the demo turn on through POST /_sim/faults.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

VERSION = "2026-01-01"
GET_ORDER = "getOrder"
SEARCH_ORDERS = "searchOrders"


def usage_plans() -> dict[str, tuple[float, int]]:
    """(rate per second, burst) of the Orders v2026 operations, from the derived operations table."""
    text = resources.files("m3amazon.amazon").joinpath("data/operations.json").read_text(encoding="utf-8")
    operations = json.loads(text)["operations"]
    return {
        name: (float(operations[f"{name}@{VERSION}"]["rate"]), int(operations[f"{name}@{VERSION}"]["burst"]))
        for name in (GET_ORDER, SEARCH_ORDERS)
    }


class TokenBucket:
    """Amazon's usage-plan algorithm: `rate` tokens per second up to `burst`, one per request."""

    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


@dataclass
class FaultPlan:
    """Injected failures for SP-API operations: shares per status, fixed next statuses, latency."""

    error_rates: dict[int, float] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)
    latency_s: float = 0.0
    operations: set[str] | None = None
    seed: int = 0
    injected: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FaultPlan:
        rates = {int(k): float(v) for k, v in dict(body.get("error_rates") or {}).items()}
        if any(not 0 <= v <= 1 for v in rates.values()) or sum(rates.values()) > 1:
            raise ValueError("error_rates are shares between 0 and 1 that add up to at most 1")
        ops = body.get("operations")
        plan = cls(
            error_rates=rates,
            fail_next=[int(x) for x in body.get("fail_next") or []],
            latency_s=float(body.get("latency_ms") or 0) / 1000,
            operations=set(ops) if ops else None,
            seed=int(body.get("seed") or 0),
        )
        plan._rng.seed(plan.seed)
        return plan

    def draw(self, operation: str) -> int | None:
        """The status to fail this call with, or None."""
        if self.operations is not None and operation not in self.operations:
            return None
        with self._lock:
            if self.fail_next:
                self.injected += 1
                return self.fail_next.pop(0)
            roll, edge = self._rng.random(), 0.0
            for status, share in sorted(self.error_rates.items()):
                edge += share
                if roll < edge:
                    self.injected += 1
                    return status
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "error_rates": {str(k): v for k, v in self.error_rates.items()},
            "fail_next": list(self.fail_next),
            "latency_ms": self.latency_s * 1000,
            "operations": sorted(self.operations) if self.operations else None,
            "injected": self.injected,
        }


FAULT_ERRORS = {
    429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
}
