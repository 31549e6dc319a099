"""The rate governor: one token bucket per (selling partner, operation) in front of every SP-API call.

Why: Amazon throttles each operation per seller and application with a token bucket (`rate`
tokens per second up to `burst`, one per request; research notes §2.2). A client that just fires
and retries on 429 wastes calls and, with several workers, never converges. The governor keeps the
same bucket on our side, so a call waits for a token instead of collecting 429s:

- **Seeded** from the usage plans of the models (amazon/data/operations.json), or from
  `amazon.governor.plans` for a seller known to have a bigger plan.
- **Adapted** to `x-amzn-RateLimit-Limit`: when Amazon reports another rate (a bigger or dynamic
  plan, or the simulator's time scale) the bucket takes it, and says so in the log. The burst stays
  the model's: Amazon publishes no burst header, and a guessed larger one would only buy 429s.
- **A safety share** (`rate_safety`, 95 % by default) of the rate keeps our bucket a little behind
  Amazon's, so network jitter (a request overtaking the one before it) does not become a 429.
- **A 429 drains the bucket**: Amazon's is empty, so ours must be too, and every caller slows down.
- **Where buckets live**: in the process (`MemoryBuckets`, the SQLite deployments with one worker),
  or in PostgreSQL (`PostgresBuckets`, table `m3a_rate_buckets`), where one statement refills and
  takes under a row lock, so a fleet of workers stays inside the plan as a whole.

Waiting is fair and cheap inside a process: callers queue on a FIFO lock per bucket and only the
first in line asks the store, so the store sees about one question per token, not one per waiter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m3amazon.amazon.errors import Throttled
from m3amazon.config import GovernorSettings

log = logging.getLogger(__name__)

#: The longest a waiting caller sleeps before it looks at the bucket again (rates can change).
MAX_SLEEP_S = 2.0
#: The largest random pause added after a 429.
MAX_JITTER_S = 1.0


@dataclass(frozen=True)
class UsagePlan:
    """An operation's usage plan: `rate` requests per second, up to `burst` at once."""

    rate: float
    burst: int


class Take(NamedTuple):
    """What a bucket answered: whether a token was taken, what is left, and its refill rate."""

    granted: bool
    tokens: float
    rate: float


@dataclass(frozen=True)
class BucketView:
    """One bucket as the console and /metrics show it."""

    seller_id: str
    operation: str
    #: Tokens available now (requests that would go out without waiting).
    tokens: float
    #: The rate the bucket refills at (the plan's rate times `rate_safety`).
    rate: float
    burst: int
    #: Amazon's rate for the operation: from the header when it sent one, else the model's.
    plan_rate: float
    #: Callers of this process waiting for a token.
    waiting: int


Key = tuple[str, str]


def load_usage_plans() -> dict[str, UsagePlan]:
    """Usage plans by `operation@version`, and by plain operation name.

    A plain name maps to the plan of its current (not deprecated) versions; where one name has
    several (getOrder is Orders v2026-01-01 and Fulfillment Outbound 2026-07-04), the most
    conservative plan wins, so an ambiguous name never runs faster than it may. Callers that
    mean a specific version pass `name@version`.
    """
    text = resources.files("m3amazon.amazon").joinpath("data/operations.json").read_text(encoding="utf-8")
    plans: dict[str, UsagePlan] = {}
    by_name: dict[str, list[tuple[bool, UsagePlan]]] = {}
    for key, entry in json.loads(text)["operations"].items():
        if entry.get("rate") is None or entry.get("burst") is None:
            continue
        plan = UsagePlan(float(entry["rate"]), max(1, int(entry["burst"])))
        plans[key] = plan
        by_name.setdefault(entry["operation"], []).append((bool(entry.get("deprecated")), plan))
    for name, entries in by_name.items():
        current = [plan for deprecated, plan in entries if not deprecated] or [p for _, p in entries]
        plans[name] = min(current, key=lambda p: (p.rate, p.burst))
    return plans


# -- stores ---------------------------------------------------------------------------------


class BucketStore(Protocol):
    """Where the buckets live. Every method gets the bucket's (rate, burst) so it can create it."""

    #: True when the methods do I/O (the governor then runs them in a thread).
    blocking: bool

    def take(self, key: Key, rate: float, burst: int) -> Take: ...

    def peek(self, key: Key, rate: float, burst: int) -> Take: ...

    def set_rate(self, key: Key, rate: float, burst: int) -> None: ...

    def drain(self, key: Key, rate: float, burst: int) -> None: ...


@dataclass
class _Bucket:
    tokens: float
    rate: float
    burst: int
    at: float

    def refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)


class MemoryBuckets:
    """Buckets in this process, thread-safe: shared by everything that holds this object."""

    blocking = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[Key, _Bucket] = {}

    def _bucket(self, key: Key, rate: float, burst: int) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(burst), rate, burst, self._clock())
        bucket.refill(self._clock())
        return bucket

    def take(self, key: Key, rate: float, burst: int) -> Take:
        with self._lock:
            bucket = self._bucket(key, rate, burst)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return Take(True, bucket.tokens, bucket.rate)
            return Take(False, bucket.tokens, bucket.rate)

    def peek(self, key: Key, rate: float, burst: int) -> Take:
        with self._lock:
            bucket = self._bucket(key, rate, burst)
            return Take(False, bucket.tokens, bucket.rate)

    def set_rate(self, key: Key, rate: float, burst: int) -> None:
        with self._lock:
            bucket = self._bucket(key, rate, burst)  # refilled at the old rate up to now
            bucket.rate, bucket.burst = rate, burst
            bucket.tokens = min(bucket.tokens, float(burst))

    def drain(self, key: Key, rate: float, burst: int) -> None:
        with self._lock:
            bucket = self._bucket(key, rate, burst)
            bucket.tokens = min(bucket.tokens, 0.0)


# The refill expression: tokens earned since updated_at at the row's rate, capped at its burst.
# PostgreSQL's clock is the one clock every worker shares, so no worker's clock skew matters.
_LEVEL = (
    "LEAST(burst, tokens + rate * GREATEST(0.0, "
    "EXTRACT(EPOCH FROM (clock_timestamp() - updated_at))::float8))"
)
_TAKE = sa.text(
    f"""
    WITH level AS (
        SELECT {_LEVEL} AS tokens, clock_timestamp() AS at
        FROM m3a_rate_buckets
        WHERE seller_id = :seller AND operation = :operation
        FOR UPDATE
    )
    UPDATE m3a_rate_buckets AS b
    SET tokens = CASE WHEN level.tokens >= 1 THEN level.tokens - 1 ELSE level.tokens END,
        updated_at = GREATEST(b.updated_at, level.at)
    FROM level
    WHERE b.seller_id = :seller AND b.operation = :operation
    RETURNING level.tokens >= 1 AS granted, b.tokens AS tokens, b.rate AS rate
    """
)
_PEEK = sa.text(
    f"SELECT {_LEVEL} AS tokens, rate FROM m3a_rate_buckets"
    " WHERE seller_id = :seller AND operation = :operation"
)
_SET_RATE = sa.text(
    f"""
    UPDATE m3a_rate_buckets
    SET tokens = LEAST(:burst, {_LEVEL}), rate = :rate, burst = :burst,
        updated_at = GREATEST(updated_at, clock_timestamp())
    WHERE seller_id = :seller AND operation = :operation
    """
)
_DRAIN = sa.text(
    f"""
    UPDATE m3a_rate_buckets
    SET tokens = LEAST(0.0, {_LEVEL}), updated_at = GREATEST(updated_at, clock_timestamp())
    WHERE seller_id = :seller AND operation = :operation
    """
)
_CREATE = sa.text(
    """
    INSERT INTO m3a_rate_buckets (seller_id, operation, tokens, rate, burst, updated_at)
    VALUES (:seller, :operation, :burst, :rate, :burst, clock_timestamp())
    ON CONFLICT (seller_id, operation) DO NOTHING
    """
)
_ALL = sa.text(f"SELECT seller_id, operation, {_LEVEL} AS tokens, rate, burst FROM m3a_rate_buckets")


class PostgresBuckets:
    """Buckets in PostgreSQL (`m3a_rate_buckets`), shared by every worker on the database.

    A take is one statement: lock the bucket's row, refill it by the time elapsed on the database's
    clock, take a token if there is one, return what is left. Row locks serialise takes of the same
    bucket only; different operations and sellers never wait for each other.
    """

    blocking = True

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("PostgresBuckets needs a PostgreSQL engine")
        self.engine = engine
        self._known: set[Key] = set()

    def _params(self, key: Key, rate: float, burst: int) -> dict[str, Any]:
        return {"seller": key[0], "operation": key[1], "rate": rate, "burst": burst}

    def _ensure(self, conn: sa.Connection, key: Key, rate: float, burst: int) -> None:
        if key not in self._known:
            conn.execute(_CREATE, self._params(key, rate, burst))
            self._known.add(key)

    def take(self, key: Key, rate: float, burst: int) -> Take:
        with self.engine.begin() as conn:
            self._ensure(conn, key, rate, burst)
            row = conn.execute(_TAKE, self._params(key, rate, burst)).one()
        return Take(bool(row.granted), float(row.tokens), float(row.rate))

    def peek(self, key: Key, rate: float, burst: int) -> Take:
        with self.engine.begin() as conn:
            self._ensure(conn, key, rate, burst)
            row = conn.execute(_PEEK, self._params(key, rate, burst)).one()
        return Take(False, float(row.tokens), float(row.rate))

    def set_rate(self, key: Key, rate: float, burst: int) -> None:
        with self.engine.begin() as conn:
            self._ensure(conn, key, rate, burst)
            conn.execute(_SET_RATE, self._params(key, rate, burst))

    def drain(self, key: Key, rate: float, burst: int) -> None:
        with self.engine.begin() as conn:
            self._ensure(conn, key, rate, burst)
            conn.execute(_DRAIN, self._params(key, rate, burst))

    def all(self) -> list[tuple[Key, Take, int]]:
        """Every bucket on the database (for the fleet-wide view)."""
        with self.engine.connect() as conn:
            rows = conn.execute(_ALL).all()
        return [
            ((r.seller_id, r.operation), Take(False, float(r.tokens), float(r.rate)), int(r.burst))
            for r in rows
        ]


# -- the governor -----------------------------------------------------------------------------


@dataclass
class _Local:
    """What this process knows about one bucket, and its queue of waiting callers."""

    plan: UsagePlan
    tokens: float
    rate: float
    at: float
    waiting: int = 0
    lock: asyncio.Lock | None = field(default=None, repr=False)
    #: Set when the rate changes, so a caller sleeping on the old rate looks again at once.
    changed: asyncio.Event | None = field(default=None, repr=False)


class RateGovernor:
    """Token buckets per (seller, operation) in front of the SP-API; see the module docstring.

    One governor per event loop (its wait queues are asyncio locks); the store behind it may be
    shared by many governors, processes and hosts.
    """

    def __init__(
        self,
        store: BucketStore | None = None,
        settings: GovernorSettings | None = None,
        *,
        plans: Mapping[str, UsagePlan] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or GovernorSettings()
        self.store: BucketStore = store or MemoryBuckets(clock)
        self._plans = dict(plans) if plans is not None else load_usage_plans()
        for name, override in self.settings.plans.items():
            self._plans[name] = UsagePlan(override.rate, override.burst)
        self._sleep = sleep
        self._clock = clock
        self._local: dict[Key, _Local] = {}

    def __repr__(self) -> str:
        return f"RateGovernor(store={type(self.store).__name__}, buckets={len(self._local)})"

    # -- what callers use -------------------------------------------------------------------
    def plan(self, operation: str) -> UsagePlan:
        """The usage plan the governor starts from for `operation` (before any header)."""
        default = UsagePlan(self.settings.default_rate, self.settings.default_burst)
        return self._plans.get(operation) or default

    async def acquire(self, seller_id: str, operation: str) -> float:
        """Wait for a token of (seller, operation); returns the seconds waited.

        Raises `Throttled` (code `GovernorWaitTooLong`) only when the wait would exceed
        `max_wait_s`: a plan so small, or a queue so long, that waiting is no longer sensible.
        """
        key = (seller_id, operation)
        local = self._state(key)
        if local.lock is None or local.changed is None:
            local.lock, local.changed = asyncio.Lock(), asyncio.Event()
        started = self._clock()
        local.waiting += 1
        try:
            async with local.lock:
                while True:
                    take = await self._store(self.store.take, key, local)
                    self._remember(local, take)
                    if take.granted:
                        return self._clock() - started
                    wait = (1.0 - take.tokens) / take.rate if take.rate > 0 else math.inf
                    if self._clock() - started + wait > self.settings.max_wait_s:
                        raise Throttled(
                            429,
                            "GovernorWaitTooLong",
                            f"the next {operation} token is {wait:.0f} s away, more than "
                            f"amazon.governor.max_wait_s ({self.settings.max_wait_s:.0f} s)",
                            operation,
                        )
                    local.changed.clear()
                    await self._pause(min(wait, MAX_SLEEP_S) + 0.001, local.changed)
        finally:
            local.waiting -= 1

    async def observe(self, seller_id: str, operation: str, rate: float | None) -> None:
        """Amazon reported `rate` (x-amzn-RateLimit-Limit) for the operation: follow it if it differs."""
        if rate is None or not self.settings.adapt_to_header or not math.isfinite(rate) or rate <= 0:
            return
        key = (seller_id, operation)
        local = self._state(key)
        if math.isclose(rate, local.plan.rate, rel_tol=1e-6):
            return
        previous, local.plan = local.plan.rate, UsagePlan(rate, local.plan.burst)
        log.info(
            "Amazon reports %.4g requests/s for %s (seller %s); the governor follows (was %.4g, burst %d)",
            rate,
            operation,
            seller_id,
            previous,
            local.plan.burst,
        )
        await self._store(self.store.set_rate, key, local)
        local.rate = self._effective(local.plan)[0]
        if local.changed is not None:
            local.changed.set()

    async def throttled(self, seller_id: str, operation: str) -> None:
        """Amazon answered 429: its bucket is empty, so drain ours (every caller slows down)."""
        key = (seller_id, operation)
        local = self._state(key)
        await self._store(self.store.drain, key, local)
        local.tokens, local.at = min(local.tokens, 0.0), self._clock()

    def jitter(self, seller_id: str, operation: str, rng: random.Random) -> float:
        """A random pause of up to a tenth of a token's time (at most a second), so retries after a
        429 spread out."""
        rate = self._state((seller_id, operation)).rate
        return rng.uniform(0.0, min(MAX_JITTER_S, 0.1 / rate)) if rate > 0 else 0.0

    def estimate(self, seller_id: str, operation: str) -> BucketView:
        """This process's estimate of a bucket now, without asking the store (cheap, may be optimistic
        when other workers share the bucket)."""
        local = self._state((seller_id, operation))
        tokens = min(float(local.plan.burst), local.tokens + max(0.0, self._clock() - local.at) * local.rate)
        return BucketView(
            seller_id, operation, tokens, local.rate, local.plan.burst, local.plan.rate, local.waiting
        )

    async def headroom(self) -> list[BucketView]:
        """Tokens available now per (seller, operation), read from the store (for /metrics, console).

        With PostgreSQL this is the fleet's view: every bucket any worker has used.
        """
        views = {key: self.estimate(*key) for key in self._local}
        if isinstance(self.store, PostgresBuckets):
            for key, take, burst in await asyncio.to_thread(self.store.all):
                local = self._local.get(key)
                views[key] = BucketView(
                    key[0],
                    key[1],
                    take.tokens,
                    take.rate,
                    burst,
                    local.plan.rate if local else self.plan(key[1]).rate,
                    local.waiting if local else 0,
                )
        else:
            for key, local in self._local.items():
                take = self.store.peek(key, *self._effective(local.plan))
                self._remember(local, take)
                views[key] = self.estimate(*key)
        return sorted(views.values(), key=lambda v: (v.seller_id, v.operation))

    # -- inside -------------------------------------------------------------------------------
    def _effective(self, plan: UsagePlan) -> tuple[float, int]:
        return plan.rate * self.settings.rate_safety, plan.burst

    def _state(self, key: Key) -> _Local:
        local = self._local.get(key)
        if local is None:
            plan = self.plan(key[1])
            rate, burst = self._effective(plan)
            local = self._local[key] = _Local(plan, float(burst), rate, self._clock())
        return local

    def _remember(self, local: _Local, take: Take) -> None:
        local.tokens, local.rate, local.at = take.tokens, take.rate, self._clock()

    async def _pause(self, seconds: float, changed: asyncio.Event) -> None:
        """Sleep `seconds`, or less when the bucket's rate changes meanwhile."""
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        woken = asyncio.ensure_future(changed.wait())
        try:
            await asyncio.wait({sleeping, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeping, woken):
                task.cancel()
            await asyncio.gather(sleeping, woken, return_exceptions=True)

    async def _store(self, method: Callable[[Key, float, int], Any], key: Key, local: _Local) -> Any:
        rate, burst = self._effective(local.plan)
        if self.store.blocking:
            return await asyncio.to_thread(method, key, rate, burst)
        return method(key, rate, burst)


def buckets_for(database_url: str, shared: str, engine: Engine | None) -> BucketStore:
    """The store the settings ask for: PostgreSQL when the database is PostgreSQL (`shared: auto`)
    or when `shared: database` insists; the process otherwise."""
    use_database = shared == "database" or (shared == "auto" and database_url.startswith("postgresql"))
    if not use_database:
        return MemoryBuckets()
    if engine is None or engine.dialect.name != "postgresql":
        raise ValueError("amazon.governor.shared is 'database' but database_url is not PostgreSQL")
    return PostgresBuckets(engine)


def describe(views: Iterable[BucketView]) -> list[dict[str, Any]]:
    """Bucket views as plain rows (JSON, tables)."""
    return [
        {
            "seller_id": v.seller_id,
            "operation": v.operation,
            "tokens": round(v.tokens, 3),
            "burst": v.burst,
            "rate_per_s": round(v.rate, 6),
            "plan_rate_per_s": round(v.plan_rate, 6),
            "waiting": v.waiting,
        }
        for v in views
    ]
