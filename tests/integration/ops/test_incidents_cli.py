"""`m3amazon incidents ...` and `m3amazon order show` with Typer's runner, on a real SQLite database.

A CLI retry executed by a running worker is proven end to end in tests/e2e/test_incidents_e2e.py.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from m3amazon.cli import app
from m3amazon.ops import audit, incidents, trail
from ops_samples import make_engine, order_incident, problem, unknown_sku

runner = CliRunner()
ORDER = "114-0000001-0000001"


@pytest.fixture
def setup(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'cli.sqlite'}"}))
    engine = make_engine(tmp_path, "cli.sqlite")
    yield config, engine
    engine.dispose()


def cli(config: Path, *args: str):
    return runner.invoke(app, [*args, "--config", str(config)])


def test_list_and_show(setup) -> None:
    config, engine = setup
    sku = order_incident(
        engine, ORDER, "sku_unknown", [unknown_sku("SKU-RED", [("ITEM-RED", "Red mug", 93.5)])]
    )
    m3 = order_incident(
        engine, "114-0000001-0000002", "m3_unavailable", [problem("M3_UNAVAILABLE", "M3 down")]
    )

    listed = cli(config, "incidents", "list")
    assert listed.exit_code == 0, listed.output
    assert "sku_unknown" in listed.output and "m3_unavailable" in listed.output and ORDER in listed.output
    as_json = json.loads(cli(config, "incidents", "list", "--json", "--category", "sku_unknown").output)
    assert [i["id"] for i in as_json] == [sku] and "payload" not in as_json[0]
    assert "no resolved incidents" in cli(config, "incidents", "list", "--status", "resolved").output
    assert cli(config, "incidents", "list", "--status", "bogus").exit_code == 2

    shown = cli(config, "incidents", "show", str(sku))
    assert shown.exit_code == 0, shown.output
    assert "ITEM-RED" in shown.output and "93.5" in shown.output
    assert f"m3amazon incidents accept {sku} --item ITEM-RED" in shown.output
    detail = json.loads(cli(config, "incidents", "show", str(sku), "--json").output)
    assert detail["payload"]["order"]["ship_to"]["name"] == "***"
    assert detail["payload"]["problems"][0]["suggestions"][0]["item_number"] == "ITEM-RED"
    assert cli(config, "incidents", "show", str(m3)).exit_code == 0
    missing = cli(config, "incidents", "show", "999")
    assert missing.exit_code == 1 and "no incident 999" in missing.output


def test_discard_needs_a_reason_and_is_audited_with_the_os_user(setup) -> None:
    config, engine = setup
    incident_id = order_incident(
        engine, ORDER, "address_invalid", [problem("ADDRESS_DOES_NOT_FIT", "too long")]
    )

    assert cli(config, "incidents", "discard", str(incident_id)).exit_code == 2  # --reason is required
    empty = cli(config, "incidents", "discard", str(incident_id), "--reason", " ")
    assert empty.exit_code == 1 and "needs a reason" in empty.output
    done = cli(config, "incidents", "discard", str(incident_id), "--reason", "re-entered by hand as 0042")
    assert done.exit_code == 0, done.output
    assert "discarded" in done.output

    (entry,) = audit.list_entries(engine)
    assert (entry.action, entry.actor, entry.reason) == (
        "discard",
        getpass.getuser(),
        "re-entered by hand as 0042",
    )
    other = order_incident(
        engine, "114-0000001-0000003", "address_invalid", [problem("ADDRESS_DOES_NOT_FIT", "x")]
    )
    as_json = cli(
        config, "incidents", "discard", str(other), "--reason", "dup", "--actor", "ops-bot", "--json"
    )
    assert json.loads(as_json.output)["incident"]["status"] == "discarded"
    assert audit.list_entries(engine, limit=1)[0].actor == "ops-bot"


def test_a_retry_that_cannot_be_queued_fails_plainly_and_changes_nothing(setup) -> None:
    """No worker ever ran on this database: DBOS's tables are missing, so nothing can be queued."""
    config, engine = setup
    incident_id = order_incident(engine, ORDER, "m3_unavailable", [problem("M3_UNAVAILABLE", "M3 down")])
    result = cli(config, "incidents", "retry", str(incident_id))
    assert result.exit_code == 1 and "could not be queued" in result.output
    row = incidents.get_incident(engine, incident_id)
    assert row is not None and row["status"] == "open"
    assert audit.list_entries(engine) == []


def test_accept_local_without_a_mapping_file_says_so(setup) -> None:
    config, engine = setup
    incident_id = order_incident(
        engine, ORDER, "sku_unknown", [unknown_sku("SKU-RED", [("ITEM-RED", "Red", 93.5)])]
    )
    result = cli(config, "incidents", "accept", str(incident_id), "--item", "ITEM-RED", "--local")
    assert result.exit_code == 1
    assert "no local mapping file" in " ".join(result.output.split())


def test_order_show(setup) -> None:
    config, engine = setup
    trail.record(
        engine,
        trail.TrailEntry(
            ORDER,
            "created",
            channel="MERCHANT",
            m3_order_number="1000042",
            currency="USD",
            goods_total="21.00",
            order_total="25.99",
            workflow_id="amazon-order:x",
        ),
    )
    trail.add_event(engine, ORDER, "received", "notification: Unshipped", key="received:n1")
    trail.add_event(engine, ORDER, "created", "created M3 1000042", key="outcome:wf:created")
    order_incident(engine, ORDER, "m3_unavailable", [problem("M3_UNAVAILABLE", "M3 down")])

    shown = cli(config, "order", "show", ORDER)
    assert shown.exit_code == 0, shown.output
    for text in ("created", "1000042", "25.99 USD", "notification: Unshipped", "timeline", "m3_unavailable"):
        assert text in shown.output
    data = json.loads(cli(config, "order", "show", ORDER, "--json").output)
    assert data["m3_order_number"] == "1000042" and data["order_total"] == "25.99"
    assert [e["kind"] for e in data["timeline"]] == ["received", "created"]
    assert data["incidents"][0]["category"] == "m3_unavailable"
    missing = cli(config, "order", "show", "114-9999999-9999999")
    assert missing.exit_code == 1 and "nothing is known" in missing.output
