"""`m3amazon config check`: try every connection the settings describe, and explain failures.

Each check returns a sentence an integration engineer can act on ("the certificate of
https://... is not trusted: set amazon.ca_bundle"), never a stack trace.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

from m3amazon.amazon.errors import AmazonApiError, AuthError, NotFound
from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.config import Settings
from m3amazon.m3.client import MIClient, RetryPolicy
from m3amazon.m3.errors import MIError
from m3amazon.mapping import MappingError, load_mappings
from m3amazon.ops.db import create_engine

#: An order id in Amazon's format that no seller has: getOrder answers 404 when auth works.
PROBE_ORDER_ID = "000-0000000-0000000"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def explain(exc: BaseException, target: str) -> str:
    """A plain sentence for a connection failure."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(item):
            return (
                f"the TLS certificate of {target} is not trusted: set its ca_bundle setting to the issuing CA"
            )
        if isinstance(item, httpx.ConnectError | ConnectionRefusedError):
            return f"cannot connect to {target}: nothing answers there (is the address right, is it running?)"
        if isinstance(item, httpx.TimeoutException | TimeoutError):
            return f"{target} did not answer in time"
    if isinstance(exc, MappingError | AmazonApiError | MIError | ValueError):
        return str(exc)  # already a sentence
    return f"{type(exc).__name__}: {exc}"


async def _check_database(settings: Settings) -> str:
    def probe() -> str:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()
        return "reachable (" + ("PostgreSQL" if settings.is_postgres else "SQLite") + ")"

    return await asyncio.to_thread(probe)


async def _check_mappings(settings: Settings) -> str:
    mappings = load_mappings(settings.mapping_file)
    origin = settings.mapping_file or "shipped defaults"
    count = len(mappings.customers.per_marketplace)
    return f"{origin}: {count} marketplaces mapped (version {mappings.version})"


async def _check_amazon(settings: Settings) -> str:
    async with AmazonGateway(settings.amazon) as gateway:
        try:
            await gateway.get_order(PROBE_ORDER_ID)
        except NotFound:
            return f"LWA token issued and SP-API at {gateway.endpoints.endpoint} answered"
        except AuthError as exc:
            raise RuntimeError(
                f"credentials refused: {exc.message} (check LWA client id, secret, refresh token)"
            ) from exc
    return f"SP-API at {gateway.endpoints.endpoint} answered"


async def _check_sqs(settings: Settings) -> str:
    from aiobotocore.session import get_session

    sqs = settings.amazon.sqs
    if not sqs.queue_url:
        return "no queue configured (amazon.sqs.queue_url): no notifications will be taken"
    kwargs: dict[str, object] = {"region_name": sqs.region}
    if sqs.endpoint_url:
        kwargs["endpoint_url"] = sqs.endpoint_url
    if sqs.access_key_id:
        kwargs["aws_access_key_id"] = sqs.access_key_id
        kwargs["aws_secret_access_key"] = (
            sqs.secret_access_key.get_secret_value() if sqs.secret_access_key else ""
        )
    async with get_session().create_client("sqs", **kwargs) as client:
        attrs = await client.get_queue_attributes(
            QueueUrl=sqs.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
    waiting = attrs.get("Attributes", {}).get("ApproximateNumberOfMessages", "?")
    return f"queue reachable, {waiting} messages waiting"


async def _check_m3(settings: Settings) -> str:
    async with MIClient(settings.m3, retry=RetryPolicy(attempts=2, wait_initial=0.2, wait_max=0.5)) as client:
        user = await client.ping()
        mode = "ION API (.ionapi)" if settings.m3.mode == "cloud" else "on-premises"
        return f"{mode} at {client.base_url} answered as user {user}, company {settings.m3.cono}"


async def check_all(settings: Settings) -> list[CheckResult]:
    checks: list[tuple[str, str, Callable[[Settings], Awaitable[str]]]] = [
        ("database", settings.database_url.split("@")[-1], _check_database),
        ("mappings", str(settings.mapping_file or "defaults"), _check_mappings),
        ("amazon", settings.amazon.endpoint or settings.amazon.region, _check_amazon),
        ("sqs", settings.amazon.sqs.queue_url or "-", _check_sqs),
        ("m3", settings.m3.base_url or str(settings.m3.ionapi_file), _check_m3),
    ]
    results = []
    for name, target, check in checks:
        try:
            results.append(CheckResult(name, True, await check(settings)))
        except Exception as exc:  # every failure becomes a sentence, never a traceback
            results.append(CheckResult(name, False, explain(exc, target)))
    return results
