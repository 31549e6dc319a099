"""Enqueue an order's reconciliation from a process that runs no worker (the `m3amazon` CLI).

A worker enqueues retries with `flows.dispatch.retry_order`. The CLI is a short-lived separate
process: launching DBOS there would make it a worker (recovering workflows, dequeuing work it will
not finish), so it writes the queued workflow into the system database with DBOS's `DBOSClient`
instead, and a running worker picks it up. The row must be exactly what `retry_order` writes:

- the workflow by its registered name (`ORDER_WORKFLOW`, the qualified name DBOS gives
  `flows.order_to_cash.amazon_order_changed`; a test checks they agree),
- on the order queue (`bootstrap.ORDER_QUEUE`) with the Amazon order id as partition key (the
  queue is partitioned: an item without a key would never start),
- an `OrderChanged(change_type="OperatorRetry", origin="retry")` argument, serialised with the
  workers' serializer (encrypting when PII keys are configured, or a worker could not read it),
- a workflow id of the same form, new for every retry.

Nothing here imports the flows (a CLI must not need the M3 and Amazon edges to enqueue a retry).
"""

from __future__ import annotations

import time
from typing import Any

from dbos import DBOSClient, EnqueueOptions, WorkflowHandleAsync
from sqlalchemy.engine import Engine

from m3amazon.bootstrap import ORDER_QUEUE
from m3amazon.canonical import OrderChanged
from m3amazon.config import Settings
from m3amazon.ops import db

#: Registered name of the order workflow (DBOS: the function's qualified name).
ORDER_WORKFLOW = "amazon_order_changed"
#: The application name of the workers' DBOS configuration (bootstrap.dbos_config).
APPLICATION = "m3amazon"


def retry_workflow_id(order_id: str) -> str:
    """A new id for each retry (the same form as flows.dispatch.retry_order's)."""
    return f"amazon-order:{order_id}:retry:{int(time.time() * 1000)}"


def retry_event(order_id: str) -> OrderChanged:
    return OrderChanged(order_id=order_id, change_type="OperatorRetry", origin="retry")


class ClientEnqueuer:
    """`Enqueue` for the CLI: `await enqueuer(order_id, reason)` -> the queued workflow's id.

    Connects on first use, so commands that only read (or discard) never touch DBOS.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: DBOSClient | None = None
        self._engine: Engine | None = None

    def _connect(self) -> DBOSClient:
        if self._client is None:
            kwargs: dict[str, Any] = {"application_name": APPLICATION}
            keys = self._settings.security.keys()
            if keys:
                from m3amazon.ops.crypto import EncryptingSerializer, PiiCipher

                kwargs["serializer"] = EncryptingSerializer(PiiCipher(keys))
            if self._settings.is_postgres:
                kwargs["system_database_url"] = self._settings.database_url
            else:  # the same connection settings as the workers (WAL, busy timeout, IMMEDIATE)
                self._engine = db.create_engine(self._settings.database_url, pool_size=2)
                kwargs["system_database_engine"] = self._engine
            self._client = DBOSClient(**kwargs)
        return self._client

    async def __call__(self, order_id: str, reason: str) -> str:
        client = self._connect()
        options: EnqueueOptions = {
            "workflow_name": ORDER_WORKFLOW,
            "queue_name": ORDER_QUEUE,
            "workflow_id": retry_workflow_id(order_id),
            "queue_partition_key": order_id,
        }
        handle: WorkflowHandleAsync[object] = await client.enqueue_async(options, retry_event(order_id))
        return handle.get_workflow_id()

    def close(self) -> None:
        if self._client is not None:
            self._client.destroy()
            self._client = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
