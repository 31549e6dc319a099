"""The simulator's business rules after order entry: allocation, delivery, invoicing, stock, GL, master data.

Every call goes through MIClient over HTTP, so the client's requests and the simulator's answers
are the real MI shapes.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest
from m3_sim_support import Sim, order_plan

from m3amazon.m3.client import MIClient, parse_response
from m3amazon.m3.errors import MIError
from m3amazon.m3.orders import ensure_customer_order

PICK = {"E0PA": "WMS", "E065": "PICK"}


def _run(sim: Sim, scenario) -> Any:
    async def main() -> Any:
        async with sim.onprem() as client:
            return await scenario(client)

    return asyncio.run(main())


async def _order(client: MIClient, sim: Sim, cuor: str, **kwargs: Any) -> str:
    return (await ensure_customer_order(client, order_plan(sim, cuor, **kwargs))).order_number


async def _lines(client: MIClient, orno: str) -> list[dict[str, str]]:
    return await client.execute("OIS100MI", "LstLine", {"ORNO": orno})


async def _head(client: MIClient, orno: str) -> dict[str, str]:
    return (await client.execute("OIS100MI", "GetHead", {"ORNO": orno}))[0]


def test_allocation_follows_the_warehouse_balance(sim: Sim) -> None:
    items = [item.item_number for item in sim.catalog[:3]]
    sim.store.set_balance("100", items[1], 1)  # line 2 wants 2: partly allocated
    sim.store.set_balance("100", items[2], 0)  # line 3 wants 3: nothing to allocate

    async def scenario(client: MIClient) -> tuple:
        orno = await _order(client, sim, "111-2000001-0000001")
        balance = (await client.execute("MMS200MI", "GetItmWhsBal", {"WHLO": "100", "ITNO": items[0]}))[0]
        return await _lines(client, orno), await _head(client, orno), balance

    lines, head, balance = _run(sim, scenario)
    assert [(line["ORST"], line["ALQT"]) for line in lines] == [("44", "1"), ("23", "1"), ("22", "0")]
    assert (head["ORSL"], head["ORST"]) == ("22", "44")
    assert (balance["STQT"], balance["ALQT"], balance["AV01"]) == ("1000", "1", "999")


def test_picking_delivers_invoices_and_reads_back_through_ois350(sim: Sim) -> None:
    async def scenario(client: MIClient) -> tuple:
        orno = await _order(client, sim, "111-2000002-0000002", lines=2)
        dlix = str(sim.store.orders()[0]["lines"][0]["dlix"])
        head = await _head(client, orno)
        common = {"WHLO": "100", "CUNO": "AMZUS", "RIDN": orno, "PLSX": "1", **PICK}
        with pytest.raises(MIError) as too_much:
            await client.execute("MHS850MI", "AddCOPick", {**common, "RIDL": "1", "QTYP": "5"})
        with pytest.raises(MIError) as other_customer:
            await client.execute("MHS850MI", "AddCOPick", {**common, "CUNO": "AMZCA", "RIDL": "1"})
        await client.execute("MHS850MI", "AddCOPick", {**common, "RIDL": "1", "QTYP": "1"})
        after_one = await _lines(client, orno)
        await client.execute("MHS850MI", "AddCfmPickList", {"WHLO": "100", "DLIX": dlix, "PLSX": "1", **PICK})
        with pytest.raises(MIError) as twice:
            await client.execute(
                "MHS850MI", "AddCfmPickList", {"WHLO": "100", "DLIX": dlix, "PLSX": "1", **PICK}
            )
        invoices = await client.execute("OIS350MI", "LstInvHeadByCo", {"ORNO": orno})
        key = {"YEA4": invoices[0]["YEA4"], "IVNO": invoices[0]["IVNO"]}
        invoice = (await client.execute("OIS350MI", "GetInvHead", key))[0]
        return (
            head,
            after_one,
            await _lines(client, orno),
            await _head(client, orno),
            invoices,
            invoice,
            (too_much.value, other_customer.value, twice.value),
        )

    head, after_one, lines, head_after, invoices, invoice, errors = _run(sim, scenario)
    assert head["ORST"] == "44"
    assert [line["ORST"] for line in after_one] == ["77", "44"]  # line 1 delivered and invoiced at once
    assert [line["ORST"] for line in lines] == ["77", "77"] and head_after["ORSL"] == "77"
    assert [e.field for e in errors] == ["QTYP", "CUNO", "DLIX"]
    plan = order_plan(sim, "x", lines=2)
    expected = [Decimal(line["SAPR"]) * Decimal(line["ORQT"]) for line in plan.lines]
    assert sorted(Decimal(i["AMT1"]) for i in invoices) == sorted(expected)
    assert invoice["CUNO"] == "AMZUS" and invoice["CUCD"] == "USD" and invoice["INST"] == "10"


def test_invoicing_can_wait_for_the_invoicing_run(sim: Sim) -> None:
    httpx.post(f"{sim.url}/_sim/options", json={"invoice_on_delivery": False}).raise_for_status()

    async def scenario(client: MIClient) -> tuple:
        orno = await _order(client, sim, "111-2000003-0000003", lines=1)
        dlix = str(sim.store.orders()[0]["lines"][0]["dlix"])
        await client.execute("MHS850MI", "AddCfmPickList", {"WHLO": "100", "DLIX": dlix, "PLSX": "1", **PICK})
        delivered = await _head(client, orno)
        run = httpx.post(f"{sim.url}/_sim/invoice").json()
        return delivered, run, await _head(client, orno)

    delivered, run, invoiced = _run(sim, scenario)
    assert (delivered["ORSL"], delivered["ORST"]) == ("66", "66")
    assert len(run["invoices"]) == 1 and invoiced["ORST"] == "77"


def test_lines_can_be_closed_or_deleted_and_release_their_stock(sim: Sim) -> None:
    items = [item.item_number for item in sim.catalog[:3]]
    sim.store.set_balance("100", items[1], 1)

    async def scenario(client: MIClient) -> tuple:
        orno = await _order(client, sim, "111-2000004-0000004")
        with pytest.raises(MIError) as on_pick_list:
            await client.execute("OIS100MI", "DelLine", {"ORNO": orno, "PONR": "1"})
        await client.execute("OIS100MI", "DelLine", {"ORNO": orno, "PONR": "2"})  # 23: allocation released
        await client.execute("OIS100MI", "CloLine", {"ORNO": orno, "PONR": "1"})  # 44: closed, not delivered
        line = (await client.execute("OIS100MI", "GetLine", {"ORNO": orno, "PONR": "1"}))[0]
        return on_pick_list.value, await _lines(client, orno), line, await _head(client, orno)

    refused, lines, line, head = _run(sim, scenario)
    assert refused.field == "PONR"
    assert [row["ORST"] for row in lines] == ["99", "90", "44"]
    assert line["ALQT"] == "0" and (head["ORSL"], head["ORST"]) == ("44", "99")
    assert sim.store.balance("100", items[1]) == {"on_hand": Decimal(1), "allocated": Decimal(0)}
    assert sim.store.balance("100", items[0])["allocated"] == 0


def test_balances_feed_a_delta_and_adjustments_respect_allocations(sim: Sim) -> None:
    item = sim.catalog[0].item_number

    async def scenario(client: MIClient) -> tuple:
        stamp = (await client.execute("OIS100MI", "GetServerTime"))[0]["LMTS"][:17]
        nothing = await client.execute("OIS100MI", "LstNewBalances", {"LMTS": stamp}, maxrecs=0)
        await client.execute("MMS850MI", "AddAdjust", {"WHLO": "100", "ITNO": item, "QLQT": "-990", **PICK})
        await _order(client, sim, "111-2000005-0000005", lines=1)  # allocates 1 of the 10 left
        with pytest.raises(MIError) as below:
            await client.execute(
                "MMS850MI", "AddAdjust", {"WHLO": "100", "ITNO": item, "QLQT": "-10", **PICK}
            )
        via_alias = await client.execute(
            "MMS850MI",
            "AddAdjust",
            {"WHLO": "100", "POPN": sim.catalog[0].sku, "ALWT": "03", "ALWQ": "AMZN", "QLQT": "5", **PICK},
        )
        changed = await client.execute("OIS100MI", "LstNewBalances", {"LMTS": stamp}, maxrecs=0)
        return nothing, below.value, via_alias, changed

    nothing, below, via_alias, changed = _run(sim, scenario)
    assert nothing == []
    assert below.field == "QLQT" and "allocated" in below.message
    assert via_alias[0]["MSNR"]
    assert changed == [{"WHLO": "100", "ITNO": item, "AV01": "14", "AV02": "15"}]


def _gl_line(key: str, line: int, account: str, amount: str, **extra: str) -> dict[str, str]:
    return {
        "KEY1": key,
        "LINE": str(line),
        "INRI": "1",
        "AIT1": account,
        "ACAM": amount,
        "CUCD": "USD",
        "ACDT": "20260301",
        "VTXT": "Amazon settlement",
        **extra,
    }


def test_gl_batches_post_only_balanced_vouchers_and_reposting_is_visible(sim: Sim) -> None:
    async def post(client: MIClient, key: str, lines: list[dict[str, str]]) -> None:
        await client.execute(
            "GLS840MI", "AddBatchHead", {"KEY1": key, "INTN": "AMZSETTLE", "DESC": "Settlement"}
        )
        await client.bulk("GLS840MI", [("AddBatchLineFld", line) for line in lines])
        await client.execute("GLS840MI", "CtrlBatch", {"KEY1": key})
        await client.execute("GLS840MI", "UpdBatch", {"KEY1": key})

    async def scenario(client: MIClient) -> tuple:
        await post(
            client,
            "S-1",
            [
                _gl_line("S-1", 1, "1580", "100.00"),
                _gl_line("S-1", 2, "6570", "-15.00"),
                _gl_line("S-1", 3, "3010", "-85.00"),
            ],
        )
        with pytest.raises(MIError) as unbalanced:
            await post(
                client, "S-2", [_gl_line("S-2", 1, "1580", "100.00"), _gl_line("S-2", 2, "3010", "-99.99")]
            )
        with pytest.raises(MIError) as unknown_account:
            await client.bulk("GLS840MI", [("AddBatchLineFld", _gl_line("S-2", 3, "9999", "-0.01"))])
            await client.execute("GLS840MI", "CtrlBatch", {"KEY1": "S-2"})
        with pytest.raises(MIError) as key_in_use:
            await client.execute(
                "GLS840MI", "AddBatchHead", {"KEY1": "S-2", "INTN": "AMZSETTLE", "DESC": "x"}
            )
        voucher = {"DIVI": "AAA", "YEA4": "2026", "VONO": "10000001"}
        head = (await client.execute("GLS200MI", "GetVoucherHead", voucher))[0]
        lines = await client.execute(
            "GLS200MI", "LstVoucherLines", {"DIVI": "AAA", "YEA4": "2026", "VONO": "10000001"}
        )
        one = await client.execute(
            "GLS200MI",
            "GetVoucherLine",
            {"DIVI": "AAA", "YEA4": "2026", "VONO": "10000001", "JRNO": "1", "JSNO": "2"},
        )
        await post(client, "S-1", [_gl_line("S-1", 1, "1580", "1.00"), _gl_line("S-1", 2, "3010", "-1.00")])
        account = await client.execute("CRS630MI", "GetAccountID", {"AITP": "1", "AITM": "1580"})
        return unbalanced.value, unknown_account.value, key_in_use.value, head, lines, one, account

    unbalanced, unknown_account, key_in_use, head, lines, one, account = _run(sim, scenario)
    assert unbalanced.field == "ACAM" and "does not balance" in unbalanced.message
    assert unknown_account.field == "AIT1" and key_in_use.field == "KEY1"
    assert (head["DSUM"], head["CSUM"]) == ("100.00", "-100.00")
    assert [line["AIT1"] for line in lines] == ["1580", "6570", "3010"] and one[0]["ACAM"] == "-15.00"
    assert account[0]["TX40"] == "Amazon clearing"
    stats = sim.stats()
    assert stats["gl_batches_posted"] == 2 and stats["duplicate_gl_batches"] == ["S-1"]


def test_customers_aliases_and_batch_status_behave_like_m3(sim: Sim) -> None:
    item = sim.catalog[0].item_number

    async def scenario(client: MIClient) -> tuple:
        stamp = (await client.execute("OIS100MI", "GetServerTime"))[0]["LMTS"][:17]
        new = {"CUTM": "AMZUS", "CUNM": "Buyer One", "CUA1": "1 Road"}
        cuno = (await client.execute("CRS610MI", "Add", new))[0]["CUNO"]
        await client.execute("CRS610MI", "ChgBasicData", {"CUNO": cuno, "TOWN": "Boston", "CSCD": "US"})
        address = {
            "ADRT": "1",
            "ADID": "SHIP1",
            "CUA1": "2 Road",
            "PONO": "02101",
            "TOWN": "Boston",
            "CSCD": "US",
        }
        await client.execute("CRS610MI", "AddAddress", {"CUNO": cuno, **address})
        changed = await client.execute("CRS610MI", "LstByNumber", {"LMTS": stamp}, maxrecs=0)
        customer = (await client.execute("CRS610MI", "GetBasicData", {"CUNO": cuno}))[0]
        with pytest.raises(MIError) as bad_country:
            await client.execute("CRS610MI", "ChgBasicData", {"CUNO": cuno, "CSCD": "us"})
        await client.execute(
            "MMS025MI", "AddAlias", {"ALWT": "3", "ALWQ": "AMZN", "POPN": "NEW-SKU", "ITNO": item}
        )
        aliases = await client.execute("MMS025MI", "LstAlias", {"ITNO": item, "ALWT": "03"})
        basic = (await client.execute("MMS200MI", "GetItmBasic", {"ITNO": item}))[0]
        batch = (await client.execute("OIS100MI", "AddBatchHead", {"CUNO": "AMZUS", "CUOR": "X-1"}))[0][
            "ORNO"
        ]
        with pytest.raises(MIError):
            await client.execute("OIS100MI", "Confirm", {"ORNO": batch})  # no lines: rejected
        status = (await client.execute("OIS275MI", "GetTmpOrderStat", {"ORNO": batch}))[0]
        orno = await _order(client, sim, "111-2000006-0000006", lines=1)
        heads = await client.execute("OIS100MI", "LstHead", {"CUNO": "AMZUS", "ORSL": "40"}, maxrecs=0)
        return cuno, changed, customer, bad_country.value, aliases, basic, status, orno, heads

    cuno, changed, customer, bad_country, aliases, basic, status, orno, heads = _run(sim, scenario)
    assert cuno.startswith("C") and [row["CUNO"] for row in changed] == [cuno]
    assert customer["TOWN"] == "Boston" and customer["CUCD"] == "USD" and bad_country.field == "CSCD"
    assert {a["POPN"] for a in aliases} == {sim.catalog[0].sku, "NEW-SKU"}
    assert len(basic["ITDS"]) <= 30 and status["STAT"] == "25"
    assert [h["ORNO"] for h in heads] == [orno] and heads[0]["CUOR"] == "111-2000006-0000006"


def test_the_v1_shape_is_served_and_parsed(sim: Sim) -> None:
    auth = ("M3SRVADM", "demo")
    ok = httpx.get(f"{sim.url}/m3api-rest/execute/CRS610MI/GetBasicData", params={"CUNO": "AMZUS"}, auth=auth)
    nok = httpx.get(f"{sim.url}/m3api-rest/execute/CRS610MI/GetBasicData", params={"CUNO": "NOPE"}, auth=auth)
    assert ok.json()["MIRecord"][0]["NameValue"][0] == {"Name": "CONO", "Value": "100"}
    (row,) = parse_response("CRS610MI", ["GetBasicData"], ok.status_code, ok.json())
    assert row.ok and row.records[0]["CUNO"] == "AMZUS"
    assert nok.status_code == 200 and nok.json()["@type"] == "ServerReturnedNOK"
    (failed,) = parse_response("CRS610MI", ["GetBasicData"], nok.status_code, nok.json())
    assert failed.error is not None and failed.error.field == "CUNO" and failed.error.is_not_found
