"""`settlement import --dry-run --json` (what finance sees before anything is posted) and the
GLS840MI lines of a journal, with currency conversion and its rounding residue."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml
from typer.testing import CliRunner

from m3amazon.canonical import Money
from m3amazon.canonical.journal import JournalLine, JournalPosting
from m3amazon.cli import app
from m3amazon.m3.ledger import Conversion, batch_lines
from m3amazon.sim.amazon.settlement import COLUMNS


def _file(path: Path, rows: list[tuple[str, str, str, str]], total: str) -> Path:
    head = dict.fromkeys(COLUMNS, "") | {"settlement-id": "5550001", "total-amount": total, "currency": "USD"}
    lines = ["\t".join(COLUMNS), "\t".join(head[c] for c in COLUMNS)]
    for tt, at, ad, amount in rows:
        row = dict.fromkeys(COLUMNS, "") | {
            "settlement-id": "5550001",
            "transaction-type": tt,
            "amount-type": at,
            "amount-description": ad,
            "amount": amount,
            "posted-date-time": "2026-02-10 10:00:00 UTC",
            "marketplace-name": "Amazon.com",
        }
        lines.append("\t".join(row[c] for c in COLUMNS))
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'db.sqlite'}"}))
    return config


def test_dry_run_json_shows_figures_postings_and_unmapped_triples(tmp_path: Path) -> None:
    rows = [("Order", "ItemPrice", "Principal", "100.00"), ("Order", "ItemFees", "Commission", "-15.00")]
    file = _file(tmp_path / "s.tsv", rows, "85.00")
    result = CliRunner().invoke(
        app, ["settlement", "import", str(file), "--dry-run", "--json", "--config", str(_config(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["settlement_id"], out["currency"], out["total_amount"]) == ("5550001", "USD", "85.00")
    assert (out["lines"], out["sum_of_lines"], out["balanced"], out["unmapped"]) == (2, "85.00", True, [])
    postings = {(p["account"], p["amount"]) for p in out["postings"]}
    assert postings == {("3010", "-100.00"), ("6570", "15.00"), ("1580", "85.00")}
    assert all("dimensions" in p for p in out["postings"]) and out["dry_run"] is True
    assert not (tmp_path / "db.sqlite").exists()  # a dry run stores nothing

    unknown = _file(tmp_path / "u.tsv", [*rows, ("Mystery", "Thing", "Stuff", "1.00")], "86.00")
    result = CliRunner().invoke(
        app, ["settlement", "import", str(unknown), "--dry-run", "--json", "--config", str(_config(tmp_path))]
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["unmapped"] == [
        {
            "transaction_type": "Mystery",
            "amount_type": "Thing",
            "amount_description": "Stuff",
            "count": 1,
            "total": "1.00",
        }
    ]


def test_dry_run_of_a_bad_file_names_the_line(tmp_path: Path) -> None:
    file = _file(tmp_path / "s.tsv", [("Order", "ItemPrice", "Principal", "1O0.00")], "100.00")
    result = CliRunner().invoke(
        app, ["settlement", "import", str(file), "--dry-run", "--json", "--config", str(_config(tmp_path))]
    )
    assert result.exit_code == 1
    error = json.loads(result.output)
    assert (error["reason_code"], error["line"]) == ("SETTLEMENT_BAD_AMOUNT", 3) and "1O0.00" in error[
        "error"
    ]


def _journal() -> JournalPosting:
    usd = "USD"
    return JournalPosting(
        key="A555000101",
        accounting_date=date(2026, 2, 28),
        currency=usd,
        description="Amazon settlement 5550001 2026-02",
        lines=(
            JournalLine(
                dimensions=("3010",), amount=Money(Decimal("-0.05"), usd), text="Order/ItemPrice/Principal"
            ),
            JournalLine(
                dimensions=("3010",), amount=Money(Decimal("-0.05"), usd), text="Order/ItemPrice/GiftWrap"
            ),
            JournalLine(dimensions=("1580", "", "US"), amount=Money(Decimal("0.10"), usd), text="deposit"),
        ),
    )


def test_batch_lines_carry_the_key_dimensions_and_balance() -> None:
    lines = batch_lines(_journal(), "A555000101", division="AAA")
    assert [line["LINE"] for line in lines] == ["1", "2", "3"]
    assert all(line["VTXT"].startswith("A555000101 ") and len(line["VTXT"]) <= 40 for line in lines)
    assert lines[2]["AIT1"] == "1580" and lines[2]["AIT3"] == "US" and "AIT2" not in lines[2]
    assert {line["ACDT"] for line in lines} == {"20260228"} and {line["DIVI"] for line in lines} == {"AAA"}
    assert sum(Decimal(line["ACAM"]) for line in lines) == 0
    assert all(line["ACAM"] == line["CUAM"] and line["CUCD"] == "USD" for line in lines)


def test_converted_lines_put_the_rounding_residue_on_the_rounding_account() -> None:
    lines = batch_lines(_journal(), "A555000101", conversion=Conversion("EUR", Decimal("0.9"), ("7990",)))
    # -0.045 -> -0.05 twice (half-up), 0.09 -> residue 0.01 on the rounding account
    assert [(line.get("AIT1"), line["ACAM"], line["CUAM"]) for line in lines] == [
        ("3010", "-0.05", "-0.05"),
        ("3010", "-0.05", "-0.05"),
        ("1580", "0.09", "0.10"),
        ("7990", "0.01", "0"),
    ]
    assert sum(Decimal(line["ACAM"]) for line in lines) == 0 and lines[0]["ARAT"] == "0.9"
