"""One run through every transaction the M3 simulator serves, driven by MIClient, with every
request and answer captured off the wire: the material of the M3 contract tests (field table and
reference data)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import httpx

from m3amazon.config import M3Settings
from m3amazon.m3 import lifecycle
from m3amazon.m3.client import MIClient, RetryPolicy
from m3amazon.m3.orders import CustomerOrderPlan, ensure_customer_order
from m3amazon.sim.catalog import MARKETPLACES, build_catalog
from m3amazon.sim.m3.app import create_app
from m3amazon.sim.m3.store import SimStore
from m3amazon.sim.server import serve_in_thread

CONTROL = {"cono", "divi", "maxrecs"}
PICK = {"E0PA": "WMS", "E065": "PICK"}


@dataclass
class Exchange:
    program: str
    transaction: str
    record: dict[str, str]
    control: dict[str, str]
    rows: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


class Recorder(httpx.AsyncBaseTransport):
    """Forwards to the network and keeps each MI transaction's request fields and answer rows."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        content = await response.aread()
        body = json.loads(content) if content else {}
        results = body.get("results", []) if isinstance(body, dict) else []
        if request.method == "GET":
            *_, program, transaction = request.url.path.split("/")
            params = dict(parse_qsl(request.url.query.decode()))
            calls = [(transaction, {k: v for k, v in params.items() if k not in CONTROL})]
            control = {k: v for k, v in params.items() if k in CONTROL}
        else:
            sent = json.loads(request.content)
            program = sent["program"]
            calls = [(t["transaction"], t["record"]) for t in sent["transactions"]]
            control = {k: str(v) for k, v in sent.items() if k in ("cono", "divi", "maxReturnedRecords")}
        for index, (transaction, record) in enumerate(calls):
            result = results[index] if index < len(results) else {}
            self.exchanges.append(
                Exchange(
                    program,
                    transaction,
                    record,
                    control,
                    result.get("records", []),
                    result.get("errorMessage"),
                )
            )
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _plan(catalog: list, cuor: str, lines: int = 2) -> CustomerOrderPlan:
    return CustomerOrderPlan(
        cuor=cuor,
        customer="AMZUS",
        head={"ORTP": "MFN", "WHLO": "100", "FACI": "A01", "CUCD": "USD", "ORDT": "20260301"},
        address={
            "ADRT": "1",
            "CUNM": "Jane Doe",
            "CUA1": "1 Main St",
            "TOWN": "Seattle",
            "PONO": "98101",
            "CSCD": "US",
            "ECAR": "WA",
        },
        lines=[
            {
                "ITNO": item.item_number,
                "ORQT": "1",
                "SAPR": str(item.price("USD")),
                "WHLO": "100",
                "CUOR": f"{n:05d}",
            }
            for n, item in enumerate(catalog[:lines], start=1)
        ],
    )


async def _scenario(client: MIClient, catalog: list, store: SimStore) -> None:
    item, sku = catalog[0].item_number, catalog[0].sku
    x = client.execute
    await x("OIS100MI", "GetCurrentUser")
    stamp = (await x("OIS100MI", "GetServerTime"))[0]["LMTS"][:17]
    await x("CRS610MI", "GetBasicData", {"CUNO": "AMZUS"})
    cuno = (await x("CRS610MI", "Add", {"CUTM": "AMZUS", "CUNM": "Buyer", "CUA1": "1 Road", "CSCD": "US"}))[
        0
    ]["CUNO"]
    await x("CRS610MI", "ChgBasicData", {"CUNO": cuno, "TOWN": "Boston"})
    await x(
        "CRS610MI",
        "AddAddress",
        {
            "CUNO": cuno,
            "ADRT": "1",
            "ADID": "A1",
            "CUA1": "2 Road",
            "PONO": "02101",
            "TOWN": "Boston",
            "CSCD": "US",
        },
    )
    await x("CRS610MI", "LstByNumber", {"LMTS": stamp}, maxrecs=0)
    await x("MMS200MI", "Get", {"ITNO": item})
    await x("MMS200MI", "GetItmBasic", {"ITNO": item})
    await x("MMS200MI", "GetItmWhsBal", {"WHLO": "100", "ITNO": item})
    await x("MMS025MI", "AddAlias", {"ALWT": "03", "ALWQ": "AMZN", "POPN": "EXTRA-SKU", "ITNO": item})
    await x("MMS025MI", "GetItem", {"ALWT": "03", "ALWQ": "AMZN", "POPN": sku})
    await x("MMS025MI", "LstAlias", {"ITNO": item})
    await x("CRS630MI", "GetAccountID", {"AITP": "1", "AITM": "1580"})
    # batch order entry, by hand and through ensure_customer_order (lookup, entry, crash recovery)
    head = {"CUNO": "AMZUS", "CUOR": "111-3000001-0000001", "ORTP": "MFN"}
    batch = (await x("OIS100MI", "AddBatchHead", head))[0]["ORNO"]
    address = {"ADRT": "1", "CUNM": "Jane", "CUA1": "1 Main St", "CSCD": "US"}
    await x("OIS100MI", "AddBatchAddress", {"ORNO": batch, **address})
    await x("OIS100MI", "AddBatchLine", {"ORNO": batch, "ITNO": item, "ORQT": "2", "SAPR": "10.50"})
    await x("OIS100MI", "GetBatchHead", {"ORNO": batch})
    await x("OIS100MI", "LstErrMsgOrder", {"ORNO": batch})
    order = (await x("OIS100MI", "Confirm", {"ORNO": batch}))[0]["ORNO"]
    await x("OIS100MI", "GetOrderNo", {"ORNO": batch})
    await x("OIS275MI", "GetTmpOrderStat", {"ORNO": batch})
    ensured = await ensure_customer_order(client, _plan(catalog, "111-3000002-0000002", lines=3))
    with store.transaction() as db:  # M3 purged its batch heads: SearchHead + GetHead find the order
        db.execute("DELETE FROM batch_heads")
    await ensure_customer_order(client, _plan(catalog, "111-3000002-0000002", lines=3))
    await x("OIS100MI", "LstHead", {"CUNO": "AMZUS"}, maxrecs=0)
    await x("OIS100MI", "LstLine", {"ORNO": order})
    await x("OIS100MI", "GetLine", {"ORNO": order, "PONR": "1"})
    await x("OIS100MI", "GetAddress", {"ORNO": order, "ADRT": "1"})  # MCF: the delivery address
    # picking, delivery, invoicing
    dlix = str(next(o for o in store.orders() if o["orno"] == ensured.order_number)["lines"][0]["dlix"])
    common = {"WHLO": "100", "CUNO": "AMZUS", "RIDN": order, "RIDL": "1", "PLSX": "1", **PICK}
    await x("MHS850MI", "AddCOPick", {**common, "QTYP": "1"})
    await x("MHS850MI", "AddCfmPickList", {"WHLO": "100", "DLIX": dlix, "PLSX": "1", **PICK})
    invoices = await x("OIS350MI", "LstInvHeadByCo", {"ORNO": order})
    await x("OIS350MI", "GetInvHead", {"YEA4": invoices[0]["YEA4"], "IVNO": invoices[0]["IVNO"]})
    # lines closed and deleted
    store.set_balance("100", catalog[1].item_number, 0)
    other = (await ensure_customer_order(client, _plan(catalog, "111-3000003-0000003", lines=2))).order_number
    await x("OIS100MI", "CloLine", {"ORNO": other, "PONR": "1"})
    await x("OIS100MI", "DelLine", {"ORNO": other, "PONR": "2"})
    # stock
    await x("MMS850MI", "AddAdjust", {"WHLO": "100", "ITNO": item, "QLQT": "5", "RSCD": "CNT", **PICK})
    await x("OIS100MI", "LstNewBalances", {"LMTS": stamp}, maxrecs=0)
    # general ledger
    await x("GLS840MI", "AddBatchHead", {"KEY1": "S-1", "INTN": "AMZSETTLE", "DESC": "Settlement"})
    await client.bulk(
        "GLS840MI",
        [
            (
                "AddBatchLineFld",
                {
                    "KEY1": "S-1",
                    "LINE": str(n),
                    "INRI": "1",
                    "AIT1": account,
                    "ACAM": amount,
                    "CUCD": "USD",
                    "ACDT": "20260301",
                    "VTXT": "Settlement",
                },
            )
            for n, (account, amount) in enumerate([("1580", "10.00"), ("3010", "-10.00")], start=1)
        ],
    )
    await x("GLS840MI", "CtrlBatch", {"KEY1": "S-1"})
    await x("GLS840MI", "UpdBatch", {"KEY1": "S-1"})
    voucher = {"DIVI": "AAA", "YEA4": "2026", "VONO": "10000001"}
    await x("GLS200MI", "GetVoucherHead", voucher)
    await x("GLS200MI", "LstVoucherLines", voucher)
    await x("GLS200MI", "GetVoucherLine", {**voucher, "JRNO": "1", "JSNO": "1"})
    await x("GLS200MI", "LstVouchersByDt", {"FRDT": "20260301", "TODT": "20260301"})
    await x(
        "OIS100MI",
        "DelBatchHead",
        {"ORNO": (await x("OIS100MI", "AddBatchHead", {"CUNO": "AMZUS"}))[0]["ORNO"]},
    )
    await x("OIS100MI", "SearchHead", {"SQRY": 'CUOR:"111-3000001-0000001"'})
    # the order's life after creation (m3.lifecycle): charges, a line discount, Amazon's deliveries
    plan = _plan(catalog[2:], "111-3000004-0000004", lines=2)
    plan = plan.model_copy(
        update={
            "lines": [{**plan.lines[0], "DIA1": "1.00"}, plan.lines[1]],
            "charges": [{"CRID": "SHIP", "CRAM": "4.99", "CUCD": "USD", "CRD0": "Shipping"}],
        }
    )
    fba = (await ensure_customer_order(client, plan)).order_number
    await x("OIS100MI", "LstOrderCharge", {"ORNO": fba})
    shipped = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)
    await lifecycle.ensure_delivery_reported(
        client, fba, {"00001": 1}, shipped_at=shipped, carrier="UPS", tracking="1Z999AA10123456784"
    )
    await lifecycle.ensure_delivery_reported(client, fba, {"00001": 1, "00002": 1}, shipped_at=shipped)
    await lifecycle.list_invoices(client, fba)
    await lifecycle.list_item_candidates(client, page_size=3)


def run_contract_scenario(tmp: Path) -> list[Exchange]:
    store = SimStore(tmp / "contract.sqlite")
    catalog = build_catalog(size=6)
    store.seed_from_catalog(catalog, MARKETPLACES)
    server = serve_in_thread(create_app(store), name="m3-contract")
    recorder = Recorder()

    async def main() -> None:
        settings = M3Settings(base_url=server.url)
        async with MIClient(settings, transport=recorder, retry=RetryPolicy(attempts=1)) as client:
            await _scenario(client, catalog, store)

    try:
        asyncio.run(main())
    finally:
        server.stop()
        store.close()
    return recorder.exchanges
