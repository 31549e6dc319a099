"""The simulator's shared machinery: who may call, how answers are made, when notifications leave.

Every SP-API route goes through `AmazonSimulator.serve`, so all operations behave alike:
- the access token (`x-amz-access-token`): missing, unknown or expired -> 403; grantless
  operations need a client-credentials token with the notifications scope, seller operations a
  refresh-token one (each refuses the other kind);
- the usage plan: one token bucket per operation (rate x time_scale, burst) -> 429 when empty;
- injected faults (faults.py): 429 storms, error shares, fixed next failures, latency, expired
  tokens, malformed bodies;
- the answer: the model's error body `{"errors": [...]}` on failure; `x-amzn-RequestId` always;
  `x-amzn-RateLimit-Limit` on successes and on 400/404, as the models declare it;
- afterwards, the notifications the call caused leave the outbox for the publisher (SQS).
The operation's own work runs under the account's lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from m3amazon.sim.amazon import lifecycle
from m3amazon.sim.amazon.faults import FAULT_ERRORS, FaultPlan, TokenBucket, usage_plans
from m3amazon.sim.amazon.notify import Publisher
from m3amazon.sim.amazon.params import SpApiError, bad, error_body
from m3amazon.sim.amazon.state import SellerAccount, TokenState

log = logging.getLogger(__name__)

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
_LAG = timedelta(minutes=2)
_DENIED = ("Unauthorized", "Access to requested resource is denied.")


class AmazonSimulator:
    """The simulator's behaviour, independent of the routes that call into it."""

    def __init__(
        self,
        account: SellerAccount,
        *,
        publisher: Publisher | None = None,
        rate_limits: bool | Mapping[str, tuple[float, int]] = True,
        time_scale: float = 1.0,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.account = account
        self.publisher = publisher
        self.time_scale = time_scale
        self.faults = FaultPlan()
        plans = usage_plans()
        if isinstance(rate_limits, Mapping):
            plans.update(rate_limits)
        self.plans = {op: (rate * time_scale, burst) for op, (rate, burst) in plans.items()}
        self.buckets = (
            {op: TokenBucket(rate, burst) for op, (rate, burst) in self.plans.items()}
            if rate_limits is not False
            else {}
        )
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._send_lock = threading.Lock()

    @property
    def lag(self) -> timedelta:
        """Amazon's two-minute lag on search and finance windows, in simulated time."""
        return _LAG / self.time_scale

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    # -- gatekeeping ----------------------------------------------------------------------
    def admit(self, operation: str, token: str | None, *, grantless: bool = False) -> None:
        self.account.count_call(operation)
        if token is None:
            raise SpApiError(403, *_DENIED, "The request has no x-amz-access-token header.")
        state = self.account.token_state(token)
        if state is TokenState.EXPIRED:
            raise SpApiError(403, *_DENIED, "The access token you provided has expired.")
        if grantless:
            if state is not TokenState.GRANTLESS or self.account.token_scope(token) != NOTIFICATIONS_SCOPE:
                raise SpApiError(
                    403,
                    *_DENIED,
                    f"{operation} is grantless: it needs a client_credentials token with scope "
                    f"{NOTIFICATIONS_SCOPE}.",
                )
        elif state is not TokenState.VALID:
            raise SpApiError(403, *_DENIED, "The access token you provided is revoked, malformed or invalid.")
        if self.faults.expire_token(operation):
            self.account.expire_token(token)
            raise SpApiError(403, *_DENIED, "The access token you provided has expired.")
        bucket = self.buckets.get(operation)
        if (bucket is not None and not bucket.take()) or self.faults.in_storm(operation):
            self.account.count_throttled(operation)
            raise SpApiError(429, *FAULT_ERRORS[429])
        status = self.faults.draw(operation)
        if status is not None:
            if status == 429:
                self.account.count_throttled(operation)
            code, message = FAULT_ERRORS.get(status, ("InternalFailure", "Injected failure."))
            raise SpApiError(status, code, message)

    def rate_header(self, operation: str) -> str | None:
        plan = self.plans.get(operation)
        return f"{plan[0]:g}" if plan else None

    # -- answering ------------------------------------------------------------------------
    async def serve(
        self,
        request: Request,
        operation: str,
        handler: Callable[..., Any],
        *,
        status: int = 200,
        grantless: bool = False,
        with_body: bool = False,
    ) -> Response:
        """Admit the call, run `handler` (with the parsed JSON body when `with_body`) under the
        account's lock, and answer as the module docstring says."""
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        delay = self.faults.delay(operation)
        if delay:
            await asyncio.sleep(delay)
        raw = await request.body() if with_body else b""
        try:
            self.admit(operation, request.headers.get("x-amz-access-token"), grantless=grantless)
            args: tuple[Any, ...] = ()
            if with_body:
                try:
                    args = (json.loads(raw or b"null"),)
                except ValueError:
                    raise bad("The request body is not valid JSON.") from None
            with self.account.lock:
                body = handler(*args)
        except SpApiError as exc:
            rate = self.rate_header(operation)
            if exc.status in (400, 404) and rate:
                headers["x-amzn-RateLimit-Limit"] = rate
            if exc.status == 403:
                headers["x-amzn-ErrorType"] = "AccessDeniedException"
            await self.deliver()
            return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.status, headers)
        rate = self.rate_header(operation)
        if rate:
            headers["x-amzn-RateLimit-Limit"] = rate
        await self.deliver()
        if body is None:
            return Response(status_code=204 if status == 200 else status, headers=headers)
        if self.faults.malformed(operation):
            text = json.dumps(body)
            return Response(text[: max(1, len(text) // 2)], status, headers, media_type="application/json")
        return JSONResponse(body, status, headers)

    # -- notifications and time -----------------------------------------------------------
    def _send(self, *, everything: bool = False) -> int:
        if self.publisher is None:
            return 0
        with self._send_lock:  # one sender at a time keeps the outbox order on the queue
            with self.account.lock:
                bodies = self.account.outbox.take(everything=everything)
            if not bodies:
                return 0
            sent = self.publisher.send(bodies)
            self.account.count_notifications(sent)
            return sent

    async def deliver(self, *, everything: bool = False) -> int:
        """Send the outbox's notifications (from a worker thread: publishers block)."""
        if self.publisher is None or (not self.account.outbox.pending and not self.account.outbox.held):
            return 0
        return await run_in_threadpool(lambda: self._send(everything=everything))

    def tick(self, steps: int = 1) -> dict[str, int]:
        """Advance the simulated world `steps` times (see lifecycle.advance)."""
        moved: dict[str, int] = {}
        for _ in range(steps):
            with self.account.lock:
                for key, value in lifecycle.advance(self.account, self.now()).items():
                    moved[key] = moved.get(key, 0) + value
        return moved

    def start_ticker(self, interval_s: float) -> None:
        """Tick every `interval_s` seconds in a background thread (the demo and `sim amazon`)."""
        if self._ticker is not None:
            return

        def run() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.tick()
                    self._send()
                except Exception:  # a ticker must not die on one bad step
                    log.exception("simulator tick failed")

        self._ticker = threading.Thread(target=run, name="amazon-sim-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(5)
            self._ticker = None
