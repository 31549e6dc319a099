"""The long-running service: durable engine, SQS intake and web surface in one event loop.

`m3amazon run` and `m3amazon demo` both end up here. SIGINT/SIGTERM stop intake first (no new
work), then the web server, then the engine; workflows still running are recovered by the next
start of the same executor id.

`work=False` (`m3amazon run --no-work`): the process enqueues (BODs from ION, operators' retries)
but runs no queued workflow; the web process of a fleet, next to workers run with `--no-web`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator

import uvicorn

from m3amazon import bootstrap
from m3amazon.amazon.intake import SqsIntake
from m3amazon.amazon.poll import CatchUpPoll
from m3amazon.config import Settings
from m3amazon.flows.dispatch import submit_order_change
from m3amazon.flows.inventory import InventoryScheduler
from m3amazon.flows.mcf_intake import McfIntake
from m3amazon.flows.settlement import SettlementScheduler
from m3amazon.listen import bind
from m3amazon.ops.retention import RetentionJob
from m3amazon.ops.watchdog import WorkflowWatchdog
from m3amazon.ops.workers import WorkerHeartbeat, dbos_recover
from m3amazon.web.app import create_app

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _until_serving(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """Return once the web server accepts connections."""
    while not server.started:
        if task.done():
            raise RuntimeError("the web server stopped while starting; see the log above")
        await asyncio.sleep(0.02)


async def run_service(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    web: bool = True,
    intake: bool = True,
    work: bool = True,
    on_ready: Callable[[bootstrap.Runtime], None] | None = None,
) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)

    rt = await bootstrap.start_engine(settings, process_queues=work)
    tasks: list[asyncio.Task[None]] = []
    server: _EmbeddedServer | None = None
    try:
        tasks.append(asyncio.create_task(rt.alerter.run(stop), name="alerts"))
        watchdog = WorkflowWatchdog(rt.engine, settings.engine.watchdog_interval_s)
        tasks.append(asyncio.create_task(watchdog.run(stop), name="workflow-watchdog"))
        heartbeat = WorkerHeartbeat(
            rt.engine,
            settings.engine.executor_id,
            dbos_recover,
            interval_s=settings.engine.heartbeat_interval_s,
            timeout_s=settings.engine.heartbeat_timeout_s,
            takeover=settings.engine.takeover and work,  # a --no-work process takes nothing over
        )
        tasks.append(asyncio.create_task(heartbeat.run(stop), name="worker-heartbeat"))
        retention = RetentionJob(rt.engine, settings.security)  # personal data purged when due
        tasks.append(asyncio.create_task(retention.run(stop), name="pii-retention"))
        if intake and settings.amazon.sqs.queue_url:
            sqs = SqsIntake(settings.amazon.sqs, rt.engine, submit_order_change)
            tasks.append(asyncio.create_task(sqs.run(stop), name="sqs-intake"))
        elif intake:
            log.warning("amazon.sqs.queue_url is not set: no notifications will be taken")
        if intake and settings.amazon.poll.enabled:
            poll = CatchUpPoll(
                settings.amazon.poll,
                rt.amazon,
                rt.engine,
                submit_order_change,
                owner=settings.engine.executor_id,
            )
            tasks.append(asyncio.create_task(poll.run(stop), name="catch-up-poll"))
        if intake and settings.mcf.enabled:  # Multi-Channel Fulfillment: notifications and polls
            tasks.append(asyncio.create_task(McfIntake(rt).run(stop), name="mcf-intake"))
        if intake and settings.inventory.enabled:  # M3 stock -> Amazon, FBA stock -> M3
            tasks.append(asyncio.create_task(InventoryScheduler(rt).run(stop), name="inventory"))
        if intake and settings.settlements.enabled:  # settlement reports -> GL batches in M3
            every = settings.settlements
            scheduler = SettlementScheduler(every.interval_s, every.first_after_s, every.lookback_days)
            tasks.append(asyncio.create_task(scheduler.run(stop), name="settlements"))
        if web:
            config = uvicorn.Config(
                create_app(rt),
                host=settings.web.host,
                port=settings.web.port,
                log_level="warning",
                access_log=False,
            )
            server = _EmbeddedServer(config)
            sock = bind(settings.web.host, settings.web.port)  # a plain error now if the port is taken
            web_task = asyncio.create_task(server.serve(sockets=[sock]), name="web")
            tasks.append(web_task)
            await _until_serving(server, web_task)
        if on_ready is not None:
            on_ready(rt)
        await stop.wait()
    finally:
        if server is not None:
            server.should_exit = True
        for task in tasks:
            if task.get_name() != "web":
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bootstrap.stop_engine()
