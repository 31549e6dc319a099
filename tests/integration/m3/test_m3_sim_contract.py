"""Contract: every transaction the simulator serves exists in the MI field table, and answers
with table output fields only, within their lengths, over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from m3_sim_support import Sim

from m3amazon.m3.fields import FieldTable
from m3amazon.sim.m3.programs import served_transactions

TABLE = FieldTable.default()


@pytest.mark.parametrize(("program", "transaction"), served_transactions())
def test_served_transaction_is_in_the_field_table(program: str, transaction: str) -> None:
    assert TABLE.has(program, transaction)


def test_responses_carry_only_table_output_fields(sim: Sim) -> None:
    item = sim.catalog[0]
    auth = ("M3SRVADM", "demo")
    seen: set[tuple[str, str]] = set()

    def call(program: str, transaction: str, **record: str) -> list[dict[str, str]]:
        response = httpx.get(
            f"{sim.url}/m3api-rest/v2/execute/{program}/{transaction}",
            params={**record, "cono": "100", "maxrecs": "0"},
            auth=auth,
        )
        assert response.status_code == 200, response.text
        rows = response.json()["results"][0]["records"]
        outputs = TABLE.output_fields(program, transaction)
        for row in rows:
            assert set(row) <= set(outputs), f"{program}/{transaction}: {set(row) - set(outputs)}"
            for name, value in row.items():
                assert outputs[name] is None or len(value) <= outputs[name], f"{program}/{transaction} {name}"
        seen.add((program, transaction))
        return rows

    call("CRS610MI", "GetBasicData", CUNO="AMZUS")
    call("MMS200MI", "Get", ITNO=item.item_number)
    call("MMS025MI", "AddAlias", ALWT="03", ALWQ="AMZN", POPN="EXTRA-SKU", ITNO=item.item_number)
    call("MMS025MI", "GetItem", ALWT="03", ALWQ="AMZN", POPN="EXTRA-SKU")
    call("OIS100MI", "GetCurrentUser")
    call("OIS100MI", "GetServerTime")
    batch = call("OIS100MI", "AddBatchHead", CUNO="AMZUS", CUOR="111-3000001-0000001", ORTP="MFN")[0]["ORNO"]
    call("OIS100MI", "AddBatchAddress", ORNO=batch, ADRT="1", CUNM="Jane", CUA1="1 Main St", CSCD="US")
    call("OIS100MI", "AddBatchLine", ORNO=batch, ITNO=item.item_number, ORQT="2", SAPR="10.50")
    call("OIS100MI", "GetBatchHead", ORNO=batch)
    call("OIS100MI", "LstErrMsgOrder", ORNO=batch)
    order = call("OIS100MI", "Confirm", ORNO=batch)[0]["ORNO"]
    call("OIS100MI", "GetOrderNo", ORNO=batch)
    call("OIS100MI", "GetHead", ORNO=order)
    call("OIS100MI", "LstLine", ORNO=order)
    call("OIS100MI", "LstBatchHead", CUNO="AMZUS")
    call("OIS100MI", "SearchHead", SQRY='CUOR:"111-3000001-0000001"')
    other = call("OIS100MI", "AddBatchHead", CUNO="AMZUS")[0]["ORNO"]
    call("OIS100MI", "DelBatchHead", ORNO=other)
    assert seen == set(served_transactions())
