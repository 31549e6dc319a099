"""Passing failures are tried again inside the workflow before they become incidents.

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
from typing import TypeVar

from dbos import DBOS

from m3amazon.flows.outcomes import Failure

T = TypeVar("T")

#: Pauses between the attempts at a step whose failure may pass, in seconds.
TRANSIENT_RETRY_PAUSES_S: tuple[float, ...] = (2.0, 5.0, 15.0, 30.0, 60.0)


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
