"""What makes the simulated SP-API say no: usage-plan token buckets and injected faults.

The buckets follow Amazon's documented algorithm (rate tokens per second up to burst, one per
request) with the rates of amazon/data/operations.json, so a client that copes here copes with the
real usage plans. Faults are what the chaos tests, the benchmarks and the demo turn on through
POST /_sim/faults:

- `error_rates` {"429": 0.1, "500": 0.05, "503": 0.05}: shares of calls failed with that status;
- `fail_next` [503, 500]: the next calls fail with these statuses, in order;
- `storm` {"seconds": 5, "operations": [...]}: a 429 storm, every call answered 429 for a while;
- `latency_ms` or `latency` {"kind": "fixed"|"uniform"|"exponential"|"lognormal", ...}: delays;
- `malformed_share`: share of successful answers whose JSON body is cut off mid-way;
- `expired_token_share`: share of calls refused with 403 "expired token" (the token then really
  expires, so the client must fetch a new one);
- `truncate_share`: share of document downloads (pre-signed URLs) cut short;
- `operations`: restrict all of the above to these operations; `seed` makes the draws repeatable.
"""

from __future__ import annotations

import json
import math
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

#: Every operation the simulator serves, with the model version whose usage plan applies.
SERVED: dict[str, str] = {
    GET_ORDER: VERSION,
    SEARCH_ORDERS: VERSION,
    "confirmShipment": "v0",
    "getFulfillmentPreview": "2020-07-01",
    "createFulfillmentOrder": "2020-07-01",
    "getFulfillmentOrder": "2020-07-01",
    "listAllFulfillmentOrders": "2020-07-01",
    "cancelFulfillmentOrder": "2020-07-01",
    "getInventorySummaries": "v1",
    "getListingsItem": "2021-08-01",
    "patchListingsItem": "2021-08-01",
    "createFeedDocument": "2021-06-30",
    "createFeed": "2021-06-30",
    "getFeed": "2021-06-30",
    "getFeedDocument": "2021-06-30",
    "createReport": "2021-06-30",
    "getReports": "2021-06-30",
    "getReport": "2021-06-30",
    "getReportDocument": "2021-06-30",
    "listFinancialEventGroups": "v0",
    "listFinancialEventsByGroupId": "v0",
    "listTransactions": "2024-06-19",
    "getDestinations": "v1",
    "createDestination": "v1",
    "getSubscription": "v1",
    "createSubscription": "v1",
    "deleteSubscriptionById": "v1",
}


def usage_plans() -> dict[str, tuple[float, int]]:
    """(rate per second, burst) of every served operation, from the derived operations table."""
    text = resources.files("m3amazon.amazon").joinpath("data/operations.json").read_text(encoding="utf-8")
    operations = json.loads(text)["operations"]
    plans = {}
    for name, version in SERVED.items():
        entry = operations[f"{name}@{version}"]
        plans[name] = (float(entry["rate"]), int(entry["burst"]))
    return plans


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


@dataclass(frozen=True)
class Latency:
    """A latency distribution in milliseconds."""

    kind: str = "fixed"
    ms: float = 0.0
    min_ms: float = 0.0
    max_ms: float = 0.0
    sigma: float = 0.5

    @classmethod
    def from_json(cls, body: Any) -> Latency:
        if isinstance(body, int | float):
            return cls("fixed", float(body))
        data = dict(body or {})
        kind = str(data.get("kind", "fixed"))
        if kind not in ("fixed", "uniform", "exponential", "lognormal"):
            raise ValueError(f"unknown latency kind {kind!r}")
        latency = cls(
            kind,
            float(data.get("ms") or data.get("mean_ms") or 0.0),
            float(data.get("min_ms", 0.0)),
            float(data.get("max_ms", 0.0)),
            float(data.get("sigma", 0.5)),
        )
        if min(latency.ms, latency.min_ms, latency.max_ms) < 0 or latency.sigma < 0:
            raise ValueError("latencies are not negative")
        return latency

    def draw(self, rng: random.Random) -> float:
        """One delay in seconds."""
        if self.kind == "uniform":
            return rng.uniform(self.min_ms, max(self.min_ms, self.max_ms)) / 1000
        if self.kind == "exponential":
            return rng.expovariate(1 / self.ms) / 1000 if self.ms > 0 else 0.0
        if self.kind == "lognormal":  # median `ms`, spread `sigma`
            return rng.lognormvariate(math.log(self.ms), self.sigma) / 1000 if self.ms > 0 else 0.0
        return self.ms / 1000

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ms": self.ms,
            "min_ms": self.min_ms,
            "max_ms": self.max_ms,
            "sigma": self.sigma,
        }


def _share(body: Mapping[str, Any], name: str) -> float:
    value = float(body.get(name) or 0.0)
    if not 0 <= value <= 1:
        raise ValueError(f"{name} is a share between 0 and 1")
    return value


@dataclass
class FaultPlan:
    """Injected failures for SP-API operations and document downloads (see the module docstring)."""

    error_rates: dict[int, float] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)
    latency: Latency = field(default_factory=Latency)
    operations: set[str] | None = None
    storm_until: float = 0.0
    storm_operations: set[str] | None = None
    malformed_share: float = 0.0
    expired_token_share: float = 0.0
    truncate_share: float = 0.0
    seed: int = 0
    injected: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any], *, time_scale: float = 1.0) -> FaultPlan:
        rates = {int(k): float(v) for k, v in dict(body.get("error_rates") or {}).items()}
        if any(not 0 <= v <= 1 for v in rates.values()) or sum(rates.values()) > 1:
            raise ValueError("error_rates are shares between 0 and 1 that add up to at most 1")
        ops = body.get("operations")
        storm = dict(body.get("storm") or {})
        latency = body.get("latency", body.get("latency_ms"))
        plan = cls(
            error_rates=rates,
            fail_next=[int(x) for x in body.get("fail_next") or []],
            latency=Latency.from_json(latency),
            operations=set(ops) if ops else None,
            storm_until=time.monotonic() + float(storm.get("seconds", 0)) / time_scale if storm else 0.0,
            storm_operations=set(storm["operations"]) if storm.get("operations") else None,
            malformed_share=_share(body, "malformed_share"),
            expired_token_share=_share(body, "expired_token_share"),
            truncate_share=_share(body, "truncate_share"),
            seed=int(body.get("seed") or 0),
        )
        plan._rng.seed(plan.seed)
        return plan

    def _applies(self, operation: str) -> bool:
        return self.operations is None or operation in self.operations

    def _roll(self, share: float) -> bool:
        with self._lock:
            hit = share > 0 and self._rng.random() < share
            self.injected += hit
        return hit

    def in_storm(self, operation: str) -> bool:
        if time.monotonic() >= self.storm_until:
            return False
        if self.storm_operations is not None and operation not in self.storm_operations:
            return False
        with self._lock:
            self.injected += 1
        return True

    def draw(self, operation: str) -> int | None:
        """The status to fail this call with, or None."""
        if not self._applies(operation):
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

    def delay(self, operation: str) -> float:
        if not self._applies(operation):
            return 0.0
        with self._lock:
            return self.latency.draw(self._rng)

    def expire_token(self, operation: str) -> bool:
        return self._applies(operation) and self._roll(self.expired_token_share)

    def malformed(self, operation: str) -> bool:
        return self._applies(operation) and self._roll(self.malformed_share)

    def truncate(self) -> bool:
        return self._roll(self.truncate_share)

    @property
    def latency_s(self) -> float:
        """The fixed part of the latency (kept for callers that read one number)."""
        return self.latency.ms / 1000 if self.latency.kind == "fixed" else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "error_rates": {str(k): v for k, v in self.error_rates.items()},
            "fail_next": list(self.fail_next),
            "latency_ms": self.latency.ms if self.latency.kind == "fixed" else None,
            "latency": self.latency.to_json(),
            "operations": sorted(self.operations) if self.operations else None,
            "storm_remaining_s": max(0.0, round(self.storm_until - time.monotonic(), 3)),
            "malformed_share": self.malformed_share,
            "expired_token_share": self.expired_token_share,
            "truncate_share": self.truncate_share,
            "injected": self.injected,
        }


FAULT_ERRORS = {
    429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
}
