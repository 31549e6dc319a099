"""Workflows that died of an unexpected error become incidents, so nothing disappears quietly.

The flows turn every expected failure (bad input, M3 or Amazon refusing) into an incident
themselves. What they cannot foresee — a bug, a value no test imagined — makes DBOS end the
workflow in ERROR (or MAX_RECOVERY_ATTEMPTS_EXCEEDED after repeated crashes). The engine keeps
such a workflow with its input and error, but an operator only looks at incidents, so the watchdog
looks at the engine every `interval_s` and opens one incident per failed workflow:

- an Amazon order's workflow (`amazon-order:...`): category `workflow_failed`, subject the order —
  a retry reconciles the order again, and the next successful run resolves it;
- any other workflow: subject the workflow id, discard only (its flow's own retry is the remedy).

The key holds the workflow id, so a restarted watchdog never reopens what an operator settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from dbos import DBOS
from sqlalchemy.engine import Engine

from m3amazon.ops import incidents

log = logging.getLogger(__name__)

CATEGORY = "workflow_failed"
REASON = "WORKFLOW_FAILED"
FAILED_STATUSES = ["ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]
ORDER_PREFIX = "amazon-order:"


def incident_for(status: Any) -> incidents.Incident:
    """The incident that tells an operator about one failed workflow (a DBOS WorkflowStatus)."""
    workflow_id = str(status.workflow_id)
    error = status.error
    reason = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    payload = {
        "workflow_id": workflow_id,
        "workflow": status.name,
        "status": status.status,
        "error": reason,
        "input": _input_of(status),
    }
    if workflow_id.startswith(ORDER_PREFIX):
        order_id = workflow_id[len(ORDER_PREFIX) :].split(":", 1)[0]
        payload["event"] = payload["input"]
        return incidents.Incident(
            key=f"order:{order_id}:{CATEGORY}:{workflow_id}",
            category=CATEGORY,
            reason_code=REASON,
            message=f"The order's workflow {workflow_id} stopped on an unexpected error ({reason}); "
            "retry it once the cause is fixed",
            subject=order_id,
            payload=payload,
        )
    return incidents.Incident(
        key=f"workflow:{workflow_id}",
        category=CATEGORY,
        reason_code=REASON,
        message=f"Workflow {workflow_id} ({status.name}) stopped on an unexpected error ({reason})",
        subject=workflow_id,
        payload=payload,
        actions=("discard",),
    )


def _input_of(status: Any) -> Any:
    raw = status.input
    if isinstance(raw, dict):
        args = [_plain(a) for a in raw.get("args", ())]
        return args[0] if len(args) == 1 else args
    return _plain(raw)


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


class WorkflowWatchdog:
    """Looks for failed workflows every `interval_s` and opens an incident for each new one."""

    def __init__(self, engine: Engine, interval_s: float = 30.0) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._seen: set[str] = set()

    def scan(self) -> int:
        """One look; how many incidents it opened."""
        opened = 0
        for status in DBOS.list_workflows(status=FAILED_STATUSES):
            if status.workflow_id in self._seen:
                continue
            incident = incident_for(status)
            if not incidents.exists(self.engine, incident.key):
                incidents.open_incident(self.engine, incident)
                opened += 1
                log.error("workflow %s failed: %s", status.workflow_id, incident.message)
            self._seen.add(status.workflow_id)
        return opened

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.scan)
            except Exception:  # the watchdog must outlive a database hiccup
                log.exception("workflow watchdog scan failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
