"""Settlements end to end on loopback: Amazon's simulator publishes settlement reports (US in USD,
DE in EUR with a decimal comma, Windows-1252), the flow finds them with getReports, posts GL
batches through GLS840MI, and M3's vouchers - read back over MI - balance and foot to the deposit.
A replay posts nothing; an unknown kind of money holds the settlement until the table maps it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from dbos import DBOS

from m3a_settlement_support import (
    DE,
    US,
    acam_sum,
    by_key,
    close_settlements,
    deposit_of,
    post_money,
    vouchers,
)
from m3amazon import bootstrap
from m3amazon.flows import settlement
from m3amazon.flows.settlement import SettlementSource, discover, run_settlement
from m3amazon.ops import incidents, settlements
from m3amazon.sim.sandbox import Sandbox

pytestmark = pytest.mark.slow


@pytest.fixture
def box(tmp_path: Path):
    sandbox = Sandbox.start(
        tmp_path / "sandbox", marketplaces=(US, DE), catalog_size=8, amazon_rate_limits=False
    )
    yield sandbox
    sandbox.stop()


async def _with_engine(box: Sandbox, tmp_path: Path, body, mapping_file: Path | None = None):
    settings = box.settings(f"sqlite:///{tmp_path / 'settle.sqlite'}", executor_id="settlement-test")
    settings.mapping_file = mapping_file
    rt = await bootstrap.start_engine(settings, process_queues=False)
    try:
        return await body(rt, settings)
    finally:
        await bootstrap.stop_engine()


async def _discover_all() -> list[settlement.SettlementOutcome]:
    started = await discover()
    return [await (await DBOS.retrieve_workflow_async(w)).get_result() for w in started]


def test_us_and_de_settlements_post_balanced_batches_that_foot_to_the_deposit(
    box: Sandbox, tmp_path: Path
) -> None:
    box.generate(12, seed=5)
    # the money of each marketplace falls in two months: each settlement becomes two batches
    days = [datetime(2026, 3, 30, 12, tzinfo=UTC), datetime(2026, 4, 2, 9, tzinfo=UTC)]
    assert post_money(box, US, days) and post_money(box, DE, days)
    reports = close_settlements(box, [US, DE])
    expected = {m: deposit_of(box, r) for m, r in reports.items()}

    async def body(rt, settings):
        first = await _discover_all()
        again = await _discover_all()  # the same reports: nothing new is started
        source = SettlementSource(name="replay", report_id=reports[US])
        replay = await run_settlement(source, attempt="replay")
        rows = await asyncio.to_thread(settlements.list_all, rt.engine)
        return first, again, replay, rows, await vouchers(settings)

    first, again, replay, rows, lines = asyncio.run(_with_engine(box, tmp_path, body))
    assert sorted(o.status for o in first) == ["posted", "posted"], first
    assert again == [] and replay.status == "already_posted"
    posted = by_key(lines)
    for marketplace, (settlement_id, deposit, currency) in expected.items():
        outcome = next(o for o in first if o.settlement_id == settlement_id)
        assert len(outcome.batches) == 2  # March and April
        batch_lines = [row for key in outcome.batches for row in posted[key]]
        assert {row["CUCD"] for row in batch_lines} == {currency}
        assert acam_sum(batch_lines, "1580") == deposit  # the clearing account receives the deposit
        assert acam_sum(batch_lines) == 0
        report = outcome.reconciliation
        assert report is not None and report["balanced"]
        assert Decimal(report["posted"]["clearing"]) == deposit
        assert report["differences"]["posted_clearing_vs_deposit"] == "0.00"
        refunds = report["refunds"]
        assert refunds["count"] == len(refunds["listed"]) > 0 and all(
            r["order_id"] for r in refunds["listed"]
        )
        assert Decimal(refunds["total"]) < 0
        if marketplace == DE:
            assert currency == "EUR"
    for voucher in lines.values():  # every voucher balances on its own
        assert acam_sum(voucher) == 0
    stats = box.m3_stats()
    assert stats["gl_batches_posted"] == 4 and stats["duplicate_gl_batches"] == []
    assert {row["status"] for row in rows} == {"posted"}


def test_unknown_money_holds_the_settlement_until_the_table_maps_it(box: Sandbox, tmp_path: Path) -> None:
    box.generate(6, seed=9)
    post_money(box, US, [datetime(2026, 5, 5, tzinfo=UTC)], refund_every=0)
    report_id = close_settlements(box, [US])[US]
    settlement_id, deposit, _ = deposit_of(box, report_id)
    table = yaml.safe_load(
        Path(settlement.__file__).parent.parent.joinpath("mapping/defaults.yaml").read_text()
    )
    rules = table["gl"]["rules"]
    table["gl"]["rules"] = [r for r in rules if r["match"] not in ("*/ItemFees/Commission", "*/ItemFees/*")]
    holding = tmp_path / "holding.yaml"
    holding.write_text(yaml.safe_dump(table))

    async def held(rt, settings):
        outcomes = await _discover_all()
        rows = await asyncio.to_thread(incidents.list_incidents, rt.engine, category="gl_unmapped")
        return outcomes, rows

    outcomes, rows = asyncio.run(_with_engine(box, tmp_path, held, holding))
    assert [o.status for o in outcomes] == ["unmapped"]
    assert len(rows) == 1 and rows[0]["subject"] == settlement_id
    assert "Order/ItemFees/Commission (" in rows[0]["message"] and "lines, -" in rows[0]["message"]
    assert box.m3_stats()["gl_batches_posted"] == 0

    async def fixed(rt, settings):  # the shipped table maps it: the next discovery replays it
        outcomes = await _discover_all()
        open_rows = await asyncio.to_thread(incidents.list_incidents, rt.engine, category="gl_unmapped")
        return outcomes, open_rows, await vouchers(settings)

    outcomes, open_rows, lines = asyncio.run(_with_engine(box, tmp_path, fixed))
    assert [o.status for o in outcomes] == ["posted"] and open_rows == []
    assert acam_sum([r for v in lines.values() for r in v], "1580") == deposit


def test_malformed_files_become_incidents_naming_the_line_and_nothing_is_posted(
    box: Sandbox, tmp_path: Path
) -> None:
    import gzip
    import json

    from m3amazon.sim.amazon.settlement import settlement_bytes

    box.generate(6, seed=2)
    post_money(box, DE, [datetime(2026, 5, 5, tzinfo=UTC)])
    close_settlements(box, [DE])
    with box.account.lock:
        good = settlement_bytes(
            next(g for g in box.account.finances.groups if g.closed)
        )  # cp1252, decimal comma
    rows = good.split(b"\n")
    bad_number = b"\n".join([*rows[:4], rows[4].replace(b",", b".", 1) + b"x", *rows[5:]])
    not_summing = b"\n".join([rows[0], rows[1].replace(rows[1].split(b"\t")[4], b"1,00"), *rows[2:]])
    truncated = gzip.compress(good)[: len(gzip.compress(good)) // 2]
    utf16 = good.decode("cp1252").encode("utf-16-le")
    no_column = good.replace(b"amount-type\t", b"kind\t", 1)
    files = {
        "bad-number.tsv": (bad_number, "SETTLEMENT_BAD_AMOUNT", 5),
        "not-summing.tsv": (not_summing, "SETTLEMENT_NOT_BALANCED", 2),
        "truncated.tsv.gz": (truncated, "SETTLEMENT_TRUNCATED", None),
        "utf16.tsv": (utf16, "SETTLEMENT_ENCODING", 1),
        "no-column.tsv": (no_column, "SETTLEMENT_COLUMNS", 1),
    }

    async def body(rt, settings):
        outcomes = {}
        for name, (content, _, _) in files.items():
            sha = await asyncio.to_thread(settlements.store_file, rt.engine, content, f"file:{name}")
            outcomes[name] = await run_settlement(SettlementSource(name=name, sha256=sha))
        rows = await asyncio.to_thread(incidents.list_incidents, rt.engine, category="settlement_invalid")
        return outcomes, rows

    outcomes, found = asyncio.run(_with_engine(box, tmp_path, body))
    assert {o.status for o in outcomes.values()} == {"invalid"}
    assert box.m3_stats()["gl_batches_posted"] == 0
    by_file = {row["subject"].removeprefix("file:"): row for row in found}
    assert set(by_file) == set(files)
    for name, (_, reason, line) in files.items():
        row = by_file[name]
        payload = json.loads(row["payload"])
        assert row["reason_code"] == reason, (name, row["message"])
        assert "nothing was posted" in row["message"] and payload["file_sha256"]
        if line:
            assert f"line {line}:" in row["message"] and payload["line"] == line
        else:
            assert payload["line"] and f"line {payload['line']}:" in row["message"]
    assert json.loads(by_file["bad-number.tsv"]["payload"])["line_text"].endswith("x")


def test_open_periods_are_previewed_from_the_finances_api_marked_provisional(box: Sandbox) -> None:
    from m3amazon.amazon.gateway import AmazonGateway
    from m3amazon.flows.settlement_preview import preview_open_groups
    from m3amazon.mapping import load_mappings

    box.generate(6, seed=4)
    post_money(box, US, [datetime(2026, 8, 3, tzinfo=UTC)])  # the group stays open
    with box.account.lock:
        group = next(g for g in box.account.finances.groups if not g.closed and g.marketplace_id == US)
        so_far = group.total.amount
    settings = box.settings("sqlite:///:memory:")

    async def run():
        async with AmazonGateway(settings.amazon) as gateway:
            return await preview_open_groups(gateway, load_mappings().gl, started_within_days=3650)

    previews = asyncio.run(run())
    assert len(previews) == 1 and previews[0]["provisional"] is True
    preview = previews[0]
    assert Decimal(preview["total_so_far"]) == so_far and preview["unmapped"] == []
    clearing = sum(Decimal(p["amount"]) for p in preview["postings"] if p["account"] == "1580")
    assert clearing == so_far
    assert box.m3_stats()["gl_batches_posted"] == 0


def test_a_settlement_in_a_foreign_currency_is_converted_and_still_balances(
    box: Sandbox, tmp_path: Path
) -> None:
    box.generate(8, seed=6)
    post_money(box, US, [datetime(2026, 9, 9, tzinfo=UTC)])
    report_id = close_settlements(box, [US])[US]
    _, deposit, _ = deposit_of(box, report_id)
    table = yaml.safe_load(
        Path(settlement.__file__).parent.parent.joinpath("mapping/defaults.yaml").read_text()
    )
    table["gl"] |= {"local_currency": "EUR", "rates": {"USD": "0.9137"}}
    converting = tmp_path / "eur.yaml"
    converting.write_text(yaml.safe_dump(table))

    async def body(rt, settings):
        return await _discover_all(), await vouchers(settings)

    outcomes, lines = asyncio.run(_with_engine(box, tmp_path, body, converting))
    assert [o.status for o in outcomes] == ["posted"]
    posted = [row for key in outcomes[0].batches for row in by_key(lines)[key]]
    assert acam_sum(posted) == 0  # balanced in the local currency, residue on the rounding account
    clearing = [row for row in posted if row["AIT1"] == "1580"]
    assert sum(Decimal(row["CUAM"]) for row in clearing) == deposit  # the deposit, in dollars
    assert acam_sum(clearing) == (deposit * Decimal("0.9137")).quantize(
        Decimal("0.01"), rounding="ROUND_HALF_UP"
    )
    assert outcomes[0].reconciliation["posted"]["currency"] == "EUR"
