"""The CLI's enqueue writes what a worker's `retry_order` would: the registered workflow, its queue."""

from __future__ import annotations

import re
from pathlib import Path

from dbos._registrations import get_dbos_func_name

from m3amazon.bootstrap import ORDER_QUEUE, dbos_config
from m3amazon.config import Settings
from m3amazon.flows.order_to_cash import amazon_order_changed
from m3amazon.ops.enqueue_client import APPLICATION, ORDER_WORKFLOW, retry_event, retry_workflow_id


def test_the_workflow_name_and_application_are_the_workers(tmp_path: Path) -> None:
    assert get_dbos_func_name(amazon_order_changed) == ORDER_WORKFLOW
    config = dbos_config(Settings(database_url=f"sqlite:///{tmp_path / 'engine.sqlite'}"))
    assert config["name"] == APPLICATION
    assert ORDER_QUEUE == "amazon-orders"


def test_a_retry_is_a_new_operator_change_of_the_order() -> None:
    event = retry_event("113-1234567-1234567")
    assert (event.order_id, event.change_type, event.origin) == (
        "113-1234567-1234567",
        "OperatorRetry",
        "retry",
    )
    assert re.fullmatch(
        r"amazon-order:113-1234567-1234567:retry:\d{13}", retry_workflow_id("113-1234567-1234567")
    )
