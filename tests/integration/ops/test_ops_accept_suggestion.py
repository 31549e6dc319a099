"""Accepting a SKU suggestion against the M3 simulator: the alias (or the local map) is written once,
the item is checked first, and every order waiting on that SKU is retried."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from m3amazon.config import M3Settings
from m3amazon.m3.client import MIClient, RetryPolicy
from m3amazon.m3.orders import item_for_alias
from m3amazon.mapping import load_mappings
from m3amazon.ops import audit, incidents, trail
from m3amazon.ops.actions import ActionError, OperatorActions
from m3amazon.sim.catalog import MARKETPLACES, build_catalog
from m3amazon.sim.m3.app import create_app
from m3amazon.sim.m3.store import SimStore
from m3amazon.sim.server import RunningServer, serve_in_thread
from ops_samples import RecordingEnqueue, make_engine, order_incident, unknown_sku

NO_WAIT = RetryPolicy(attempts=2, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0)
CATALOG = build_catalog(size=12)
#: The SKU M3 does not know, and the item an operator maps it to.
SKU, ITEM = CATALOG[0].sku, CATALOG[1].item_number


@pytest.fixture
def m3(tmp_path: Path) -> Iterator[RunningServer]:
    store = SimStore(tmp_path / "m3sim.sqlite")
    store.seed_from_catalog(CATALOG, MARKETPLACES, skip_skus=(SKU,))
    server = serve_in_thread(create_app(store), name="m3-sim")
    try:
        yield server
    finally:
        server.stop()
        store.close()


def _actions(
    tmp_path: Path, server: RunningServer, **kwargs: Any
) -> tuple[OperatorActions, RecordingEnqueue]:
    settings = M3Settings(base_url=server.url)

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[MIClient]:
        async with MIClient(settings, retry=NO_WAIT) as client:
            yield client

    enqueue = RecordingEnqueue()
    engine = make_engine(tmp_path)
    kwargs.setdefault("mappings", lambda: load_mappings(kwargs.get("mapping_file")))
    return OperatorActions(engine=engine, enqueue=enqueue, m3=connect, **kwargs), enqueue


def _waiting(engine: Any) -> tuple[int, int, int]:
    """Two orders wait on SKU, a third on another SKU."""
    suggestion = [(ITEM, CATALOG[1].item_name, 88.0)]
    first = order_incident(engine, "115-0000001-0000001", "sku_unknown", [unknown_sku(SKU, suggestion)])
    second = order_incident(
        engine, "115-0000001-0000002", "sku_unknown", [unknown_sku("OTHER-SKU"), unknown_sku(SKU, suggestion)]
    )
    other = order_incident(engine, "115-0000001-0000003", "sku_unknown", [unknown_sku("OTHER-SKU")])
    return first, second, other


async def _alias(server: RunningServer, sku: str) -> str | None:
    async with MIClient(M3Settings(base_url=server.url), retry=NO_WAIT) as client:
        return await item_for_alias(client, sku, "03", "AMZN")


def test_accepting_writes_the_alias_once_and_retries_every_order_waiting_on_the_sku(
    tmp_path: Path, m3: RunningServer
) -> None:
    actions, enqueue = _actions(tmp_path, m3)
    engine = actions.engine
    first, second, other = _waiting(engine)
    assert asyncio.run(_alias(m3, SKU)) is None

    result = asyncio.run(actions.accept_suggestion(first, "alice", ITEM))

    assert asyncio.run(_alias(m3, SKU)) == ITEM
    assert sorted(order for order, _ in enqueue.calls) == ["115-0000001-0000001", "115-0000001-0000002"]
    assert sorted(r.incident_id for r in result.retried) == [first, second]
    assert result.incident is not None and result.incident["status"] == "retrying"
    assert incidents.get_incident(engine, other)["status"] == "open"  # type: ignore[index]

    accepted = audit.list_entries(engine, action="accept_suggestion")[0]
    assert accepted.actor == "alice" and accepted.subject == f"incident:{first}"
    assert accepted.before["status"] == "open" and accepted.after["status"] == "retrying"
    assert accepted.after["mapping"] == {
        "target": "alias",
        "alias_category": "03",
        "alias_qualifier": "AMZN",
        "sku": SKU,
        "item_number": ITEM,
        "written": True,
    }
    assert len(audit.list_entries(engine, action="retry")) == 2
    kinds = [e["kind"] for e in trail.timeline(engine, "115-0000001-0000001")]
    assert "mapping" in kinds and "retry" in kinds

    # The second order failed again, now only on its other SKU: its incident says so (the facts of
    # the latest run), and accepting there the SKU that is no longer unknown is refused, not guessed.
    order_incident(engine, "115-0000001-0000002", "sku_unknown", [unknown_sku("OTHER-SKU")])
    assert incidents.get_incident(engine, second)["status"] == "open"  # type: ignore[index]
    with pytest.raises(ActionError, match="not unknown"):
        asyncio.run(actions.accept_suggestion(second, "bob", ITEM, sku=SKU))
    # Accepting the same SKU again where it is still named writes no second alias, and the order
    # still waiting on it is retried again (a run that read M3 just before the alias was written
    # must not leave its order behind).
    again = asyncio.run(actions.accept_suggestion(first, "bob", ITEM, sku=SKU))
    assert [r.incident_id for r in again.retried] == [first]
    entry = audit.list_entries(engine, action="accept_suggestion")[0]
    assert entry.actor == "bob" and entry.after["mapping"]["written"] is False
    assert asyncio.run(_alias(m3, SKU)) == ITEM


def test_an_item_m3_does_not_have_is_refused_before_anything_is_written(
    tmp_path: Path, m3: RunningServer
) -> None:
    actions, enqueue = _actions(tmp_path, m3)
    first, _, _ = _waiting(actions.engine)
    with pytest.raises(ActionError) as caught:
        asyncio.run(actions.accept_suggestion(first, "alice", "NO-SUCH-ITEM"))
    assert caught.value.kind == "invalid" and "M3 has no item NO-SUCH-ITEM" in caught.value.message
    assert asyncio.run(_alias(m3, SKU)) is None
    assert enqueue.calls == [] and audit.list_entries(actions.engine) == []


def test_a_sku_someone_aliased_to_another_item_meanwhile_is_a_conflict(
    tmp_path: Path, m3: RunningServer
) -> None:
    actions, _ = _actions(tmp_path, m3)
    first, _, _ = _waiting(actions.engine)
    other_item = CATALOG[2].item_number
    asyncio.run(actions.accept_suggestion(first, "alice", other_item))  # someone maps it one way...
    with pytest.raises(ActionError) as caught:  # ...and someone else another: M3 keeps the first
        asyncio.run(actions.accept_suggestion(first, "bob", ITEM))
    assert (
        caught.value.kind == "conflict" and f"already an alias of item {other_item}" in caught.value.message
    )
    assert asyncio.run(_alias(m3, SKU)) == other_item
    assert [e.actor for e in audit.list_entries(actions.engine, action="accept_suggestion")] == ["alice"]


def test_accepting_into_the_local_map_writes_the_file_and_reloads_the_worker(
    tmp_path: Path, m3: RunningServer
) -> None:
    mapping_file = tmp_path / "mappings.yaml"
    mapping_file.write_text(
        resources.files("m3amazon.mapping").joinpath("defaults.yaml").read_text(encoding="utf-8")
    )
    reloaded: list[Path] = []
    actions, enqueue = _actions(tmp_path, m3, mapping_file=mapping_file, on_mapping_written=reloaded.append)
    first, second, _ = _waiting(actions.engine)

    result = asyncio.run(actions.accept_suggestion(first, "carol", ITEM, "local"))

    assert load_mappings(mapping_file).items.sku_to_item == {SKU: ITEM}
    assert reloaded == [mapping_file]
    assert asyncio.run(_alias(m3, SKU)) is None  # M3 untouched
    assert sorted(r.incident_id for r in result.retried) == [first, second]
    assert any("reloaded by this worker" in note for note in result.notes)
    mapping = audit.list_entries(actions.engine, action="accept_suggestion")[0].after["mapping"]
    assert mapping == {"target": "local", "file": str(mapping_file), "sku": SKU, "item_number": ITEM}

    # From the CLI (no worker in the process) the note says what a running worker needs.
    cli_actions, _ = _actions(tmp_path / "cli", m3, mapping_file=mapping_file)
    incident = order_incident(cli_actions.engine, "115-0000001-0000009", "sku_unknown", [unknown_sku(SKU)])
    notes = asyncio.run(cli_actions.accept_suggestion(incident, "dave", ITEM, "local")).notes
    assert any("restart workers" in note for note in notes)
    assert len(enqueue.calls) == 2
