"""The Amazon simulator: LWA token endpoint + Orders API v2026-01-01 + a control plane, on FastAPI.

What it enforces, as Amazon does (so a client that passes here has a chance against the real API):
- LWA: form-encoded grants `refresh_token` and `client_credentials` with the configured client id,
  secret and refresh token; OAuth-style errors `{"error", "error_description"}`.
- `x-amz-access-token` on every SP-API call: missing, unknown, expired or grantless -> 403 with the
  model's error body `{"errors": [{"code", "message", "details"}]}`.
- Usage plans: a token bucket per operation from amazon/data/operations.json (rate x time_scale,
  burst); an empty bucket answers 429. Successes carry `x-amzn-RateLimit-Limit`, every response
  `x-amzn-RequestId`.
- searchOrders parameter rules from the model: exactly one of createdAfter / lastUpdatedAfter, the
  Before bounds only with their After and at least two minutes (/ time_scale) in the past, enums,
  maxResultsPerPage 1-100, unknown parameters refused, pagination tokens tied to the filters.

Control plane (not Amazon's API), under /_sim: scenario generation + notification publishing,
stats, order status changes, fault injection (error shares, fixed next failures, latency) and token
expiry.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from m3amazon.canonical import FulfillmentChannel, Order, OrderStatus
from m3amazon.sim.amazon.faults import (
    FAULT_ERRORS,
    GET_ORDER,
    SEARCH_ORDERS,
    FaultPlan,
    TokenBucket,
    usage_plans,
)
from m3amazon.sim.amazon.lwa import lwa_exchange
from m3amazon.sim.amazon.notify import Publisher, publish_order_changes
from m3amazon.sim.amazon.render import INCLUDED_DATA, iso, render_order
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount, TokenState

_SEARCH_PARAMS = {
    "createdAfter",
    "createdBefore",
    "lastUpdatedAfter",
    "lastUpdatedBefore",
    "fulfillmentStatuses",
    "marketplaceIds",
    "fulfilledBy",
    "maxResultsPerPage",
    "paginationToken",
    "includedData",
}
_LAG = timedelta(minutes=2)


@dataclass(frozen=True)
class _Window:
    by_created: bool
    after: datetime
    before_name: str
    before: datetime | None
    #: The latest moment a search may cover: now minus Amazon's two-minute lag.
    latest: datetime


class SpApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        self.status, self.code, self.message, self.details = status, code, message, details
        super().__init__(message)


def _bad(message: str, details: str | None = None) -> SpApiError:
    return SpApiError(400, "InvalidInput", message, details)


class AmazonSimulator:
    """The simulator's behaviour, independent of the web framework (the routes call into it)."""

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

    @property
    def lag(self) -> timedelta:
        return _LAG / self.time_scale

    # -- gatekeeping ----------------------------------------------------------------------
    def admit(self, operation: str, token: str | None) -> None:
        self.account.count_call(operation)
        state = self.account.token_state(token)
        if token is None:
            raise SpApiError(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The request has no x-amz-access-token header.",
            )
        if state is TokenState.EXPIRED:
            raise SpApiError(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The access token you provided has expired.",
            )
        if state is not TokenState.VALID:
            raise SpApiError(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The access token you provided is revoked, malformed or invalid.",
            )
        bucket = self.buckets.get(operation)
        if bucket is not None and not bucket.take():
            self.account.count_throttled(operation)
            raise SpApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
        status = self.faults.draw(operation)
        if status is not None:
            if status == 429:
                self.account.count_throttled(operation)
            code, message = FAULT_ERRORS.get(status, ("InternalFailure", "Injected failure."))
            raise SpApiError(status, code, message)

    def rate_header(self, operation: str) -> str | None:
        plan = self.plans.get(operation)
        return f"{plan[0]:g}" if plan else None

    # -- operations -----------------------------------------------------------------------
    def get_order(self, order_id: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        unknown = {k for k, _ in params} - {"includedData"}
        if unknown:
            raise _bad(f"Unknown parameter(s): {', '.join(sorted(unknown))}")
        included = _enum_list(params, "includedData", INCLUDED_DATA)
        order = self.account.get_order(order_id)
        if order is None:
            raise SpApiError(404, "NotFound", "The requested order was not found.", f"orderId {order_id}")
        return {"order": render_order(order, included)}

    def search_orders(self, params: list[tuple[str, str]], now: datetime) -> dict[str, Any]:
        unknown = {k for k, _ in params} - _SEARCH_PARAMS
        if unknown:
            raise _bad(f"Unknown parameter(s): {', '.join(sorted(unknown))}")
        single = {k: v for k, v in params}
        window = self._window(single, now)
        after, before_name, before = window.after, window.before_name, window.before
        page_size = _page_size(single.get("maxResultsPerPage"))
        statuses = set(_enum_list(params, "fulfillmentStatuses", [s.value for s in OrderStatus]))
        fulfilled_by = set(_enum_list(params, "fulfilledBy", [c.value for c in FulfillmentChannel]))
        marketplaces = set(_csv(params, "marketplaceIds"))
        if len(marketplaces) > 50:
            raise _bad("marketplaceIds accepts at most 50 values.")
        included = _enum_list(params, "includedData", INCLUDED_DATA)
        filters: dict[str, Any] = {
            k: sorted(_csv(params, k)) for k in ("fulfillmentStatuses", "fulfilledBy", "marketplaceIds")
        }
        filters |= {"after": iso(after), "by": before_name, "before": single.get(before_name)}
        fingerprint = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]
        offset, bound = 0, before or window.latest
        if "paginationToken" in single:
            offset, bound = _read_token(single["paginationToken"], fingerprint)

        def stamp(order: Order) -> datetime:
            return order.created_at if window.by_created else order.updated_at

        matches = sorted(
            (
                o
                for o in self.account.orders()
                if after <= stamp(o) <= bound
                and (not statuses or o.status.value in statuses)
                and (not fulfilled_by or o.channel.value in fulfilled_by)
                and (not marketplaces or o.marketplace_id in marketplaces)
            ),
            key=lambda o: (stamp(o), o.order_id),
        )
        page = matches[offset : offset + page_size]
        body: dict[str, Any] = {"orders": [render_order(o, included) for o in page]}
        if offset + page_size < len(matches):
            body["pagination"] = {"nextToken": _make_token(fingerprint, offset + page_size, bound)}
        body[before_name] = iso(bound)
        return body

    def _window(self, single: Mapping[str, str], now: datetime) -> _Window:
        """The time window of a searchOrders request, with the model's rules on the four bounds."""
        created_after = _time(single, "createdAfter")
        updated_after = _time(single, "lastUpdatedAfter")
        if (created_after is None) == (updated_after is None):
            raise _bad("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
        by_created = created_after is not None
        after_name, before_name, other_before = (
            ("createdAfter", "createdBefore", "lastUpdatedBefore")
            if by_created
            else ("lastUpdatedAfter", "lastUpdatedBefore", "createdBefore")
        )
        after = created_after or updated_after
        assert after is not None
        if other_before in single:
            raise _bad(f"{other_before} cannot be combined with {after_name}.")
        latest = now - self.lag
        before = _time(single, before_name)
        if before is not None and (before < after or before > latest):
            raise _bad(f"{before_name} must be on or after {after_name} and at least two minutes before now.")
        if after > latest:
            raise _bad(f"{after_name} must be at least two minutes before now.")
        return _Window(by_created, after, before_name, before, latest)

    # -- control plane --------------------------------------------------------------------
    def run_scenario(self, body: Mapping[str, Any]) -> dict[str, Any]:
        count = int(body.get("orders", 10))
        if not 0 <= count <= 100_000:
            raise ValueError("orders must be between 0 and 100000")
        seed = int(body.get("seed", 0))
        ids = generate_orders(
            self.account,
            count,
            seed=seed,
            marketplaces=body.get("marketplaces"),
            afn_share=float(body.get("afn_share", 0.3)),
            max_lines=int(body.get("max_lines", 3)),
            pending_share=float(body.get("pending_share", 0.0)),
            unfit_address_share=float(body.get("unfit_address_share", 0.0)),
        )
        sent = duplicates = 0
        if self.publisher is not None and body.get("notify", True):
            result = publish_order_changes(
                self.account,
                self.publisher,
                ids,
                duplicate_share=float(body.get("duplicate_share", 0.0)),
                seed=seed,
            )
            sent, duplicates = result.sent, result.duplicates
        return {
            "order_ids": ids,
            "orders_generated": len(ids),
            "notifications_sent": sent,
            "duplicates_sent": duplicates,
        }

    def change_status(self, order_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        status = OrderStatus(str(body.get("status", "")).upper())
        order = self.account.set_status(order_id, status)
        sent = 0
        if self.publisher is not None and body.get("notify", True):
            sent = publish_order_changes(
                self.account, self.publisher, [order_id], seed=int(body.get("seed", time.time_ns()))
            ).sent
        return {
            "order_id": order_id,
            "status": order.status.value,
            "last_updated": iso(order.updated_at),
            "notifications_sent": sent,
        }


def _csv(params: list[tuple[str, str]], name: str) -> list[str]:
    """Array parameters arrive comma-separated (Swagger's default) or repeated; accept both."""
    return [part for key, value in params if key == name for part in value.split(",") if part]


def _enum_list(params: list[tuple[str, str]], name: str, allowed: Any) -> list[str]:
    values = _csv(params, name)
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise _bad(f"Invalid value(s) for {name}: {', '.join(wrong)}")
    return values


def _time(single: Mapping[str, str], name: str) -> datetime | None:
    if name not in single:
        return None
    try:
        moment = datetime.fromisoformat(single[name].replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"{name} is not an ISO 8601 date-time.", single[name][:40]) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _page_size(value: str | None) -> int:
    if value is None:
        return 100
    try:
        size = int(value)
    except ValueError:
        raise _bad("maxResultsPerPage must be an integer.") from None
    if not 1 <= size <= 100:
        raise _bad("maxResultsPerPage must be between 1 and 100.")
    return size


def _make_token(fingerprint: str, offset: int, bound: datetime) -> str:
    raw = json.dumps({"f": fingerprint, "o": offset, "b": iso(bound)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, fingerprint: str) -> tuple[int, datetime]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, bound = int(data["o"]), datetime.fromisoformat(data["b"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError):
        raise _bad("Invalid paginationToken.") from None
    if data.get("f") != fingerprint:
        raise _bad("paginationToken does not match the request's other parameters.")
    return offset, bound


def _error_body(code: str, message: str, details: str | None = None) -> dict[str, Any]:
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"errors": [error]}


def create_app(
    account: SellerAccount,
    *,
    publisher: Publisher | None = None,
    rate_limits: bool | Mapping[str, tuple[float, int]] = True,
    time_scale: float = 1.0,
) -> FastAPI:
    """The simulator as an ASGI app.

    `rate_limits`: True (the usage plans), False (no throttling) or {operation: (rate, burst)}
    overrides. `time_scale` speeds up simulated time: bucket refill and Amazon's two-minute lag.

    Control plane bodies (JSON):
    - POST /_sim/scenario {orders, seed, duplicate_share, afn_share, pending_share, max_lines,
      marketplaces, notify} -> {order_ids, orders_generated, notifications_sent, duplicates_sent}
    - POST /_sim/faults {error_rates: {"500": 0.1, "503": 0.05, "429": 0.1}, fail_next: [503, 500],
      latency_ms, operations: ["getOrder"], seed}; {} clears all faults
    - POST /_sim/orders/{id}/status {status: "SHIPPED", notify: true}
    - POST /_sim/tokens/expire; GET /_sim/stats
    """
    sim = AmazonSimulator(account, publisher=publisher, rate_limits=rate_limits, time_scale=time_scale)
    app = FastAPI(title="m3-amazon Amazon simulator", docs_url="/_sim/docs", openapi_url="/_sim/openapi.json")
    app.state.sim = sim

    async def sp_api(request: Request, operation: str, handler: Any) -> JSONResponse:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if sim.faults.latency_s:
            await asyncio.sleep(sim.faults.latency_s)
        try:
            sim.admit(operation, request.headers.get("x-amz-access-token"))
            body = handler()
        except SpApiError as exc:
            if exc.status in (400, 404) and sim.rate_header(operation):
                headers["x-amzn-RateLimit-Limit"] = sim.rate_header(operation) or ""
            if exc.status == 403:
                headers["x-amzn-ErrorType"] = "AccessDeniedException"
            return JSONResponse(_error_body(exc.code, exc.message, exc.details), exc.status, headers)
        rate = sim.rate_header(operation)
        if rate:
            headers["x-amzn-RateLimit-Limit"] = rate
        return JSONResponse(body, 200, headers)

    @app.post("/auth/o2/token")
    async def lwa_token(request: Request) -> JSONResponse:
        form = await request.form()
        fields = {k: str(v) for k, v in form.items()}
        return lwa_exchange(account, fields)

    @app.get("/orders/2026-01-01/orders/{orderId}")
    async def get_order(orderId: str, request: Request) -> JSONResponse:
        params = list(request.query_params.multi_items())
        return await sp_api(request, GET_ORDER, lambda: sim.get_order(orderId, params))

    @app.get("/orders/2026-01-01/orders")
    async def search_orders(request: Request) -> JSONResponse:
        params = list(request.query_params.multi_items())
        return await sp_api(request, SEARCH_ORDERS, lambda: sim.search_orders(params, datetime.now(UTC)))

    @app.post("/_sim/scenario")
    def scenario(body: dict[str, Any]) -> JSONResponse:
        try:
            return JSONResponse(sim.run_scenario(body))
        except (ValueError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, 400)

    @app.get("/_sim/stats")
    def stats() -> dict[str, Any]:
        return {**account.stats(), "faults": sim.faults.to_json()}

    @app.post("/_sim/orders/{order_id}/status")
    def order_status(order_id: str, body: dict[str, Any]) -> JSONResponse:
        if not account.has_order(order_id):
            return JSONResponse({"error": f"unknown order {order_id}"}, 404)
        try:
            return JSONResponse(sim.change_status(order_id, body))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)

    @app.post("/_sim/faults")
    def faults(body: dict[str, Any]) -> JSONResponse:
        try:
            sim.faults = FaultPlan.from_json(body)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(sim.faults.to_json())

    @app.post("/_sim/tokens/expire")
    def expire_tokens() -> dict[str, int]:
        return {"expired": account.expire_tokens()}

    return app
