"""Composition root: builds the edges, the durable engine and the product's tables from settings.

Flows never construct clients; they ask `runtime()` for the edges wired here. Simulated or real
systems differ only in the URLs and credentials in the settings.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, DBOSConfig
from dbos import _dbos as dbos_module
from sqlalchemy.engine import Engine

import m3amazon
from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.amazon.governor import RateGovernor, buckets_for
from m3amazon.amazon.order_source import OrderSource
from m3amazon.config import Settings
from m3amazon.m3.circuit import CircuitState, StateListener
from m3amazon.m3.client import MIClient
from m3amazon.mapping import Mappings, load_mappings
from m3amazon.ops import crypto, db
from m3amazon.ops.alerts import Alert, Alerter, Severity
from m3amazon.ops.crypto import EncryptingSerializer, PiiCipher

log = logging.getLogger(__name__)

#: The queue every Amazon order change, M3 shipment and invoice goes through, partitioned by the
#: Amazon order id.
ORDER_QUEUE = "amazon-orders"
#: The queue of Multi-Channel Fulfillment runs (flows/mcf.py), partitioned by M3 order number.
MCF_QUEUE = "mcf-orders"
#: The queue of the inventory sync's runs (flows/inventory.py, flows/fba_inventory.py): one at a
#: time across all workers, so pushes of quantities never overlap.
INVENTORY_QUEUE = "inventory"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    mappings: Mappings
    amazon: AmazonGateway
    m3: MIClient
    #: How the order flow reads orders (getOrder, or searchOrders pages for a backlog).
    orders: OrderSource
    #: Alerts to people, grouped per category and window (ops/alerts.py).
    alerter: Alerter

    async def aclose(self) -> None:
        await self.orders.aclose()
        await self.amazon.aclose()
        await self.m3.aclose()
        self.engine.dispose()


_runtime: Runtime | None = None


def _circuit_alert(alerter: Alerter, settings: Settings) -> StateListener:
    """The M3 circuit opening (or closing again) is something people must hear about."""
    target = settings.m3.base_url or str(settings.m3.ionapi_file)

    def on_change(old: CircuitState, new: CircuitState) -> None:
        if new is CircuitState.OPEN:
            alerter.raise_alert(
                Alert(
                    "m3_unavailable",
                    Severity.ERROR,
                    "M3 circuit open: M3-bound work is held",
                    body=f"M3 at {target} failed repeatedly; orders wait until a probe succeeds.",
                    key="circuit-open",
                )
            )
        elif new is CircuitState.CLOSED and old is not CircuitState.CLOSED:
            alerter.raise_alert(
                Alert(
                    "m3_unavailable",
                    Severity.WARNING,
                    "M3 circuit closed again: held work continues",
                    key="circuit-closed",
                )
            )

    return on_change


def runtime() -> Runtime:
    """The edges of the running engine (set by `start_engine`)."""
    if _runtime is None:
        raise RuntimeError("the engine is not started: call bootstrap.start_engine() first")
    return _runtime


def dbos_config(settings: Settings) -> DBOSConfig:
    config: dict[str, Any] = {
        "name": "m3amazon",
        "system_database_url": settings.database_url,
        "executor_id": settings.engine.executor_id,
        # A fixed version: a worker restarted after a crash (or an upgrade that keeps the workflow
        # code compatible) must recover the workflows the previous process left pending.
        "application_version": m3amazon.__version__,
        "log_level": "WARNING" if settings.log_level == "INFO" else settings.log_level,
    }
    keys = settings.security.keys()
    if keys:  # checkpoints hold fetched orders (buyer names, addresses): encrypt them at rest
        config["serializer"] = EncryptingSerializer(PiiCipher(keys))
    if settings.is_postgres:
        config["notification_listener_polling_interval_sec"] = 0.1
    else:
        db.ensure_sqlite_directory(settings.database_url)
        config["system_database_engine"] = db.create_engine(settings.database_url)
    return DBOSConfig(**config)  # type: ignore[typeddict-item]


async def start_engine(settings: Settings, *, process_queues: bool = True) -> Runtime:
    """Launch DBOS (recovering this executor's pending workflows) and wire the edges.

    Call from inside the process's main event loop: DBOS then runs queued async workflows on that
    loop, the same one the HTTP clients are bound to.
    """
    global _runtime
    mappings = load_mappings(settings.mapping_file)
    keys = settings.security.keys()  # personal data in the product's own tables: encrypted at rest
    crypto.use_for_storage(PiiCipher(keys) if keys else None)
    engine = db.create_engine(settings.database_url)
    db.create_tables(engine)
    governed = settings.amazon.governor
    governor = RateGovernor(buckets_for(settings.database_url, governed.shared, engine), governed)
    amazon = AmazonGateway(settings.amazon, governor=governor)
    alerter = Alerter(settings.alerts)
    _runtime = Runtime(
        settings=settings,
        engine=engine,
        mappings=mappings,
        amazon=amazon,
        m3=MIClient(settings.m3, on_circuit_change=_circuit_alert(alerter, settings)),
        orders=OrderSource(amazon, settings.amazon.order_source),
        alerter=alerter,
    )
    DBOS(config=dbos_config(settings))
    if not process_queues:
        DBOS.listen_queues([])  # enqueue only: a web or intake process must not pick up work
    DBOS.launch()
    if process_queues:
        await DBOS.register_queue_async(
            ORDER_QUEUE,
            worker_concurrency=settings.engine.worker_concurrency,
            # One run at a time per Amazon order (the partition key): the runs of an order are
            # serialised while different orders proceed in parallel.
            partition_concurrency=1,
            polling_interval_sec=settings.engine.queue_polling_s,
        )
        await DBOS.register_queue_async(
            MCF_QUEUE,
            worker_concurrency=settings.engine.worker_concurrency,
            partition_concurrency=1,  # one run at a time per M3 order
            polling_interval_sec=settings.engine.background_queue_polling_s,
        )
        await DBOS.register_queue_async(
            INVENTORY_QUEUE, concurrency=1, polling_interval_sec=settings.engine.background_queue_polling_s
        )
    log.info(
        "engine started (executor %s, database %s)",
        settings.engine.executor_id,
        "postgresql" if settings.is_postgres else "sqlite",
    )
    return _runtime


#: How long a stopping worker lets the workflows it is running finish before it goes.
SHUTDOWN_GRACE_S = 10.0


async def _drain_workflows(grace_s: float) -> None:
    """Stop taking work from the queues and let the running workflows finish (up to `grace_s`).

    Whatever is still running then stays PENDING and is resumed by the next start of this worker;
    what must not happen is a step failing because its HTTP client was closed under it (the
    workflow would end in ERROR). DBOS's own wait in `destroy` blocks the event loop the async
    workflows need, so the wait is done here. Uses DBOS internals (3.x); without them, no wait.
    """
    instance = getattr(dbos_module, "_dbos_global_instance", None)
    active = getattr(instance, "_active_workflows_set", None)
    if instance is None or active is None:
        return
    for event in getattr(instance, "background_thread_stop_events", ()):
        event.set()  # the queue thread stops dequeuing
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    while active.activeList() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    if active.activeList():
        log.info(
            "stopping with %d workflow(s) still running; they resume at the next start",
            len(active.activeList()),
        )


async def stop_engine(grace_s: float = SHUTDOWN_GRACE_S) -> None:
    global _runtime
    await _drain_workflows(grace_s)
    if _runtime is not None:
        await _runtime.aclose()
        _runtime = None
    DBOS.destroy(destroy_registry=False)
    # DBOS made its (now shut down) thread pool the loop's default executor; give the loop a
    # fresh one so asyncio.to_thread keeps working after the engine stops.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(thread_name_prefix="m3amazon"))
