"""The audit log: entries live and die with the transaction of their change, and can be filtered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from m3amazon.mapping import load_mappings
from m3amazon.ops import audit, db
from m3amazon.ops.actions import OperatorActions
from ops_samples import RecordingEnqueue, make_engine, order_incident, problem


def test_an_entry_is_part_of_the_callers_transaction(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    with engine.begin() as conn:
        audit.record(conn, actor="alice", action="retry", subject="incident:1", before={}, after={})
    with pytest.raises(RuntimeError), engine.begin() as conn:
        audit.record(conn, actor="bob", action="discard", subject="incident:2", before={}, after={})
        raise RuntimeError("the change failed")
    assert [e.actor for e in audit.list_entries(engine)] == ["alice"]


def test_entries_keep_json_snapshots_and_filter_by_subject_actor_action(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with engine.begin() as conn:
        audit.record(
            conn,
            actor="  alice  ",
            action="discard",
            subject="incident:7",
            before={"status": "open", "updated_at": when},
            after={"status": "discarded", "tags": ("a", "b")},
            reason="test order",
        )
        audit.record(conn, actor="bob", action="retry", subject="incident:8", before=None, after={"n": 1})
        with pytest.raises(ValueError, match="actor"):
            audit.record(conn, actor=" ", action="retry", subject="incident:9", before=None, after=None)

    newest_first = audit.list_entries(engine)
    assert [e.subject for e in newest_first] == ["incident:8", "incident:7"]
    (entry,) = audit.list_entries(engine, subject="incident:7")
    assert entry.actor == "alice" and entry.reason == "test order"
    assert entry.before == {"status": "open", "updated_at": "2026-03-01T12:00:00+00:00"}
    assert entry.after == {"status": "discarded", "tags": ["a", "b"]}
    assert [e.actor for e in audit.list_entries(engine, actor="bob")] == ["bob"]
    assert [e.action for e in audit.list_entries(engine, action="discard")] == ["discard"]
    assert len(audit.list_entries(engine, limit=1)) == 1


@pytest.mark.postgres
def test_actions_and_audit_on_postgresql(pg_url: str) -> None:
    engine = db.create_engine(pg_url)
    db.create_tables(engine)
    try:
        incident_id = order_incident(
            engine, "111-0000020-0000001", "m3_unavailable", [problem("M3_UNAVAILABLE", "x")]
        )
        actions = OperatorActions(
            engine=engine, enqueue=RecordingEnqueue(), mappings=lambda: load_mappings(None)
        )
        asyncio.run(actions.retry_incident(incident_id, "alice"))
        asyncio.run(actions.discard_incident(incident_id, "alice", "handled in M3 by hand"))
        entries = audit.list_entries(engine, subject=f"incident:{incident_id}")
        assert [(e.action, e.before["status"], e.after["status"]) for e in entries] == [
            ("discard", "retrying", "discarded"),
            ("retry", "open", "retrying"),
        ]
    finally:
        engine.dispose()
