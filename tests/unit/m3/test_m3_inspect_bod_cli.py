"""`m3amazon inspect bod FILE [--json]`: the canonical object, or the errors with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from m3a_bod_samples import XXE, order
from m3amazon.cli import app
from m3amazon.m3.ion import bod

runner = CliRunner()


def test_a_bod_is_printed_as_canonical_json_with_personal_data_masked(tmp_path: Path) -> None:
    path = tmp_path / "order.xml"
    path.write_bytes(bod.encode("Process", order(), sender_logical_id="lid://infor.m3.m3"))
    result = runner.invoke(app, ["inspect", "bod", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"] and out["envelope"]["document_name"] == "ProcessSalesOrder"
    (document,) = out["documents"]
    assert document["type"] == "Order" and document["order_id"] == order().order_id
    assert document["ship_to"]["line1"] == "***" and document["lines"][0]["unit_price"]["amount"] == "10.50"
    unmasked = json.loads(runner.invoke(app, ["inspect", "bod", str(path), "--json", "--unmasked"]).output)
    assert unmasked["documents"][0]["ship_to"]["line1"] == "1 Main Street"


def test_errors_exit_with_status_2(tmp_path: Path) -> None:
    path = tmp_path / "evil.xml"
    path.write_bytes(XXE)
    result = runner.invoke(app, ["inspect", "bod", str(path), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.output)["error"]["reason_code"] == "BOD_FORBIDDEN_XML"
    plain = runner.invoke(app, ["inspect", "bod", str(path)])
    assert plain.exit_code == 2
    assert runner.invoke(app, ["inspect", "bod", str(tmp_path / "missing.xml")]).exit_code == 2
