"""The operator's side of order to cash, end to end over the simulators.

Amazon takes orders for SKUs M3 does not know. The running service (engine, intake, web, in this
process) turns them into `sku_unknown` incidents with suggestions; an operator then

- accepts a suggestion through the admin API: the MMS025MI alias appears in the M3 simulator and
  every order waiting on that SKU is created in M3, exactly once, its incident resolved;
- discards an address incident, which needs a reason and lands in the audit log;
- fixes the other SKU in M3 by hand and retries from the `m3amazon` command, a separate process
  that only enqueues: the running worker picks the retries up and the orders reach M3.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from m3amazon import bootstrap
from m3amazon.config import M3Settings
from m3amazon.flows import references
from m3amazon.m3.client import MIClient
from m3amazon.m3.lifecycle import ensure_alias
from m3amazon.ops import audit, incidents, trail, users, views
from m3amazon.service import run_service
from m3amazon.sim.catalog import build_catalog
from m3amazon.sim.sandbox import M3_PASSWORD, M3_USER, Sandbox

pytestmark = pytest.mark.slow

ORDERS = 24
CATALOG = build_catalog(size=6)
#: M3 has no item and no alias for these two SKUs.
SKU_ACCEPTED, SKU_FIXED_IN_M3 = CATALOG[0].sku, CATALOG[1].sku
CLI = Path(sys.executable).with_name("m3amazon")
WAIT_S = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sandbox(tmp_path: Path):
    box = Sandbox.start(
        tmp_path / "sandbox",
        catalog_size=len(CATALOG),
        marketplaces=("ATVPDKIKX0DER",),
        m3_unknown_skus=(SKU_ACCEPTED, SKU_FIXED_IN_M3),
    )
    references.clear_caches()
    yield box
    box.stop()


async def _until(check: Any, what: str, timeout: float = WAIT_S) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def _unknown_skus(row: dict[str, Any]) -> set[str]:
    return {p["sku"] for p in views.problems(row) if p.get("reason_code") == "UNKNOWN_SKU"}


async def _cli(config: Path, *args: str) -> dict[str, Any]:
    """Run `m3amazon ... --json` as its own process (it must not become a worker)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [str(CLI), *args, "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return dict(json.loads(done.stdout))


async def _scenario(box: Sandbox, tmp_path: Path, database_url: str) -> dict[str, Any]:
    port = _free_port()
    settings = box.settings(database_url, executor_id="incidents-e2e")
    settings.web.port = port
    config = tmp_path / "cli.yaml"  # what the operator's `m3amazon` reads: the same database and M3
    config.write_text(yaml.safe_dump(box.config(database_url, executor_id="incidents-e2e")))

    stop = asyncio.Event()
    ready: asyncio.Future[bootstrap.Runtime] = asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service(settings, stop=stop, on_ready=ready.set_result))
    try:
        rt = await asyncio.wait_for(asyncio.shield(ready), 60)
        engine = rt.engine
        scenario = await asyncio.to_thread(box.generate, ORDERS, seed=5, unfit_address_share=0.15)
        order_ids = scenario["order_ids"]
        await _until(
            lambda: sum(trail.outcome_counts(engine).values()) >= ORDERS, "every order to have an outcome"
        )

        # 1. Unknown SKUs became sku_unknown incidents with suggestions.
        waiting = incidents.list_incidents(engine, category="sku_unknown")
        for row in waiting:
            for problem in views.problems(row):
                if problem.get("reason_code") == "UNKNOWN_SKU":
                    assert problem["suggestions"], problem
                    assert {"item_number", "name", "score", "matched_on"} <= set(problem["suggestions"][0])
        on_accepted = [r for r in waiting if SKU_ACCEPTED in _unknown_skus(r)]
        address = incidents.list_incidents(engine, category="address_invalid")
        unfit_orders = {r["subject"] for r in address}  # they also need their address fixed
        only_accepted = [
            r for r in on_accepted if _unknown_skus(r) == {SKU_ACCEPTED} and r["subject"] not in unfit_orders
        ]
        assert len(on_accepted) >= 2 and only_accepted, [(_unknown_skus(r), r["subject"]) for r in waiting]
        unfit = next(r for r in address if r["subject"] not in {w["subject"] for w in waiting})
        m3_before = box.m3_stats()
        assert m3_before["duplicate_orders"] == 0

        # Two operators with API tokens (the admin API acts as the authenticated user).
        as_alice = await asyncio.to_thread(_operator_token, engine, "alice")
        as_bob = await asyncio.to_thread(_operator_token, engine, "bob")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as web:
            assert (await web.get("/api/incidents")).status_code == 401  # no anonymous access
            # 2. Accept the top suggestion for SKU_ACCEPTED through the admin API.
            target = only_accepted[0]
            detail = (await web.get(f"/api/incidents/{target['id']}", headers=as_alice)).json()
            (problem,) = detail["payload"]["problems"]
            item = problem["suggestions"][0]["item_number"]
            accepted = await web.post(
                f"/api/incidents/{target['id']}/accept-suggestion",
                json={"item_number": item},
                headers=as_alice,
            )
            assert accepted.status_code == 200, accepted.text
            retried = {r["amazon_order_id"] for r in accepted.json()["retried"]}
            assert retried == {r["subject"] for r in on_accepted}

            # 3. Discard an address incident: a reason is required, and audited.
            refused = await web.post(
                f"/api/incidents/{unfit['id']}/discard", json={"reason": " "}, headers=as_bob
            )
            assert refused.status_code == 422
            discarded = await web.post(
                f"/api/incidents/{unfit['id']}/discard",
                json={"reason": "address corrected with the buyer; order entered by hand"},
                headers=as_bob,
            )
            assert discarded.status_code == 200, discarded.text
            audit_log = (await web.get("/api/audit", params={"action": "discard"}, headers=as_bob)).json()

        only_ids = {r["subject"] for r in only_accepted}
        await _until(
            lambda: all((trail.get(engine, o) or {}).get("outcome") == "created" for o in only_ids),
            "the orders waiting only on the accepted SKU to be created",
        )
        alias_after_accept = await _alias(box, SKU_ACCEPTED)

        # 4. The other SKU is fixed in M3 by hand (MMS025), then retried from the command line.
        await _add_alias(box, SKU_FIXED_IN_M3, CATALOG[2].item_number)
        await _until(
            lambda: not incidents.list_incidents(engine, category="sku_unknown", status="retrying"),
            "the accepted retries to settle",
        )
        remaining = incidents.list_incidents(engine, category="sku_unknown")
        one, *rest = [r for r in remaining if r["subject"] not in unfit_orders]
        single = await _cli(config, "incidents", "retry", str(one["id"]), "--actor", "cli-operator")
        bulk = await _cli(config, "incidents", "retry-category", "sku_unknown", "--actor", "cli-operator")
        cli_orders = {one["subject"]} | {r["subject"] for r in rest}
        await _until(
            lambda: all((trail.get(engine, o) or {}).get("outcome") == "created" for o in cli_orders),
            "the worker to run the retries the CLI queued",
        )
        shown = await _cli(config, "order", "show", one["subject"])

        # Every order without an address problem is in M3 now.
        expected = set(order_ids) - unfit_orders
        await _until(lambda: expected <= set(box.m3_store.orders_by_cuor()), "every order in M3")
        return {
            "engine_rows": incidents.list_incidents(engine, status=None),
            "audit": audit.list_entries(engine, limit=1000),
            "audit_log": audit_log,
            "accepted_item": item,
            "alias": alias_after_accept,
            "on_accepted": [r["subject"] for r in on_accepted],
            "single": single,
            "bulk": bulk,
            "cli_orders": cli_orders,
            "shown": shown,
            "unfit": unfit,
            "unfit_orders": unfit_orders,
            "expected": expected,
            "by_cuor": box.m3_store.orders_by_cuor(),
            "stats": box.m3_stats(),
            "timeline": trail.timeline(engine, target["subject"]),
            "target": target,
        }
    finally:
        stop.set()
        await service


def _operator_token(engine: Any, name: str) -> dict[str, str]:
    users.add_user(engine, name, "a long enough password", "operator")
    return {"Authorization": f"Bearer {users.issue_token(engine, name, 'e2e')}"}


async def _alias(box: Sandbox, sku: str) -> str | None:
    from m3amazon.m3.orders import item_for_alias

    async with MIClient(M3Settings(base_url=box.m3.url, username=M3_USER, password=M3_PASSWORD)) as client:
        return await item_for_alias(client, sku, "03", "AMZN")


async def _add_alias(box: Sandbox, sku: str, itno: str) -> None:
    async with MIClient(M3Settings(base_url=box.m3.url, username=M3_USER, password=M3_PASSWORD)) as client:
        assert await ensure_alias(client, sku, itno, "03", "AMZN")


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_operators_resolve_incidents_through_the_api_and_the_cli(
    database: str, sandbox: Sandbox, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database_url = (
        f"sqlite:///{tmp_path / 'service.sqlite'}"
        if database == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    result = asyncio.run(_scenario(sandbox, tmp_path, database_url))

    # The accepted suggestion is an alias in M3; each order waiting on the SKU exists once.
    assert result["alias"] == result["accepted_item"]
    stats, by_cuor = result["stats"], result["by_cuor"]
    assert stats["duplicate_orders"] == 0, by_cuor
    assert all(by_cuor.get(order) == 1 for order in result["expected"]), by_cuor
    assert result["unfit"]["subject"] not in by_cuor  # discarded: never reached M3

    rows = {r["id"]: r for r in result["engine_rows"]}
    assert rows[result["target"]["id"]]["status"] == "resolved"
    assert "created by amazon-order:" in rows[result["target"]["id"]]["resolution"]
    sku_rows = [
        r
        for r in rows.values()
        if r["category"] == "sku_unknown" and r["subject"] not in result["unfit_orders"]
    ]
    assert sku_rows and all(r["status"] == "resolved" for r in sku_rows), [
        (r["id"], r["status"], r["resolution"]) for r in sku_rows
    ]
    assert rows[result["unfit"]["id"]]["status"] == "discarded"

    # The audit log tells who did what, and why.
    (discard,) = result["audit_log"]
    assert discard["actor"] == "bob" and discard["reason"].startswith("address corrected")
    assert (discard["before"]["status"], discard["after"]["status"]) == ("open", "discarded")
    actions = [(e.action, e.actor) for e in result["audit"]]
    assert ("accept_suggestion", "alice") in actions
    assert actions.count(("retry", "alice")) == len(result["on_accepted"])
    assert ("retry", "cli-operator") in actions and ("retry_category", "cli-operator") in actions

    # The CLI queued, the worker ran: its workflow ids are the ones that created the orders.
    single = result["single"]["retried"][0]
    assert single["workflow_id"].startswith(f"amazon-order:{single['amazon_order_id']}:retry:")
    shown = result["shown"]
    assert shown["outcome"] == "created" and shown["m3_order_number"]
    kinds = [e["kind"] for e in shown["timeline"]]
    assert {"received", "incident", "retry", "created"} <= set(kinds)
    assert any(
        e["workflow_id"] == single["workflow_id"] and e["kind"] == "created" for e in shown["timeline"]
    )

    target_kinds = [e["kind"] for e in result["timeline"]]
    assert target_kinds.index("incident") < target_kinds.index("mapping") < target_kinds.index("created")
