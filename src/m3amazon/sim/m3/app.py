"""The M3 simulator's HTTP face: MI REST v2 on-premises and behind an ION-API-style gateway.

Routes (shapes as the v2 swagger exports describe them; see research notes §1.5-1.7, §2):

- `GET  /m3api-rest/v2/execute/{program}/{transaction}` and `POST /m3api-rest/v2/execute` (bulk),
  HTTP basic auth, as an on-premises M3 serves them;
- the same under `/{tenant}/M3/m3api-rest/...` with bearer tokens, plus the token endpoints
  `POST /{tenant}/as/token.oauth2` (password grant) and `POST /{tenant}/as/revoke_token.oauth2`,
  as CloudSuite's ION API gateway does; `write_ionapi` produces the matching credentials file;
- the older v1 form `GET .../m3api-rest/execute/{program}/{transaction}` (MIRecord/NameValue
  rows; errors as `@type`/`@code`/`@field`/`Message` with HTTP 200, as some tenants answer);
- the control plane under `/_sim/`: stats, orders, invoices, reset, faults, token expiry, the
  invoicing run (`/_sim/invoice`), options (`/_sim/options`: invoice on delivery or not), the
  IMS target the simulator sends its BODs to (`/_sim/ims`), and what end-to-end tests make
  happen in M3: the seller's warehouse shipping an order (`/_sim/orders/{orno}/deliver`), a
  customer stop (`/_sim/customers/{cuno}/stop`), a stock balance (`/_sim/balances`), an order
  another sales channel enters (`POST /_sim/orders`) and customer service cancelling one
  (`/_sim/orders/{orno}/cancel`).

A single GET that fails answers HTTP 400 with the error both in `results[0]` and at the top level
(`terminationReason`); a bulk POST answers 200 with per-transaction results (the bulk is not
atomic), and 400 only when the request itself is unusable.

Faults are injected at the HTTP layer with a seeded RNG, so a run can be repeated: latency
(uniform or exponential around a base), HTTP 500 before the transaction runs, and - the cases
idempotency is about - answers lost *after* the transaction ran: a held-back answer (the client
times out) or a connection dropped mid-answer. An unreachable M3 is a stopped server.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from m3amazon.m3.fields import FieldTable
from m3amazon.sim.m3 import sales_orders
from m3amazon.sim.m3.deliveries import ship_order
from m3amazon.sim.m3.emitter import BodEmitter, ImsTarget
from m3amazon.sim.m3.invoicing import invoice_pending
from m3amazon.sim.m3.mi import Call
from m3amazon.sim.m3.programs import SimMIError, run_transaction
from m3amazon.sim.m3.store import SimStore

#: Query parameters of every v2 call that are not transaction fields.
CONTROL_PARAMS = frozenset(
    {
        "cono",
        "divi",
        "lanc",
        "locale",
        "timeZone",
        "maxrecs",
        "dateformat",
        "excludeempty",
        "excludempty",
        "righttrim",
        "returncols",
        "format",
        "extendedresult",
        "_rid",
    }
)
DEFAULT_MAXRECS = 100


@dataclass
class Faults:
    """What goes wrong, and how often (shares are probabilities per MI HTTP request)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    #: How the jitter is drawn: "uniform" (0..jitter_ms) or "exponential" (mean jitter_ms: a long tail).
    latency_distribution: str = "uniform"
    #: The transaction runs, its answer is held back `timeout_s`: keep it above the client's
    #: timeout (M3Settings.timeout_s, 30 s by default); tests use short values on both sides.
    timeout_share: float = 0.0
    timeout_s: float = 35.0
    #: HTTP 500 before the transaction runs.
    error_500_share: float = 0.0
    #: The transaction runs, then the connection is dropped halfway through the answer.
    reset_share: float = 0.0
    seed: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        faults = cls(**data)
        if faults.latency_distribution not in ("uniform", "exponential"):
            raise ValueError("latency_distribution is 'uniform' or 'exponential'")
        return faults


class SimState:
    """Everything the routes share: store, field table, faults with their RNG, issued tokens."""

    def __init__(self, store: SimStore, faults: Faults | None, token_ttl_s: float) -> None:
        self.store = store
        self.table = FieldTable.default()
        self.token_ttl_s = token_ttl_s
        self.tokens: dict[str, tuple[str, float]] = {}
        self.invoice_on_delivery = True
        self.emitter: BodEmitter | None = None
        self._lock = threading.Lock()
        self.set_faults(faults or Faults())

    def set_ims_target(self, target: ImsTarget | None) -> None:
        """Send BODs to `target` from now on (None: stop sending)."""
        old, self.emitter = self.emitter, BodEmitter(target) if target is not None else None
        if old is not None:
            old.stop()

    def emit(self, events: list[Any]) -> None:
        emitter = self.emitter
        if emitter is not None:
            emitter(events)

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def draw(self) -> tuple[float, str | None]:
        """Delay in seconds, and the fault for one request (None, "500", "timeout" or "reset")."""
        with self._lock:
            f = self.faults
            jitter = 0.0
            if f.jitter_ms:
                jitter = (
                    self._rng.expovariate(1 / f.jitter_ms)
                    if f.latency_distribution == "exponential"
                    else self._rng.uniform(0, f.jitter_ms)
                )
            delay = (f.latency_ms + jitter) / 1000
            roll = self._rng.random()
        for name, share in (
            ("timeout", f.timeout_share),
            ("500", f.error_500_share),
            ("reset", f.reset_share),
        ):
            if roll < share:
                return delay, name
            roll -= share
        return delay, None


class _FaultInjection:
    """ASGI middleware applying `SimState.faults` to the MI routes only."""

    def __init__(self, app: ASGIApp, state: SimState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "/m3api-rest/" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        self.state.store.count_http_request()
        delay, fault = self.state.draw()
        if delay:
            await asyncio.sleep(delay)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault == "500":
            await JSONResponse({"error": "simulated server error"}, status_code=500)(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        if fault == "timeout":
            await asyncio.sleep(self.state.faults.timeout_s)
            for message in held:
                await send(message)
            return
        body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        await send(held[0])
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        # returning with the answer incomplete makes the server close the connection


# -- v2 response shapes -----------------------------------------------------------------------


def _ok(transaction: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    return {"transaction": transaction, "records": rows}


def _failed(transaction: str, exc: SimMIError) -> dict[str, Any]:
    return {
        "transaction": transaction,
        "errorMessage": exc.message,
        "errorCode": exc.code,
        "errorField": exc.field or "",
        "errorType": exc.error_type,
        "records": [],
    }


def _envelope(results: list[dict[str, Any]]) -> dict[str, Any]:
    failed = sum(1 for r in results if "errorMessage" in r)
    return {
        "results": results,
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": len(results) - failed,
        "nrOfNotProcessedTransactions": 0,
        "nrOfFailedTransactions": failed,
    }


def _terminated(reason: str, error_type: str, results: list[dict[str, Any]] | None = None) -> JSONResponse:
    body = {
        "results": results or [],
        "wasTerminated": True,
        "terminationReason": reason,
        "terminationErrorType": error_type,
        "nrOfSuccessfullTransactions": 0,
        "nrOfNotProcessedTransactions": 0,
        "nrOfFailedTransactions": len(results or []),
    }
    return JSONResponse(body, status_code=400)


def _maxrecs(value: object) -> int:
    try:
        return max(0, int(str(value)))
    except ValueError:
        return DEFAULT_MAXRECS


# -- authentication ---------------------------------------------------------------------------


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _unauthorized(scheme: str) -> JSONResponse:
    return JSONResponse({"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": scheme})


def create_app(
    store: SimStore,
    *,
    users: Mapping[str, str] | None = None,
    faults: Faults | None = None,
    ionapi_client: tuple[str, str, str, str] | None = None,
    cloud_user: str = "M3SRVADM",
    token_ttl_s: float = 3600.0,
    ims_target: ImsTarget | None = None,
    invoice_on_delivery: bool = True,
) -> FastAPI:
    """The simulator app over `store`.

    `users`: basic-auth users of the on-premises routes (default M3SRVADM/demo).
    `ionapi_client`: (client_id, client_secret, saak, sask) accepted by the token endpoint; without
    it the cloud routes refuse every token request.
    `ims_target`: where to send SyncShipment/SyncInvoice/SyncInventoryCount BODs (none: not sent).
    `invoice_on_delivery`: invoice a delivery when it is reported (else on POST /_sim/invoice).
    """
    accounts = dict(users) if users is not None else {"M3SRVADM": "demo"}
    state = SimState(store, faults, token_ttl_s)
    state.invoice_on_delivery = invoice_on_delivery
    state.set_ims_target(ims_target)
    store.subscribe(state.emit)
    app = FastAPI(title="M3 simulator", docs_url="/_sim/docs", openapi_url="/_sim/openapi.json")
    app.state.sim = state
    app.add_middleware(_FaultInjection, state=state)

    def onprem_user(request: Request) -> str | None:
        credentials = _basic_credentials(request)
        if credentials is None or accounts.get(credentials[0]) != credentials[1]:
            return None
        return credentials[0]

    def cloud_token_ok(request: Request, tenant: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return False
        issued = state.tokens.get(header[7:].strip())
        return issued is not None and issued[0] == tenant and issued[1] > time.monotonic()

    def run(
        program: str,
        transaction: str,
        record: dict[str, str],
        user: str,
        maxrecs: int,
        control: Mapping[str, Any],
    ) -> list[dict[str, str]]:
        return run_transaction(
            store,
            state.table,
            program,
            transaction,
            record,
            user=user,
            maxrecs=maxrecs,
            cono=str(control.get("cono") or "100"),
            divi=str(control.get("divi") or ""),
            invoice_on_delivery=state.invoice_on_delivery,
        )

    async def run_get(request: Request, program: str, transaction: str, user: str) -> list[dict[str, str]]:
        """One transaction from a GET: fields and control parameters from the query string."""
        params = request.query_params
        record = {k: v for k, v in params.items() if k not in CONTROL_PARAMS}
        maxrecs = _maxrecs(params.get("maxrecs", DEFAULT_MAXRECS))
        return await run_in_threadpool(run, program, transaction, record, user, maxrecs, params)

    async def execute_one(request: Request, program: str, transaction: str, user: str) -> JSONResponse:
        try:
            rows = await run_get(request, program, transaction, user)
        except SimMIError as exc:
            return _terminated(exc.message, exc.error_type, [_failed(transaction, exc)])
        return JSONResponse(_envelope([_ok(transaction, rows)]))

    async def execute_v1(request: Request, program: str, transaction: str, user: str) -> JSONResponse:
        """The v1 shape: MIRecord/NameValue rows; an error is a NOK body with HTTP 200."""
        try:
            rows = await run_get(request, program, transaction, user)
        except SimMIError as exc:
            return JSONResponse(
                {
                    "@type": exc.error_type,
                    "@code": exc.code,
                    "@field": exc.field or "",
                    "Message": exc.message,
                }
            )
        return JSONResponse(
            {
                "Program": program,
                "Transaction": transaction,
                "MIRecord": [
                    {"RowIndex": index, "NameValue": [{"Name": k, "Value": v} for k, v in row.items()]}
                    for index, row in enumerate(rows)
                ],
            }
        )

    def run_bulk(
        program: str, calls: list[Any], maxrecs: int, user: str, control: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        results = []
        for call in calls:
            transaction = str(call.get("transaction", ""))
            raw = call.get("record") or {}
            record = (
                {str(k): "" if v is None else str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
            )
            try:
                if not isinstance(raw, dict):
                    raise SimMIError("The record must be an object of fields", code="XFL0005")
                rows = run(program, transaction, record, user, maxrecs, control)
                results.append(_ok(transaction, rows))
            except SimMIError as exc:
                results.append(_failed(transaction, exc))
        return results

    async def execute_bulk(request: Request, user: str) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _terminated("The request body is not valid JSON", "ServerReturnedNOK")
        calls = body.get("transactions") if isinstance(body, dict) else None
        program = str(body.get("program") or "") if isinstance(body, dict) else ""
        if not program or not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
            return _terminated("The request needs a program and a list of transactions", "ServerReturnedNOK")
        if program not in state.table.programs():
            return _terminated(f"Program {program} does not exist", "TransactionNotFound")
        maxrecs = _maxrecs(body.get("maxReturnedRecords", DEFAULT_MAXRECS))
        results = await run_in_threadpool(run_bulk, program, calls, maxrecs, user, body)
        return JSONResponse(_envelope(results))

    # -- on-premises -------------------------------------------------------------------------------

    @app.get("/m3api-rest/v2/execute/{program}/{transaction}")
    async def onprem_execute(request: Request, program: str, transaction: str) -> JSONResponse:
        user = onprem_user(request)
        if user is None:
            return _unauthorized('Basic realm="M3"')
        return await execute_one(request, program, transaction, user)

    @app.post("/m3api-rest/v2/execute")
    async def onprem_bulk(request: Request) -> JSONResponse:
        user = onprem_user(request)
        if user is None:
            return _unauthorized('Basic realm="M3"')
        return await execute_bulk(request, user)

    @app.get("/m3api-rest/execute/{program}/{transaction}")
    async def onprem_execute_v1(request: Request, program: str, transaction: str) -> JSONResponse:
        user = onprem_user(request)
        if user is None:
            return _unauthorized('Basic realm="M3"')
        return await execute_v1(request, program, transaction, user)

    # -- cloud (ION API gateway) -------------------------------------------------------------------

    @app.get("/{tenant}/M3/m3api-rest/execute/{program}/{transaction}")
    async def cloud_execute_v1(request: Request, tenant: str, program: str, transaction: str) -> JSONResponse:
        if not cloud_token_ok(request, tenant):
            return _unauthorized("Bearer")
        return await execute_v1(request, program, transaction, cloud_user)

    @app.get("/{tenant}/M3/m3api-rest/v2/execute/{program}/{transaction}")
    async def cloud_execute(request: Request, tenant: str, program: str, transaction: str) -> JSONResponse:
        if not cloud_token_ok(request, tenant):
            return _unauthorized("Bearer")
        return await execute_one(request, program, transaction, cloud_user)

    @app.post("/{tenant}/M3/m3api-rest/v2/execute")
    async def cloud_bulk(request: Request, tenant: str) -> JSONResponse:
        if not cloud_token_ok(request, tenant):
            return _unauthorized("Bearer")
        return await execute_bulk(request, cloud_user)

    @app.post("/{tenant}/as/token.oauth2")
    async def token(request: Request, tenant: str) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") != "password":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if ionapi_client is None or (form.get("client_id"), form.get("client_secret")) != ionapi_client[:2]:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if (form.get("username"), form.get("password")) != ionapi_client[2:]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access = secrets.token_urlsafe(24)
        state.tokens[access] = (tenant, time.monotonic() + token_ttl_s)
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": int(token_ttl_s)})

    @app.post("/{tenant}/as/revoke_token.oauth2")
    async def revoke(request: Request, tenant: str) -> JSONResponse:
        credentials = _basic_credentials(request)
        if ionapi_client is None or credentials != ionapi_client[:2]:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await request.form()
        state.tokens.pop(str(form.get("token", "")), None)
        return JSONResponse({})

    # -- control plane -----------------------------------------------------------------------------

    @app.get("/_sim/stats")
    async def stats() -> dict[str, Any]:
        data = await run_in_threadpool(store.stats)
        data["tokens_active"] = sum(1 for _, expiry in state.tokens.values() if expiry > time.monotonic())
        return data

    @app.get("/_sim/orders")
    async def orders(cuor: str | None = None) -> list[dict[str, Any]]:
        found = await run_in_threadpool(store.orders)
        return [order for order in found if cuor is None or order["cuor"] == cuor]

    @app.post("/_sim/orders/{reference}/deliver")
    async def deliver_order(reference: str, request: Request) -> JSONResponse:
        """The seller's warehouse ships an order (by number or CUOR): all of it, or `lines`
        [{"ponr" or "cuor", "quantity"}], with `carrier` and `tracking` on its package."""
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, status_code=422)
        if not isinstance(data, dict) or set(data) - {"lines", "carrier", "tracking"}:
            return JSONResponse({"error": "fields: lines, carrier, tracking"}, status_code=422)
        lines = data.get("lines")
        if lines is not None and not (
            isinstance(lines, list)
            and all(isinstance(x, dict) and ({"ponr", "cuor"} & set(x)) for x in lines)
        ):
            return JSONResponse({"error": "lines: a list of {ponr or cuor, quantity}"}, status_code=422)

        def ship() -> dict[str, Any]:
            call = Call("M3SRVADM", invoice_on_delivery=state.invoice_on_delivery)
            with store.transaction() as db:
                shipped = ship_order(
                    db, call, reference, lines, carrier=data.get("carrier"), tracking=data.get("tracking")
                )
            store.publish(call.events)
            return shipped

        try:
            return JSONResponse(await run_in_threadpool(ship))
        except (SimMIError, ArithmeticError, ValueError) as exc:
            return JSONResponse({"error": str(exc), "code": getattr(exc, "code", None)}, status_code=409)

    def as_user(transaction: str, record: dict[str, str]) -> list[dict[str, str]]:
        """One OIS100MI transaction as an M3 user enters it (the MI layer's checks included)."""
        return run("OIS100MI", transaction, record, "M3USER", 0, {})

    @app.post("/_sim/orders")
    async def enter_order(request: Request) -> JSONResponse:
        """Another sales channel enters a customer order (see sales_orders.enter_order): its number."""
        try:
            spec = json.loads(await request.body() or b"{}")
            if not isinstance(spec, dict) or not spec.get("cuno") or not spec.get("lines"):
                raise ValueError(
                    "fields: cuno, lines [{itno, quantity, price?}], ortp?, whlo?, cuor?, address?"
                )
            orno = await run_in_threadpool(sales_orders.enter_order, as_user, spec)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        except SimMIError as exc:
            return JSONResponse({"error": str(exc), "code": exc.code}, status_code=409)
        return JSONResponse({"orno": orno})

    @app.post("/_sim/orders/{orno}/cancel")
    async def cancel_order(orno: str) -> JSONResponse:
        """Customer service cancels the order: every open line closed (OIS100MI CloLine)."""

        def close() -> list[int]:
            lines = run("OIS100MI", "LstLine", {"ORNO": orno}, "M3USER", 0, {})
            closed = []
            for line in lines:
                if line["ORST"] not in ("90", "99") and Decimal(line["DLQT"]) < Decimal(line["ORQT"]):
                    as_user("CloLine", {"ORNO": orno, "PONR": line["PONR"]})
                    closed.append(int(line["PONR"]))
            return closed

        try:
            return JSONResponse({"orno": orno, "closed": await run_in_threadpool(close)})
        except SimMIError as exc:
            return JSONResponse({"error": str(exc), "code": exc.code}, status_code=409)

    @app.post("/_sim/customers/{cuno}/stop")
    async def stop_customer(cuno: str, request: Request) -> JSONResponse:
        """Customer stop (credit block): {"code": "1".."9", "reason": "..."}; code "0" lifts it."""
        data = json.loads(await request.body() or b"{}")
        code = str(data.get("code", "1")) if isinstance(data, dict) else ""
        if not (len(code) == 1 and code.isdigit()):
            return JSONResponse({"error": "code: one digit, 0 lifts the stop"}, status_code=422)
        reason = str(data.get("reason") or "")
        if not await run_in_threadpool(store.stop_customer, cuno, code, reason):
            return JSONResponse({"error": f"no customer {cuno}"}, status_code=404)
        return JSONResponse({"customer": cuno, "code": code, "reason": reason})

    @app.post("/_sim/balances")
    async def set_balance(request: Request) -> JSONResponse:
        """Set an on-hand balance: {"whlo", "itno", "on_hand"} (allocations are kept)."""
        data = json.loads(await request.body() or b"{}")
        try:
            whlo, itno, on_hand = str(data["whlo"]), str(data["itno"]), Decimal(str(data["on_hand"]))
        except (KeyError, TypeError, ArithmeticError):
            return JSONResponse({"error": "fields: whlo, itno, on_hand"}, status_code=422)
        await run_in_threadpool(store.set_balance, whlo, itno, on_hand)
        return JSONResponse({"whlo": whlo, "itno": itno, "on_hand": str(on_hand)})

    @app.post("/_sim/reset")
    async def reset() -> dict[str, str]:
        await run_in_threadpool(store.reset)
        state.set_faults(state.faults)
        return {"status": "reset"}

    @app.get("/_sim/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(state.faults)

    @app.post("/_sim/faults")
    async def set_faults(request: Request) -> JSONResponse:
        try:
            state.set_faults(Faults.from_dict(json.loads(await request.body() or b"{}")))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse(asdict(state.faults))

    @app.get("/_sim/invoices")
    async def invoices() -> list[dict[str, Any]]:
        return await run_in_threadpool(store.invoices)

    @app.post("/_sim/invoice")
    async def invoice_run() -> dict[str, Any]:
        """The invoicing run: invoice every delivered line not invoiced yet (77)."""

        def run_invoicing() -> list[str]:
            call = Call("M3SRVADM")
            with store.transaction() as db:
                numbers = invoice_pending(db, call)
            store.publish(call.events)
            return numbers

        return {"invoices": await run_in_threadpool(run_invoicing)}

    @app.get("/_sim/options")
    async def get_options() -> dict[str, Any]:
        return {"invoice_on_delivery": state.invoice_on_delivery}

    @app.post("/_sim/options")
    async def set_options(request: Request) -> JSONResponse:
        data = json.loads(await request.body() or b"{}")
        if not isinstance(data, dict) or set(data) - {"invoice_on_delivery"}:
            return JSONResponse({"error": "options: invoice_on_delivery"}, status_code=422)
        state.invoice_on_delivery = bool(data.get("invoice_on_delivery", state.invoice_on_delivery))
        return JSONResponse({"invoice_on_delivery": state.invoice_on_delivery})

    @app.get("/_sim/ims")
    async def get_ims() -> dict[str, Any]:
        emitter = state.emitter
        if emitter is None:
            return {"target": None}
        return {"target": emitter.target.url, **asdict(emitter.stats)}

    @app.post("/_sim/ims")
    async def set_ims(request: Request) -> JSONResponse:
        """Configure (or, with {"url": null}, stop) the BODs the simulator sends to an IMS endpoint."""
        data = json.loads(await request.body() or b"{}")
        try:
            target = ImsTarget(**data) if isinstance(data, dict) and data.get("url") else None
        except TypeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        state.set_ims_target(target)
        return JSONResponse({"target": target.url if target else None})

    @app.post("/_sim/ims/wait")
    async def wait_ims() -> dict[str, Any]:
        """Wait (up to 10 s) until every queued BOD was sent or given up."""
        emitter = state.emitter
        idle = await run_in_threadpool(emitter.wait_idle) if emitter is not None else True
        return {"idle": idle}

    @app.post("/_sim/tokens/expire")
    async def expire_tokens() -> dict[str, int]:
        count = len(state.tokens)
        state.tokens.clear()
        return {"expired": count}

    return app
