"""Passing failures are tried again inside the workflow before they become incidents.

Two kinds, two places:

- **the product's own database** briefly gone (a PostgreSQL restart or fail-over, a pooled
  connection the server dropped, SQLite busy): the step raised. Every step of the flows is declared
  with `flow_step()`, which lets DBOS run it again after 0.5, 1, 2, 4, 8, 16 and 32 s (about a
  minute) when the exception is such a database error; any other exception fails the workflow at
  once, and the watchdog (ops/watchdog.py) makes it an incident.
- **M3 or Amazon** unreachable or too slow: the step returned a retryable `Failure`, see below.

A step that could not reach M3 or Amazon, or whose answer was lost on the way (a timeout, a 5xx, a
connection reset with the outcome unknown), returns a retryable failure. The workflow calls the
step again after each of `TRANSIENT_RETRY_PAUSES_S` (about two minutes in all) and only then opens
an incident. The pauses are `DBOS.sleep`: durable, so a worker restarted during one resumes the
wait. Every step this is used with looks the current state up before it writes (the order by
CUOR, Amazon's packages before confirmShipment, the GL batch by its key), so calling it again never
writes twice. A longer outage is held by the M3 circuit breaker before it gets here
(m3/client.py), and whatever is still failing after the pauses is an incident an operator retries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from dbos import DBOS

from m3amazon.flows.outcomes import Failure

T = TypeVar("T")

#: Pauses between the attempts at a step whose failure may pass, in seconds.
TRANSIENT_RETRY_PAUSES_S: tuple[float, ...] = (2.0, 5.0, 15.0, 30.0, 60.0)


#: A step that raised because the database was unreachable: attempts in all, first pause, growth.
DATABASE_RETRY_ATTEMPTS, DATABASE_RETRY_FIRST_S, DATABASE_RETRY_BACKOFF = 8, 0.5, 2.0


def database_blip(exc: BaseException) -> bool:
    """The product's own database could not be reached or dropped the connection."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa.exc.OperationalError)


def flow_step() -> Callable[[Any], Any]:
    """`@DBOS.step()` that outlives a database restart (see the module docstring)."""
    return DBOS.step(
        retries_allowed=True,
        max_attempts=DATABASE_RETRY_ATTEMPTS,
        interval_seconds=DATABASE_RETRY_FIRST_S,
        backoff_rate=DATABASE_RETRY_BACKOFF,
        should_retry=database_blip,
    )


def passing_failure(result: object) -> bool:
    """A `Failure` that retrying may mend (M3 or Amazon unreachable or too slow)."""
    return isinstance(result, Failure) and result.retryable


async def until_settled(
    attempt: Callable[[], Awaitable[T]],
    passing: Callable[[T], bool] = passing_failure,
    pauses_s: tuple[float, ...] = TRANSIENT_RETRY_PAUSES_S,
) -> T:
    """`attempt()` (a step call), again after each pause while its result is a passing failure."""
    result = await attempt()
    for pause_s in pauses_s:
        if not passing(result):
            break
        await DBOS.sleep_async(pause_s)  # durable: a restart resumes the wait
        result = await attempt()
    return result
