"""Operator actions against a real SQLite database: state transitions, audit entries, timeline, errors.

The enqueue is the injected seam (a worker's `retry_order`, the CLI's DBOS client); here it records
what it was asked, and the run's effect is played by the same incident functions the flows call.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from m3amazon.mapping import load_mappings
from m3amazon.ops import audit, incidents, trail
from m3amazon.ops.actions import ActionError, OperatorActions
from m3amazon.ops.incidents import Incident, open_incident
from ops_samples import RecordingEnqueue, make_engine, order_incident, problem, unknown_sku


@pytest.fixture
def engine(tmp_path: Path):
    engine = make_engine(tmp_path)
    yield engine
    engine.dispose()


def _actions(engine, enqueue=None, **kwargs) -> OperatorActions:
    return OperatorActions(
        engine=engine, enqueue=enqueue or RecordingEnqueue(), mappings=lambda: load_mappings(None), **kwargs
    )


def _status(engine, incident_id: int) -> str:
    row = incidents.get_incident(engine, incident_id)
    assert row is not None
    return str(row["status"])


def test_retry_marks_retrying_enqueues_the_order_and_audits_before_and_after(engine) -> None:
    incident_id = order_incident(
        engine, "111-0000001-0000001", "m3_unavailable", [problem("M3_UNAVAILABLE", "M3 down")]
    )
    enqueue = RecordingEnqueue()
    result = asyncio.run(_actions(engine, enqueue).retry_incident(incident_id, "alice", reason="M3 is back"))

    assert enqueue.calls == [("111-0000001-0000001", "M3 is back")]
    assert result.retried[0].workflow_id == "amazon-order:111-0000001-0000001:retry:1"
    assert result.incident is not None and result.incident["status"] == "retrying"
    assert "retrying as amazon-order:111-0000001-0000001:retry:1" in result.incident["resolution"]

    (entry,) = audit.list_entries(engine, subject=f"incident:{incident_id}")
    assert (entry.actor, entry.action, entry.reason) == ("alice", "retry", "M3 is back")
    assert entry.before["status"] == "open"
    assert entry.after["status"] == "retrying" and entry.after["workflow_id"].endswith(":retry:1")
    assert result.audit_ids == [entry.id]

    kinds = [(e["kind"], e["workflow_id"]) for e in trail.timeline(engine, "111-0000001-0000001")]
    assert ("retry", "amazon-order:111-0000001-0000001:retry:1") in kinds


def test_the_run_settles_a_retrying_incident(engine) -> None:
    """Success resolves it; another incident for the order puts it back to open for the operator."""
    ok = order_incident(
        engine, "111-0000002-0000001", "m3_unavailable", [problem("M3_UNAVAILABLE", "M3 down")]
    )
    again = order_incident(
        engine, "111-0000002-0000002", "m3_unavailable", [problem("M3_UNAVAILABLE", "M3 down")]
    )
    actions = _actions(engine)
    asyncio.run(actions.retry_incident(ok, "alice"))
    asyncio.run(actions.retry_incident(again, "alice"))

    assert incidents.resolve_for_subject(engine, "111-0000002-0000001", "created by wf") == 1
    assert _status(engine, ok) == "resolved"

    order_incident(engine, "111-0000002-0000002", "m3_unavailable", [problem("M3_UNAVAILABLE", "M3 down")])
    row = incidents.get_incident(engine, again)
    assert row is not None and (row["status"], row["occurrences"], row["resolution"]) == ("open", 2, None)

    # A retry that fails in another category also hands the first incident back.
    asyncio.run(actions.retry_incident(again, "alice"))
    order_incident(
        engine, "111-0000002-0000002", "address_invalid", [problem("ADDRESS_DOES_NOT_FIT", "too long")]
    )
    assert _status(engine, again) == "open"


def test_a_fast_run_is_not_overtaken_by_the_mark(engine) -> None:
    """The worker may resolve the incident before the action writes its audit entry."""
    incident_id = order_incident(
        engine, "111-0000003-0000001", "m3_unavailable", [problem("M3_UNAVAILABLE", "x")]
    )

    async def fast_worker(order_id: str, reason: str) -> str:
        await asyncio.to_thread(incidents.resolve_for_subject, engine, order_id, "created by fast")
        return "amazon-order:fast"

    result = asyncio.run(_actions(engine, fast_worker).retry_incident(incident_id, "bob"))
    assert _status(engine, incident_id) == "resolved"
    assert result.incident is not None and result.incident["resolution"] == "created by fast"
    (entry,) = audit.list_entries(engine, subject=f"incident:{incident_id}")
    assert entry.after["status"] == "resolved" and entry.after["workflow_id"] == "amazon-order:fast"


def test_a_failed_enqueue_leaves_the_incident_as_it_was(engine) -> None:
    incident_id = order_incident(
        engine, "111-0000004-0000001", "m3_unavailable", [problem("M3_UNAVAILABLE", "x")]
    )
    broken = RecordingEnqueue(fail=RuntimeError("database is locked"))
    with pytest.raises(ActionError) as caught:
        asyncio.run(_actions(engine, broken).retry_incident(incident_id, "alice"))
    assert caught.value.kind == "unavailable" and "database is locked" in caught.value.message
    row = incidents.get_incident(engine, incident_id)
    assert row is not None and (row["status"], row["resolution"]) == ("open", None)
    assert audit.list_entries(engine) == []


def test_what_cannot_be_retried_says_why(engine) -> None:
    actions = _actions(engine)
    bod = open_incident(
        engine,
        Incident(key="bod:BOD_MALFORMED:1", category="bod", reason_code="BOD_MALFORMED", message="not XML"),
    )
    shipment = order_incident(
        engine,
        "111-0000005-0000001",
        "shipment_unmatched",
        [problem("SHIPMENT_UNMATCHED", "M3 shipped an item Amazon does not have on the order")],
        from_order_flow=False,
    )
    for incident_id, words in (
        (bod, "not about an order"),
        (shipment, "M3 shipment or invoice"),
        (999, "no incident"),
    ):
        with pytest.raises(ActionError) as caught:
            asyncio.run(actions.retry_incident(incident_id, "alice"))
        assert words in caught.value.message
    assert _status(engine, bod) == "open" and _status(engine, shipment) == "open"

    done = order_incident(engine, "111-0000005-0000002", "m3_unavailable", [problem("M3_UNAVAILABLE", "x")])
    asyncio.run(actions.discard_incident(done, "alice", "order cancelled by phone"))
    with pytest.raises(ActionError) as caught:
        asyncio.run(actions.retry_incident(done, "alice"))
    assert caught.value.kind == "conflict" and "discarded" in caught.value.message


def test_discard_needs_a_reason_and_lands_in_the_audit_log(engine) -> None:
    incident_id = order_incident(
        engine, "111-0000006-0000001", "address_invalid", [problem("ADDRESS_DOES_NOT_FIT", "x")]
    )
    actions = _actions(engine)
    for reason in ("", "   "):
        with pytest.raises(ActionError) as caught:
            asyncio.run(actions.discard_incident(incident_id, "carol", reason))
        assert caught.value.kind == "invalid"
    assert _status(engine, incident_id) == "open" and audit.list_entries(engine) == []

    result = asyncio.run(actions.discard_incident(incident_id, "carol", "  shipped by hand from the shop  "))
    assert result.incident is not None and result.incident["status"] == "discarded"
    assert result.incident["resolution"] == "discarded by carol: shipped by hand from the shop"
    (entry,) = audit.list_entries(engine, action="discard")
    assert (entry.actor, entry.reason, entry.subject) == (
        "carol",
        "shipped by hand from the shop",
        f"incident:{incident_id}",
    )
    assert (entry.before["status"], entry.after["status"]) == ("open", "discarded")
    timeline = trail.timeline(engine, "111-0000006-0000001")
    assert [e["kind"] for e in timeline] == ["discarded"] and "carol" in timeline[0]["summary"]

    with pytest.raises(ActionError) as caught:  # twice: nothing left to discard
        asyncio.run(actions.discard_incident(incident_id, "carol", "again"))
    assert caught.value.kind == "conflict"
    # a discarded incident stays discarded when the order later succeeds
    incidents.resolve_for_subject(engine, "111-0000006-0000001", "created")
    assert _status(engine, incident_id) == "discarded"


def test_retry_category_retries_the_open_ones_and_lists_what_it_skipped(engine) -> None:
    ids = [
        order_incident(
            engine, f"111-0000007-000000{i}", "amazon_unavailable", [problem("AMAZON_API_ERROR", "503")]
        )
        for i in range(3)
    ]
    from_shipment = order_incident(
        engine,
        "111-0000007-0000009",
        "amazon_unavailable",
        [problem("SHIPMENT_NOT_CONFIRMED", "confirmShipment failed")],
        from_order_flow=False,
    )
    other = order_incident(engine, "111-0000007-0000010", "m3_unavailable", [problem("M3_UNAVAILABLE", "x")])
    asyncio.run(_actions(engine).discard_incident(ids[2], "dave", "duplicate test order"))
    enqueue = RecordingEnqueue()

    result = asyncio.run(_actions(engine, enqueue).retry_category("amazon_unavailable", "dave"))

    assert sorted(r.incident_id for r in result.retried) == ids[:2]
    assert [s.incident_id for s in result.skipped] == [from_shipment]
    assert sorted(order for order, _ in enqueue.calls) == ["111-0000007-0000000", "111-0000007-0000001"]
    assert _status(engine, other) == "open" and _status(engine, from_shipment) == "open"
    entries = audit.list_entries(engine, action="retry_category")
    assert len(entries) == 2 and all(e.reason == "bulk retry of category amazon_unavailable" for e in entries)


def test_accept_local_without_a_mapping_file_says_so_plainly(engine) -> None:
    incident_id = order_incident(
        engine, "111-0000008-0000001", "sku_unknown", [unknown_sku("SKU-X", [("ITEM-1", "A", 90.0)])]
    )
    with pytest.raises(ActionError) as caught:
        asyncio.run(_actions(engine).accept_suggestion(incident_id, "erin", "ITEM-1", "local"))
    assert caught.value.kind == "invalid"
    assert "no local mapping file" in caught.value.message and "mapping_file" in caught.value.message
    assert _status(engine, incident_id) == "open" and audit.list_entries(engine) == []


def test_accept_checks_the_incident_before_touching_anything(engine) -> None:
    actions = _actions(engine)
    address = order_incident(
        engine, "111-0000009-0000001", "address_invalid", [problem("ADDRESS_DOES_NOT_FIT", "x")]
    )
    two = order_incident(
        engine,
        "111-0000009-0000002",
        "sku_unknown",
        [unknown_sku("SKU-A", [("ITEM-A", "A", 90.0)]), unknown_sku("SKU-B", [("ITEM-B", "B", 80.0)])],
    )
    cases = [
        (address, "ITEM-1", {}, "conflict", "not an unknown SKU"),
        (two, "ITEM-Z", {}, "invalid", "several unknown SKUs"),
        (two, "ITEM-A", {"sku": "SKU-C"}, "invalid", "SKU SKU-C is not unknown"),
        (two, "", {}, "invalid", "1 to 15 characters"),
        (two, "X" * 16, {}, "invalid", "1 to 15 characters"),
    ]
    for incident_id, item, kwargs, kind, words in cases:
        with pytest.raises(ActionError) as caught:
            asyncio.run(actions.accept_suggestion(incident_id, "erin", item, "alias", **kwargs))
        assert (caught.value.kind, words in caught.value.message) == (kind, True), caught.value.message
    with pytest.raises(ActionError) as caught:  # the SKU is clear from the suggestion; no M3 connection here
        asyncio.run(actions.accept_suggestion(two, "erin", "ITEM-B", "alias"))
    assert caught.value.kind == "unavailable" and "no M3 connection" in caught.value.message
    assert audit.list_entries(engine) == []


def test_an_action_needs_an_actor(engine) -> None:
    incident_id = order_incident(
        engine, "111-0000010-0000001", "m3_unavailable", [problem("M3_UNAVAILABLE", "x")]
    )
    with pytest.raises(ActionError) as caught:
        asyncio.run(_actions(engine).retry_incident(incident_id, "  "))
    assert caught.value.kind == "invalid"
