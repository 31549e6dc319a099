"""Passing failures are tried again after pauses before they become incidents (flows/transient.py)."""

from __future__ import annotations

import asyncio

import pytest

from m3amazon.flows import transient
from m3amazon.flows.outcomes import Failure, OrderOutcome

RESET = Failure("M3_UNAVAILABLE", "MHS850MI/AddCfmPickList: connection reset; outcome unknown", True)
REFUSED = Failure("M3_REJECTED_ORDER", "customer 1000 is blocked")
DONE = OrderOutcome("111-0000000-0000001", "delivered", "1000000001")


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The durable pauses taken (recorded instead of slept)."""
    taken: list[float] = []

    async def sleep(seconds: float) -> None:
        taken.append(seconds)

    monkeypatch.setattr(transient.DBOS, "sleep_async", sleep)
    return taken


def _attempts(*results: object):
    queue = list(results)
    calls: list[int] = []

    async def attempt() -> object:
        calls.append(1)
        return queue.pop(0)

    return attempt, calls


def test_a_passing_failure_is_tried_again_until_it_succeeds(pauses: list[float]) -> None:
    attempt, calls = _attempts(RESET, RESET, DONE)
    assert asyncio.run(transient.until_settled(attempt)) == DONE
    assert len(calls) == 3
    assert pauses == list(transient.TRANSIENT_RETRY_PAUSES_S[:2])


def test_a_refusal_is_not_tried_again(pauses: list[float]) -> None:
    attempt, calls = _attempts(REFUSED)
    assert asyncio.run(transient.until_settled(attempt)) == REFUSED
    assert len(calls) == 1 and pauses == []


def test_after_the_last_pause_the_failure_stands(pauses: list[float]) -> None:
    attempts = len(transient.TRANSIENT_RETRY_PAUSES_S) + 1
    attempt, calls = _attempts(*([RESET] * attempts))
    assert asyncio.run(transient.until_settled(attempt)) == RESET  # now it becomes an incident
    assert len(calls) == attempts
    assert pauses == list(transient.TRANSIENT_RETRY_PAUSES_S)
    assert sum(pauses) >= 60  # a passing hiccup does not page an operator


def test_success_at_once_takes_no_pause(pauses: list[float]) -> None:
    attempt, calls = _attempts(DONE)
    assert asyncio.run(transient.until_settled(attempt)) == DONE
    assert len(calls) == 1 and pauses == []
