"""The MI REST client: M3 API programs over `m3api-rest/v2`, on-premises or through the ION API.

Why it looks the way it does:

- One async httpx client per `MIClient`, with a semaphore of `settings.max_concurrency`, so a
  busy worker cannot flood a tenant (M3 runs MI calls on a bounded pool of its own).
- Every record is stringified and checked against the MI field table *before* sending: a bad
  field becomes one plain sentence (`MIValidationError`) instead of a rejected transaction.
- Bulk POSTs carry many transactions of one program per round trip; a customer order of n lines
  costs one call instead of n + 2. Results are per transaction (a bulk is not atomic).
- M3 answers errors in several shapes (v2 with HTTP 200 or 400, errors in `results[i]` or at the
  top level, the older v1 `MIRecord/NameValue` shape some tenants still return): all are parsed
  into `MIError`s; rows that came back with an error are never taken for success.
- Retries: failures that cannot have been processed (connection refused, HTTP 429, token fetch)
  are always retried; ambiguous ones (timeout, 5xx, dropped connection) only for reads
  (`Get*`, `Lst*`, `Search*`, `Sel*`). A write whose outcome is unknown raises
  `MITransportError` so that the caller looks its object up by the natural key before creating
  it again (see `m3.orders`). Backoff is exponential with jitter (stamina), bounded by
  `RetryPolicy`.
- Cloud: the `.ionapi` file's service account gets a bearer token by the OAuth2 password grant,
  cached until shortly before it expires, fetched again once on HTTP 401, revoked on `aclose()`.
  On-premises: HTTP basic auth. Secrets never reach a log line or an exception message.
- Protection: besides the concurrency limit, a circuit breaker (`m3.circuit`) opens after a run of
  transient failures; M3 calls then wait until a probe (`GetCurrentUser`) succeeds, and a call that
  failed meanwhile is sent again when that is safe (reads; writes M3 certainly did not run).
- `use_bulk=False` sends a bulk's transactions one GET each (tenants without the bulk endpoint,
  and the round-trip benchmark's baseline).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import stamina

from m3amazon.config import M3Settings
from m3amazon.m3.circuit import CircuitBreaker, CircuitPolicy, CircuitState, StateListener
from m3amazon.m3.errors import MIError, MITransportError
from m3amazon.m3.fields import FieldTable

log = logging.getLogger(__name__)

_READ_PREFIXES = ("Get", "Lst", "Search", "Sel")
_IONAPI_KEYS = ("ti", "ci", "cs", "iu", "pu", "ot", "saak", "sask")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient failures (zero waits in tests)."""

    attempts: int = 5
    wait_initial: float = 0.2
    wait_max: float = 5.0
    wait_jitter: float = 0.5


@dataclass
class MIStats:
    """Counters for benchmarks and the console: HTTP calls to the MI API and transactions sent."""

    round_trips: int = 0
    transactions: int = 0
    retries: int = 0
    token_requests: int = 0


@dataclass(frozen=True)
class MIResult:
    """One transaction's outcome within a call: its rows, or the error M3 gave for it."""

    transaction: str
    records: list[dict[str, str]] = field(default_factory=list)
    error: MIError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def is_read(transaction: str) -> bool:
    """MI naming convention: these transactions change nothing, so repeating them is harmless."""
    return transaction.startswith(_READ_PREFIXES)


def mi_value(value: object) -> str | None:
    """The MI string form of a Python value (None means: leave the field out)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    raise TypeError(f"cannot send a {type(value).__name__} to M3")


def mi_record(record: Mapping[str, object] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (record or {}).items():
        text = mi_value(value)
        if text is not None:
            out[name] = text
    return out


# -- response parsing -------------------------------------------------------------------------


def _rows(raw: object) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        return []
    return [
        {str(k): ("" if v is None else str(v)).rstrip() for k, v in row.items()}
        for row in raw
        if isinstance(row, dict)
    ]


def _error_from(
    obj: Mapping[str, Any], program: str, transaction: str, *, top: bool = False
) -> MIError | None:
    message = obj.get("errorMessage") or (obj.get("terminationReason") if top else None)
    code = obj.get("errorCode")
    error_type = obj.get("errorType") or (obj.get("terminationErrorType") if top else None)
    if not (message or code or error_type):
        return None
    return MIError(
        str(message or error_type or code),
        program=program,
        transaction=transaction,
        code=str(code) if code else None,
        field=str(obj.get("errorField") or "") or None,
        error_type=str(error_type) if error_type else None,
    )


def _parse_v1(body: Mapping[str, Any], program: str, transaction: str) -> MIResult:
    rows = [
        {str(nv.get("Name")): str(nv.get("Value") or "").rstrip() for nv in rec.get("NameValue", [])}
        for rec in body.get("MIRecord") or []
        if isinstance(rec, dict)
    ]
    wrapped = body.get("ErrorMessage")
    source: Mapping[str, Any] = wrapped if isinstance(wrapped, dict) else body
    error = None
    if source.get("@type") or source.get("@code") or (source is not body and source.get("Message")):
        error = MIError(
            str(source.get("Message") or source.get("@type") or "M3 returned an error"),
            program=program,
            transaction=transaction,
            code=source.get("@code") or None,
            field=source.get("@field") or None,
            error_type=source.get("@type") or None,
        )
    return MIResult(transaction, rows, error)


def parse_response(
    program: str, transactions: Sequence[str], status: int, body: Mapping[str, Any]
) -> list[MIResult]:
    """Map an MI response body (v2 or v1, HTTP 200 or 400) to one MIResult per sent transaction."""
    if "MIRecord" in body or "@type" in body or "ErrorMessage" in body:
        return [_parse_v1(body, program, transactions[0])]
    raw_results = body.get("results")
    results: list[Any] = raw_results if isinstance(raw_results, list) else []
    failed = bool(body.get("wasTerminated")) or int(body.get("nrOfFailedTransactions") or 0) > 0
    top_error = _error_from(body, program, transactions[0], top=True)
    out: list[MIResult] = []
    for index, transaction in enumerate(transactions):
        item = results[index] if index < len(results) and isinstance(results[index], dict) else None
        error = _error_from(item, program, transaction) if item else None
        if error is None and item and item.get("notProcessed"):
            reason = body.get("terminationReason") or "an earlier transaction ended the bulk call"
            error = MIError(
                f"not processed: {reason}",
                program=program,
                transaction=transaction,
                error_type="NotProcessed",
            )
        if error is None and (item is None or (status == 400 and len(transactions) == 1)):
            if top_error is not None:
                error = MIError(
                    top_error.message,
                    program=program,
                    transaction=transaction,
                    code=top_error.code,
                    field=top_error.field,
                    error_type=top_error.error_type,
                )
            elif item is None or failed or status == 400:
                error = MIError(
                    "M3 returned no result for this transaction",
                    program=program,
                    transaction=transaction,
                    error_type="NoResult",
                )
        if error is None and failed and len(transactions) == 1 and not (item or {}).get("records"):
            error = MIError("M3 reported a failure without details", program=program, transaction=transaction)
        out.append(MIResult(transaction, _rows((item or {}).get("records")), error))
    return out


# -- authentication ---------------------------------------------------------------------------


class _IonApiToken:
    """Bearer tokens for the service account of a .ionapi file (OAuth2 password grant)."""

    def __init__(self, path: Path, http: httpx.AsyncClient, stats: MIStats) -> None:
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the .ionapi file {path}: {exc}") from None
        missing = [key for key in _IONAPI_KEYS if not config.get(key)]
        if missing:
            raise ValueError(
                f"the .ionapi file {path} lacks {', '.join(missing)} (a backend-service file is needed)"
            )
        self._config = config
        self._http = http
        self._stats = stats
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def base_url(self) -> str:
        return f"{self._config['iu'].rstrip('/')}/{self._config['ti']}/M3"

    @property
    def ims_url(self) -> str:
        """ION's IMS service root behind the ION API gateway (research notes §4.3)."""
        return f"{self._config['iu'].rstrip('/')}/{self._config['ti']}/IONSERVICES/api/ion/messaging/service"

    def _url(self, key: str) -> str:
        base, path = self._config["pu"], self._config[key]
        return base + path if base.endswith("/") or path.startswith("/") else f"{base}/{path}"

    def invalidate(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def get(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._token = await self._fetch()
            return self._token

    async def _fetch(self) -> str:
        form = {
            "grant_type": "password",
            "username": self._config["saak"],
            "password": self._config["sask"],
            "client_id": self._config["ci"],
            "client_secret": self._config["cs"],
        }
        self._stats.token_requests += 1
        try:
            response = await self._http.post(self._url("ot"), data=form)
        except httpx.HTTPError as exc:
            raise MITransportError(
                f"ION API token request failed: {type(exc).__name__}", maybe_processed=False
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise MITransportError(
                "ION API token request failed", status=response.status_code, maybe_processed=False
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            payload = {}
        if response.status_code != 200 or not payload.get("access_token"):
            reason = payload.get("error") or f"HTTP {response.status_code}"
            raise MIError(
                f"ION API refused the service account of the .ionapi file ({reason})",
                error_type="Authentication",
                code=str(response.status_code),
            )
        lifetime = float(payload.get("expires_in") or 3600)
        self._expires_at = time.monotonic() + lifetime - min(60.0, lifetime / 10)
        return str(payload["access_token"])

    async def revoke(self) -> None:
        token, self._token = self._token, None
        if token is None or not self._config.get("or"):
            return
        try:
            await self._http.post(
                self._url("or"),
                data={"token": token, "token_type_hint": "access_token"},
                auth=(self._config["ci"], self._config["cs"]),
            )
        except httpx.HTTPError as exc:
            log.warning("could not revoke the ION API token: %s", type(exc).__name__)


def _untrusted_certificate(exc: BaseException) -> bool:
    """A certificate verification failure is configuration, not a passing fault: do not retry it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _verify(settings: M3Settings) -> ssl.SSLContext | bool:
    if not settings.verify_tls:
        return False
    if settings.ca_bundle is not None:
        return ssl.create_default_context(cafile=str(settings.ca_bundle))
    return True


# -- the client -------------------------------------------------------------------------------


class MIClient:
    """Async MI REST v2 client (see the module docstring for the rules it follows)."""

    def __init__(
        self,
        settings: M3Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        fields: FieldTable | None = None,
        retry: RetryPolicy | None = None,
        on_circuit_change: StateListener | None = None,
    ) -> None:
        self._settings = settings
        self._fields = fields or FieldTable.default()
        self._retry = retry or RetryPolicy()
        self._semaphore = asyncio.Semaphore(settings.max_concurrency)
        self.stats = MIStats()
        limits = httpx.Limits(
            max_connections=settings.max_concurrency, max_keepalive_connections=settings.max_concurrency
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(settings.timeout_s),
            verify=_verify(settings),
            limits=limits,
            headers={"Accept": "application/json"},
        )
        self._token: _IonApiToken | None = None
        self._basic: httpx.BasicAuth | None = None
        if settings.mode == "cloud":
            assert settings.ionapi_file is not None  # enforced by M3Settings
            self._token = _IonApiToken(settings.ionapi_file, self._http, self.stats)
            self._base = self._token.base_url
        else:
            assert settings.base_url is not None  # enforced by M3Settings
            self._base = settings.base_url.rstrip("/")
            self._basic = httpx.BasicAuth(settings.username or "", settings.password_value() or "")
        circuit = settings.circuit
        self.circuit = CircuitBreaker(
            httpx.URL(self._base).copy_with(username=None, password=None, query=None).__str__(),
            CircuitPolicy(
                circuit.enabled, circuit.failure_threshold, circuit.probe_initial_s, circuit.probe_max_s
            ),
            self._probe,
            on_state_change=on_circuit_change,
        )

    @property
    def fields(self) -> FieldTable:
        return self._fields

    @property
    def base_url(self) -> str:
        return self._base

    async def __aenter__(self) -> MIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the breaker's probe, revoke the bearer token (cloud) and close the connections."""
        await self.circuit.aclose()
        if self._token is not None:
            await self._token.revoke()
        await self._http.aclose()

    async def bearer_token(self) -> str:
        """The current ION API bearer token (cloud mode), e.g. for sending BODs to ION's IMS."""
        if self._token is None:
            raise RuntimeError("bearer tokens exist in cloud mode (.ionapi) only")
        return await self._token.get()

    @property
    def ims_url(self) -> str | None:
        """ION's IMS service root for this tenant (cloud mode), or None on-premises."""
        return self._token.ims_url if self._token is not None else None

    # -- public calls ---------------------------------------------------------------------------

    async def execute(
        self,
        program: str,
        transaction: str,
        record: Mapping[str, object] | None = None,
        *,
        maxrecs: int = 100,
        idempotent: bool | None = None,
    ) -> list[dict[str, str]]:
        """Run one transaction (v2 GET); its rows, or the MIError M3 gave."""
        fields = mi_record(record)
        self._fields.validate_input(program, transaction, fields)
        params = {**fields, **self._control(), "maxrecs": str(maxrecs)}
        self.stats.transactions += 1
        results = await self._send(
            "GET",
            f"/m3api-rest/v2/execute/{program}/{transaction}",
            program,
            [transaction],
            params=params,
            idempotent=is_read(transaction) if idempotent is None else idempotent,
        )
        if results[0].error is not None:
            raise results[0].error
        return results[0].records

    async def bulk(
        self,
        program: str,
        calls: Sequence[tuple[str, Mapping[str, object]]],
        *,
        maxrecs: int = 100,
        idempotent: bool | None = None,
    ) -> list[MIResult]:
        """Run transactions of one program in bulk POSTs of at most `bulk_chunk`; one result each.

        Business errors come back per transaction in the results; transport failures raise
        (earlier chunks may then have been processed already).
        """
        prepared = [(transaction, mi_record(record)) for transaction, record in calls]
        for transaction, record in prepared:
            self._fields.validate_input(program, transaction, record)
        if not self._settings.use_bulk:
            return await self._one_by_one(program, prepared, maxrecs, idempotent)
        if idempotent is None:
            idempotent = all(is_read(transaction) for transaction, _ in prepared)
        control: dict[str, object] = {"cono": self._settings.cono}
        if self._settings.divi:
            control["divi"] = self._settings.divi
        out: list[MIResult] = []
        size = self._settings.bulk_chunk
        for start in range(0, len(prepared), size):
            chunk = prepared[start : start + size]
            body = {
                "program": program,
                **control,
                "maxReturnedRecords": maxrecs,
                "transactions": [{"transaction": t, "record": r} for t, r in chunk],
            }
            self.stats.transactions += len(chunk)
            out.extend(
                await self._send(
                    "POST",
                    "/m3api-rest/v2/execute",
                    program,
                    [t for t, _ in chunk],
                    body=body,
                    idempotent=idempotent,
                )
            )
        return out

    async def _one_by_one(
        self, program: str, prepared: list[tuple[str, dict[str, str]]], maxrecs: int, idempotent: bool | None
    ) -> list[MIResult]:
        out: list[MIResult] = []
        for transaction, record in prepared:
            self.stats.transactions += 1
            results = await self._send(
                "GET",
                f"/m3api-rest/v2/execute/{program}/{transaction}",
                program,
                [transaction],
                params={**record, **self._control(), "maxrecs": str(maxrecs)},
                idempotent=is_read(transaction) if idempotent is None else idempotent,
            )
            out.append(results[0])
        return out

    async def ping(self) -> str:
        """Health probe: the M3 user the credentials map to (OIS100MI/GetCurrentUser)."""
        rows = await self.execute("OIS100MI", "GetCurrentUser", maxrecs=1)
        return rows[0].get("USER", "") if rows else ""

    async def _probe(self) -> None:
        """The breaker's probe: one GetCurrentUser that bypasses the breaker and the retries."""
        results = await self._send_once(
            "GET",
            "/m3api-rest/v2/execute/OIS100MI/GetCurrentUser",
            "OIS100MI",
            ["GetCurrentUser"],
            {**self._control(), "maxrecs": "1"},
            None,
        )
        if results[0].error is not None:
            raise results[0].error

    # -- plumbing -------------------------------------------------------------------------------

    def _control(self) -> dict[str, str]:
        control = {"cono": str(self._settings.cono)}
        if self._settings.divi:
            control["divi"] = self._settings.divi
        return control

    async def _send(
        self,
        method: str,
        path: str,
        program: str,
        transactions: list[str],
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        idempotent: bool,
    ) -> list[MIResult]:
        def retry_on(exc: Exception) -> bool:
            return isinstance(exc, MITransportError) and (idempotent or not exc.maybe_processed)

        while True:
            await self.circuit.wait_until_closed()
            try:
                return await self._send_with_retries(
                    method, path, program, transactions, params, body, retry_on
                )
            except MITransportError as exc:
                if self.circuit.state is CircuitState.CLOSED or not retry_on(exc):
                    raise
                # The failure came with an outage: wait for the breaker, then send it again.
                log.info("M3 %s/%s held by the open circuit breaker: %s", program, transactions[0], exc)

    async def _send_with_retries(
        self,
        method: str,
        path: str,
        program: str,
        transactions: list[str],
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
        retry_on: Callable[[Exception], bool],
    ) -> list[MIResult]:
        policy = self._retry
        async for attempt in stamina.retry_context(
            on=retry_on,
            attempts=policy.attempts,
            timeout=None,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            with attempt:
                if attempt.num > 1:
                    self.stats.retries += 1
                await self.circuit.wait_until_closed()
                async with self._semaphore:
                    try:
                        results = await self._send_once(method, path, program, transactions, params, body)
                    except MITransportError as exc:
                        if exc.status != 429:  # throttling means M3 is alive
                            self.circuit.record_failure()
                        raise
                self.circuit.record_success()
                return results
        raise AssertionError("unreachable: stamina re-raises the last error")

    async def _auth(self) -> tuple[dict[str, str], str | None]:
        if self._token is None:
            return {}, None
        token = await self._token.get()
        return {"Authorization": f"Bearer {token}"}, token

    async def _send_once(
        self,
        method: str,
        path: str,
        program: str,
        transactions: list[str],
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
    ) -> list[MIResult]:
        label = transactions[0] if len(transactions) == 1 else f"bulk of {len(transactions)}"
        for renewed in (False, True):
            headers, token = await self._auth()
            started = time.perf_counter()
            try:
                self.stats.round_trips += 1
                response = await self._http.request(
                    method,
                    self._base + path,
                    params=params,
                    json=body,
                    headers=headers,
                    auth=self._basic,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if _untrusted_certificate(exc):
                    raise MIError(
                        "M3's TLS certificate is not trusted; set m3.ca_bundle to its CA certificate",
                        program=program,
                        transaction=label,
                        error_type="TLS",
                    ) from None
                raise MITransportError(
                    f"could not reach M3 ({type(exc).__name__})",
                    program=program,
                    transaction=label,
                    maybe_processed=False,
                ) from None
            except httpx.HTTPError as exc:
                raise MITransportError(
                    f"M3 call interrupted ({type(exc).__name__}); outcome unknown",
                    program=program,
                    transaction=label,
                ) from None
            log.debug(
                "MI %s/%s -> HTTP %s in %.0f ms",
                program,
                label,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            if response.status_code == 401 and token is not None and self._token is not None and not renewed:
                self._token.invalidate(token)
                continue
            return self._interpret(response, program, transactions, label)
        raise AssertionError("unreachable")

    def _interpret(
        self, response: httpx.Response, program: str, transactions: list[str], label: str
    ) -> list[MIResult]:
        status = response.status_code
        if status in (401, 403):
            raise MIError(
                f"M3 refused the credentials (HTTP {status})",
                program=program,
                transaction=label,
                code=str(status),
                error_type="Authentication",
            )
        if status == 429:
            raise MITransportError(
                "M3 is throttling (HTTP 429)",
                program=program,
                transaction=label,
                status=status,
                maybe_processed=False,
            )
        if status >= 500:
            raise MITransportError(
                f"M3 answered HTTP {status}", program=program, transaction=label, status=status
            )
        if status not in (200, 400):
            raise MIError(
                f"unexpected HTTP {status} from {response.request.url.path}",
                program=program,
                transaction=label,
                code=str(status),
                error_type="HTTP",
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise MIError(
                f"M3 answered HTTP {status} without a JSON object body",
                program=program,
                transaction=label,
                code=str(status),
                error_type="HTTP",
            )
        return parse_response(program, transactions, status, payload)
