"""The circuit breaker on its own: when it opens, whom it holds, how it probes and closes."""

from __future__ import annotations

import asyncio
import logging

import pytest

from m3amazon.m3.circuit import CircuitBreaker, CircuitPolicy, CircuitState, circuit_state


def _breaker(probe, threshold: int = 3, **kwargs) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    changes: list[tuple[str, str]] = []
    breaker = CircuitBreaker(
        "m3-unit",
        CircuitPolicy(failure_threshold=threshold, probe_initial_s=0.01, probe_max_s=0.04, **kwargs),
        probe,
        on_state_change=lambda old, new: changes.append((old.value, new.value)),
    )
    return breaker, changes


def test_it_opens_after_consecutive_failures_only() -> None:
    async def scenario() -> None:
        breaker, changes = _breaker(asyncio.sleep, threshold=3)
        breaker.record_failure()
        breaker.record_failure()
        breaker.record_success()  # an answer from M3 resets the run
        breaker.record_failure()
        breaker.record_failure()
        assert breaker.state is CircuitState.CLOSED and not changes
        breaker.record_failure()
        assert breaker.state is CircuitState.OPEN
        await breaker.aclose()

    asyncio.run(scenario())


def test_calls_are_held_until_a_probe_succeeds_then_all_continue(caplog: pytest.LogCaptureFixture) -> None:
    attempts = {"probes": 0}

    async def probe() -> None:
        attempts["probes"] += 1
        if attempts["probes"] < 3:
            raise ConnectionError("still down")

    async def scenario() -> list[tuple[str, str]]:
        breaker, changes = _breaker(probe, threshold=1)
        breaker.record_failure()
        waiters = [asyncio.create_task(breaker.wait_until_closed()) for _ in range(5)]
        await asyncio.sleep(0)
        assert breaker.waiting == 5 and circuit_state()["m3-unit"] in ("open", "half_open")
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=2)
        assert breaker.state is CircuitState.CLOSED and breaker.waiting == 0
        await breaker.aclose()
        return changes

    with caplog.at_level(logging.WARNING, logger="m3amazon.m3.circuit"):
        changes = asyncio.run(scenario())
    assert attempts["probes"] == 3
    assert changes == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert any("circuit breaker OPEN" in r.message for r in caplog.records)
    assert any("closed again" in r.message for r in caplog.records)


def test_a_disabled_breaker_never_holds() -> None:
    async def scenario() -> None:
        breaker, changes = _breaker(asyncio.sleep, threshold=1, enabled=False)
        for _ in range(10):
            breaker.record_failure()
        await asyncio.wait_for(breaker.wait_until_closed(), timeout=0.1)
        assert breaker.state is CircuitState.CLOSED and not changes

    asyncio.run(scenario())
