"""The product running in this process against a sandbox: for the demo, tests and benchmarks.

`running_product` starts the service (engine, SQS intake, catch-up poll, web with the IMS endpoint)
wired to the sandbox's simulators, points the M3 simulator's BODs at our IMS endpoint, and stops
everything on the way out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from m3amazon import bootstrap
from m3amazon.ops import trail
from m3amazon.service import run_service
from m3amazon.sim.sandbox import IMS_TOKEN, Sandbox
from m3amazon.sim.world import World


@asynccontextmanager
async def running_product(
    sandbox: Sandbox,
    database_url: str,
    *,
    web_port: int,
    world: World | None = None,
    stop: asyncio.Event | None = None,
    **engine: Any,
) -> AsyncIterator[bootstrap.Runtime]:
    """`stop`: set by SIGINT/SIGTERM (the service's handlers) or by the caller; the service stops
    when the block ends anyway."""
    settings = sandbox.settings(database_url, **engine)
    settings.web.port = web_port
    stop = stop or asyncio.Event()
    ready: asyncio.Future[bootstrap.Runtime] = asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service(settings, stop=stop, on_ready=ready.set_result))
    try:
        rt = await asyncio.wait_for(asyncio.shield(ready), timeout=60)
        if world is not None:
            await asyncio.to_thread(world.send_bods_to, f"http://127.0.0.1:{web_port}/service", IMS_TOKEN)
        yield rt
    finally:
        stop.set()
        await service


async def wait_for(
    check: Callable[[], bool],
    *,
    timeout_s: float = 120,
    every_s: float = 0.2,
    what: str = "the condition",
    step: Callable[[], object] | None = None,
) -> None:
    """Wait until `check()` (run in a thread) holds; `step` (also in a thread) moves the world meanwhile."""
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        if step is not None:
            await asyncio.to_thread(step)
        await asyncio.sleep(every_s)


def outcomes(rt: bootstrap.Runtime) -> dict[str, int]:
    return trail.outcome_counts(rt.engine)
