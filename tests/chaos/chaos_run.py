"""`make chaos`: the product under faults, then the checker's verdict as one JSON object.

Workload: Amazon orders (FBA and seller-fulfilled; some with injected bad data: SKUs M3 does not
know, addresses too long for M3), buyer cancellations, the world moving on (Amazon ships FBA
orders, the warehouse ships the rest from M3, M3 invoices), MCF orders entered in M3, settlements
closed by Amazon, a stream of stock changes in M3. Faults, together: SIGKILLs of worker processes
at random moments (restarted with the same identity), SP-API 429s and 5xx, M3 timeouts, 5xx and
connection resets, duplicated and reordered notifications, duplicated BODs.

SQLite: one process (engine, intake and web), killed and restarted. PostgreSQL: the fleet of
docs/deployment.md, three workers (`--no-web`) and one web process (`--no-intake --no-work`, the
IMS endpoint ION sends its BODs to); the kills hit the workers, one of them is killed half-way
and never started again (the others take its workflows over after `engine.heartbeat_timeout_s`),
and the database itself is restarted.

At the end the faults stop, the world settles, and `chaos_checker.check` compares the simulators'
state with the history of what was sent. Exit status 1 when any counter is not zero.

    CHAOS_PROFILE=ci .venv/bin/python tests/chaos/chaos_run.py   # the shorter profile CI runs
    .venv/bin/python tests/chaos/chaos_run.py                    # the full profile (make chaos)
    CHAOS_DATABASES=sqlite ...                                   # one database only
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: m3a_testenv

from chaos_checker import FinalState, History, check, unexplained_incidents

from m3a_testenv import free_port, fresh_pg_database
from m3amazon.canonical import FulfillmentChannel, OrderStatus
from m3amazon.m3.translate import fit_address
from m3amazon.mapping import load_mappings
from m3amazon.ops import incidents, workers
from m3amazon.ops.db import create_engine
from m3amazon.sim.catalog import build_catalog
from m3amazon.sim.inventory_check import out_of_sync
from m3amazon.sim.mcf_demo import start_mcf_orders
from m3amazon.sim.processes import WorkerProcess
from m3amazon.sim.sandbox import IMS_TOKEN, Sandbox
from m3amazon.sim.world import World

CATALOG_SIZE = 40
FBA_STOCK = 100_000
#: The simulators' control planes answer slowly while the machine is busy: be patient with them.
CONTROL_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Profile:
    orders: int
    kills: int
    mcf_orders: int = 0
    settlements: int = 0
    batch: int = 25
    unknown_skus: int = 2
    unfit_address_share: float = 0.02
    cancel_share: float = 0.05
    duplicate_share: float = 0.3
    reorder_share: float = 0.3
    settle_timeout_s: float = 900.0
    #: Orders arrive over about this long, so that the kills hit work in flight.
    arrival_s: float = 60.0
    stock_changes_per_batch: int = 2


PROFILES = {
    "ci": Profile(orders=150, kills=6, mcf_orders=20, settlements=2, arrival_s=30.0),
    "full": Profile(orders=1000, kills=24, mcf_orders=200, settlements=5, arrival_s=180.0),
}


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- databases ------------------------------------------------------------------------------


def restart_postgresql() -> bool:
    """Restart the machine's PostgreSQL (Debian's pg_ctlcluster); False when that is not possible."""
    clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False)
    if clusters.returncode != 0 or not clusters.stdout.strip():
        return False
    version, cluster = clusters.stdout.split()[:2]
    done = subprocess.run(
        ["pg_ctlcluster", version, cluster, "restart", "-m", "fast"], capture_output=True, check=False
    )
    return done.returncode == 0


# -- the fleet -----------------------------------------------------------------------------


class Fleet:
    """Worker processes that the chaos kills and restarts (same executor id, so they resume), and
    on PostgreSQL a web process that is left alone."""

    def __init__(self, workers: list[WorkerProcess], web: WorkerProcess | None = None) -> None:
        self.workers = workers
        self.web = web
        self.gone: list[WorkerProcess] = []  # killed and never started again
        self.kills = 0  # of workers
        self.web_kills = 0
        self.lock = threading.Lock()

    def start(self) -> None:
        for process in self.processes():
            process.start()
        for process in self.processes():
            process.wait_ready(120)

    def processes(self) -> list[WorkerProcess]:
        return self.workers + ([self.web] if self.web else [])

    def kill_one(self, rng: random.Random) -> None:
        with self.lock:
            worker = rng.choice([w for w in self.workers if w not in self.gone])
            worker.kill()
            self.kills += 1
        time.sleep(rng.uniform(0.2, 2.0))  # down for a moment: BODs and notifications pile up
        with self.lock:
            worker.start()
        worker.wait_ready(120)

    def kill_for_good(self, rng: random.Random) -> WorkerProcess:
        """SIGKILL a worker and never start it again: the others must take its work over."""
        with self.lock:
            worker = rng.choice([w for w in self.workers if w not in self.gone])
            worker.kill()
            self.gone.append(worker)
            self.kills += 1
        return worker

    def kill_web(self, rng: random.Random) -> None:
        """SIGKILL the web process (ION's BODs arrive there) and start it again."""
        assert self.web is not None
        self.web.kill()
        self.web_kills += 1
        time.sleep(rng.uniform(0.2, 2.0))
        self.web.start()
        self.web.wait_ready(120)

    def stop(self) -> None:
        for process in self.processes():
            if process not in self.gone:
                process.stop()


#: PostgreSQL fleet: heartbeats every second; a worker silent for 8 s is taken over by another.
HEARTBEAT_INTERVAL_S = 1.0
HEARTBEAT_TIMEOUT_S = 8.0


def build_fleet(box: Sandbox, database: str, url: str, workdir: Path, web_port: int) -> Fleet:
    """SQLite: one process doing everything. PostgreSQL: three workers and a web process."""

    def config(executor_id: str, *, web: bool) -> dict[str, Any]:
        engine: dict[str, Any] = {"executor_id": executor_id}
        if database == "postgresql":
            engine |= {
                "heartbeat_interval_s": HEARTBEAT_INTERVAL_S,
                "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
            }
        settings = box.config(url, visibility_timeout_s=10, **engine)
        settings["m3"]["timeout_s"] = 3.0
        if web:
            settings["web"] = {"port": web_port}
        settings["settlements"] = {"interval_s": 5, "first_after_s": 2}
        settings["inventory"] = {"poll_interval_s": 5}  # the stock changes below: found by the delta poll
        # MCF orders whose last run failed for a passing reason are tried again after 10 s
        settings["mcf"] = {"poll_interval_s": 5, "inbox_interval_s": 0.5, "retry_interval_s": 10}
        return settings

    if database == "sqlite":
        return Fleet([WorkerProcess(config("chaos-1", web=True), workdir, "worker-1", web=True)])
    fleet = [WorkerProcess(config(f"chaos-w{i}", web=False), workdir, f"worker-{i}") for i in (1, 2, 3)]
    web = WorkerProcess(
        config("chaos-web", web=True), workdir, "web", web=True, options=["--no-intake", "--no-work"]
    )
    return Fleet(fleet, web)


def change_stock(box: Sandbox, rng: random.Random, items: list[Any], warehouse: str, count: int) -> None:
    """Goods receipts and stock counts in M3: new on-hand balances for a few items."""
    for item in rng.sample(items, min(count, len(items))):
        httpx.post(
            f"{box.m3.url}/_sim/balances",
            json={"whlo": warehouse, "itno": item.item_number, "on_hand": rng.randint(10, 150)},
            timeout=CONTROL_TIMEOUT_S,
        ).raise_for_status()


# -- faults --------------------------------------------------------------------------------


def faults_on(box: Sandbox, amazon: httpx.Client, seed: int) -> None:
    amazon.post(
        "/_sim/faults",
        json={"error_rates": {"429": 0.05, "500": 0.02, "503": 0.02}, "seed": seed},
    ).raise_for_status()
    httpx.post(
        f"{box.m3.url}/_sim/faults",
        timeout=CONTROL_TIMEOUT_S,
        json={
            "timeout_share": 0.02,
            "timeout_s": 4.0,
            "error_500_share": 0.03,
            "reset_share": 0.02,
            "seed": seed,
        },
    ).raise_for_status()


def storm(amazon: httpx.Client, seconds: float, seed: int) -> None:
    """A 429 storm on top of the background faults."""
    amazon.post(
        "/_sim/faults",
        json={
            "error_rates": {"429": 0.05, "500": 0.02, "503": 0.02},
            "storm": {"seconds": seconds},
            "seed": seed,
        },
    ).raise_for_status()


def faults_off(box: Sandbox, amazon: httpx.Client) -> None:
    amazon.post("/_sim/faults", json={}).raise_for_status()
    httpx.post(f"{box.m3.url}/_sim/faults", json={}, timeout=CONTROL_TIMEOUT_S).raise_for_status()


# -- the run -------------------------------------------------------------------------------


def _close_settlement(amazon: httpx.Client, box: Sandbox, history: History, marketplace: str) -> int:
    """Amazon closes the marketplace's event group; the settlements so far go into the history with
    the deposit each journal must foot to. 1 if one was closed (0: nothing to settle there yet)."""
    before = len(history.settlements)
    amazon.post("/_sim/settlements/close", json={"marketplaces": [marketplace]}).raise_for_status()
    with box.account.lock:
        for group in box.account.finances.groups:
            if group.settlement_id:
                history.settlements[group.settlement_id] = str(group.total.amount)
    return 1 if len(history.settlements) > before else 0


def _expected_incidents(box: Sandbox, order_id: str, unknown: set[str]) -> frozenset[str]:
    order = box.account.get_order(order_id)
    found = set()
    if order is not None:
        if any(line.sku in unknown for line in order.lines):
            found.add("sku_unknown")
        if order.ship_to is not None and fit_address(order.ship_to, allow_truncation=False)[1]:
            found.add("address_invalid")
    return frozenset(found)


def _active_incidents(url: str, *, full: bool = False) -> list[Any]:
    """(category, subject) of every open incident; `full`: the whole rows."""
    engine = create_engine(url, pool_size=1)
    try:
        rows = incidents.list_incidents(engine, status=None, limit=1_000_000)
    except sa.exc.SQLAlchemyError:
        return []
    finally:
        engine.dispose()
    active = [r for r in rows if r["status"] in incidents.ACTIVE]
    return active if full else [(r["category"], r["subject"]) for r in active]


def _lowest_status(order: dict[str, Any]) -> str:
    return min((str(line.get("orst") or "") for line in order.get("lines", [])), default="")


def _final_state(
    box: Sandbox,
    world: World,
    url: str,
    ids: list[str],
    history: History,
    catalog: list[Any],
    unknown: set[str],
) -> tuple[FinalState, list[str]]:
    amazon_status = {}
    for order_id in ids:
        order = box.account.get_order(order_id)
        amazon_status[order_id] = order.status.value if order else "UNKNOWN"
    m3_orders = box.m3_store.orders()
    cuors = [order["cuor"] for order in m3_orders]
    gl = box.m3_store.gl_batches_by_key()
    with box.m3_store.transaction() as db:
        # M3 sums a voucher's debits (DSUM) and its credits as a negative CSUM.
        vouchers = {
            f"{row[0]}/{row[1]}/{row[2]}": (str(row[3]), str(-Decimal(row[4])))
            for row in db.execute("SELECT divi, yea4, vono, dsum, csum FROM gl_vouchers")
        }
        # What reached the clearing account per GL batch (in the settlement's currency: CUAM).
        clearing = load_mappings(None).gl.clearing.account
        to_clearing: dict[str, Decimal] = {}
        for key, fields in db.execute(
            "SELECT v.key1, l.fields FROM gl_voucher_lines l"
            " JOIN gl_vouchers v ON (v.divi, v.yea4, v.vono) = (l.divi, l.yea4, l.vono)"
        ):
            line = json.loads(fields)
            if line.get("AIT1") == clearing:
                amount = Decimal(line.get("CUAM") or line.get("ACAM") or "0")
                to_clearing[key] = to_clearing.get(key, Decimal(0)) + amount
    # One entry per fulfillment order Amazon holds, named after the M3 order it was made for.
    with box.account.lock:
        mcf = [o.request_id for o in box.account.mcf.orders.values()]
    rules = load_mappings(None).inventory
    mismatches = out_of_sync(
        box.account, box.m3_store, rules, catalog, list(box.account.marketplaces), skip_skus=sorted(unknown)
    )
    final = FinalState(
        amazon_status=amazon_status,
        m3_cuors=cuors,
        mcf_request_ids=mcf,
        mcf_m3_status={o["orno"]: _lowest_status(o) for o in m3_orders},
        gl_batches=dict(gl),
        vouchers=vouchers,
        settlement_posted={
            s: str(sum((v for key, v in to_clearing.items() if s in key), Decimal(0)))
            for s in history.settlements
            if any(s in key for key in gl)
        },
        inventory={
            f"{m.sku}@{m.marketplace}": (m.amazon if m.amazon is not None else -1, m.expected)
            for m in mismatches
        },
        incidents=_active_incidents(url),
    )
    # Seller shipments M3 made that Amazon does not show as shipped (a lost confirmation).
    unconfirmed = []
    for order_id in sorted(world.stats.delivered_orders):
        order = box.account.get_order(order_id)
        if order is None or order.channel is not FulfillmentChannel.MERCHANT:
            continue
        if order_id in world_partly(world):
            continue
        if order.status is not OrderStatus.SHIPPED:
            unconfirmed.append(order_id)
    return final, unconfirmed


def _takeover_figures(url: str, fleet: Fleet) -> dict[str, Any]:
    """What became of the workers killed for good: their PENDING workflows (must be none left)
    and who took them over."""
    engine = create_engine(url, pool_size=1)
    try:
        views = {view.executor_id: view for view in workers.listing(engine, HEARTBEAT_TIMEOUT_S)}
    finally:
        engine.dispose()
    gone = [views[w.executor_id] for w in fleet.gone if w.executor_id in views]
    return {
        "workers_not_restarted": len(fleet.gone),
        "dead_worker_workflows_pending": sum(view.pending for view in gone),
        "dead_worker_workflows_taken_over": sum(view.recovered for view in gone),
        "taken_over_by": {view.executor_id: view.taken_over_by for view in gone},
    }


def world_partly(world: World) -> set[str]:
    """Orders the warehouse has shipped only in part so far."""
    return set(getattr(world, "_partly", set()))


def _settled(box: Sandbox, url: str, history: History, catalog: list[Any], unknown: set[str]) -> bool:
    """Every clean order in M3 (or cancelled by Amazon), every bad one in an incident, every MCF
    order delivered, every settlement posted, Amazon's quantities as M3 says, and no incident open
    that injected bad data does not explain (the product retries what failed for a passing reason;
    the run waits for that, up to the profile's `settle_timeout_s`)."""
    active = _active_incidents(url)
    subjects = {subject for _, subject in active}
    if unexplained_incidents(history, active):
        return False
    cuors = {order["cuor"] for order in box.m3_store.orders()}
    for order_id, bad in history.amazon_orders.items():
        if bad:
            if order_id not in subjects:
                return False
            continue
        order = box.account.get_order(order_id)
        if order_id not in cuors and (order is None or order.status is not OrderStatus.CANCELLED):
            return False
    by_number = {o["orno"]: o for o in box.m3_store.orders()}
    for number in history.mcf_orders:
        if _lowest_status(by_number.get(number, {})) < "66":
            return False
    posted = box.m3_store.gl_batches_by_key()
    if not all(any(s in key for key in posted) for s in history.settlements):
        return False
    rules = load_mappings(None).inventory
    marketplaces = list(box.account.marketplaces)
    return not out_of_sync(box.account, box.m3_store, rules, catalog, marketplaces, skip_skus=sorted(unknown))


def run_once(database: str, url: str, profile: Profile, seed: int, workdir: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    catalog = build_catalog(size=CATALOG_SIZE)
    unknown = {item.sku for item in rng.sample(catalog, profile.unknown_skus)}
    box = Sandbox.start(
        workdir / "sandbox",
        catalog_size=CATALOG_SIZE,
        m3_unknown_skus=tuple(sorted(unknown)),
    )
    verify = ssl.create_default_context(cafile=str(box.tls.ca_cert))
    amazon = httpx.Client(base_url=box.amazon.url, verify=verify, timeout=CONTROL_TIMEOUT_S)
    world = World(box, seed=seed, partial_share=0.2)
    web_port = free_port()
    fleet = build_fleet(box, database, url, workdir, web_port)
    warehouse = load_mappings(None).inventory.warehouses[0]
    stocked = [item for item in catalog if item.sku not in unknown]
    # FBA holds enough for every FBA and MCF order of the run: an MCF order Amazon cannot ship
    # would be a right incident, but not one the checker could tell from a wrong one.
    world.stock_fba([item.sku for item in stocked], FBA_STOCK)
    history = History()
    started = time.monotonic()
    try:
        fleet.start()
        # M3 (ION) sends its BODs to the worker's IMS endpoint, some twice, and keeps retrying
        # for about a minute and a half while the worker is down.
        ims = {"url": f"http://127.0.0.1:{web_port}/service", "token": IMS_TOKEN, "attempts": 10}
        httpx.post(
            f"{box.m3.url}/_sim/ims",
            json={**ims, "duplicate_share": 0.1, "seed": seed},
            timeout=CONTROL_TIMEOUT_S,
        ).raise_for_status()
        amazon.post(
            "/_sim/notifications/options",
            json={
                "duplicate_share": profile.duplicate_share,
                "reorder_share": profile.reorder_share,
                "seed": seed,
            },
        ).raise_for_status()
        faults_on(box, amazon, seed)

        # The chaos monkey: kills spread over the time the orders take to arrive and settle.
        done = threading.Event()

        restarts: list[float] = []  # of PostgreSQL

        def monkey() -> None:
            while fleet.kills < profile.kills and not done.is_set():
                time.sleep(rng.uniform(2.0, 6.0))
                if done.is_set():
                    return
                try:
                    if len(fleet.workers) > 1 and not fleet.gone and fleet.kills >= profile.kills // 2:
                        victim = fleet.kill_for_good(rng)
                        log(f"killed {victim.name} for good ({fleet.kills}/{profile.kills})")
                        continue
                    if database == "postgresql" and not restarts and fleet.kills >= 2 * profile.kills // 3:
                        log("restarting PostgreSQL")  # while orders still arrive and run
                        if restart_postgresql():
                            restarts.append(time.monotonic())
                        continue
                    if (
                        fleet.web is not None
                        and not fleet.web_kills
                        and fleet.kills >= 3 * profile.kills // 4
                    ):
                        fleet.kill_web(rng)  # ION keeps re-sending its BODs while it is down
                        log("killed and restarted the web process")
                        continue
                    fleet.kill_one(rng)
                    log(f"killed and restarted a worker ({fleet.kills}/{profile.kills})")
                except Exception as exc:  # the driver reports it; the verdict decides
                    log(f"kill failed: {exc}")

        chaos = threading.Thread(target=monkey, name="chaos-monkey", daemon=True)
        chaos.start()

        # Everything at once: each batch brings Amazon orders, some MCF orders entered in M3 and
        # stock changes; settlements close along the way, one marketplace's event group at a time.
        ids: list[str] = []
        numbers: list[str] = []
        marketplaces = list(box.account.marketplaces)
        closes = 0
        batches = -(-profile.orders // profile.batch)
        for index in range(batches):
            batch_seed = seed * 1000 + index + 1
            count = min(profile.batch, profile.orders - len(ids))
            scenario = box.generate(
                count,
                seed=batch_seed,
                duplicate_share=0.0,  # the notification options above duplicate and reorder
                unfit_address_share=profile.unfit_address_share,
            )
            new = list(scenario["order_ids"])
            ids += new
            for order_id in new:
                history.amazon_orders[order_id] = _expected_incidents(box, order_id, unknown)
            clean = [i for i in new if not history.amazon_orders[i]]
            world.cancel([i for i in clean if rng.random() < profile.cancel_share])
            mcf_due = profile.mcf_orders * (index + 1) // batches - profile.mcf_orders * index // batches
            numbers += start_mcf_orders(box, world, catalog, mcf_due, unknown)
            change_stock(box, rng, stocked, warehouse, profile.stock_changes_per_batch)
            if rng.random() < 0.3:
                storm(amazon, 3.0, batch_seed)
            if closes < profile.settlements and index + 1 >= (closes + 1) * batches // (
                profile.settlements + 1
            ):
                closes += _close_settlement(amazon, box, history, marketplaces[closes % len(marketplaces)])
            world.step()
            time.sleep(profile.arrival_s / batches)
        history.mcf_orders = {number: frozenset() for number in numbers}
        log(f"{len(ids)} orders taken by Amazon, {len(numbers)} MCF orders entered in M3")
        while len(history.settlements) < profile.settlements and closes < 4 * profile.settlements:
            for _step in range(6):  # money happens before the next settlement closes
                world.step()
                change_stock(box, rng, stocked, warehouse, 1)
                time.sleep(0.5)
            _close_settlement(amazon, box, history, marketplaces[closes % len(marketplaces)])
            closes += 1
        log(f"{len(history.settlements)} settlements closed; waiting for the monkey ({fleet.kills} kills)")
        while chaos.is_alive():  # the monkey has kills left
            world.step()
            time.sleep(0.5)
        if database == "postgresql" and not restarts:
            raise RuntimeError("could not restart PostgreSQL (pg_ctlcluster)")
        done.set()
        chaos.join()
        faults_off(box, amazon)
        log("faults off; letting the world settle")
        deadline = time.monotonic() + profile.settle_timeout_s
        quiet = 0
        while time.monotonic() < deadline:
            world.step()
            if _settled(box, url, history, catalog, unknown):
                quiet += 1
                if quiet >= 10:  # settled, and stays so while the world moves on
                    break
            else:
                quiet = 0
            time.sleep(0.5)
        final, unconfirmed = _final_state(box, world, url, ids, history, catalog, unknown)
        verdict = check(history, final)
        counters = verdict.as_json(
            database=database,
            orders=len(ids),
            worker_kills=fleet.kills,
            web_process_kills=fleet.web_kills,
            postgresql_restarts=len(restarts),
            seller_shipments_not_confirmed=len(unconfirmed),
            bods_sent=httpx.get(f"{box.m3.url}/_sim/ims", timeout=CONTROL_TIMEOUT_S).json().get("sent", 0),
            elapsed_s=round(time.monotonic() - started, 1),
        )
        if unconfirmed:
            counters["verdict"] = "fail"
            counters["examples"]["seller_shipments_not_confirmed"] = unconfirmed[:10]
        if counters["unexplained_incidents"]:  # what they say, for whoever reads the run
            for row in _active_incidents(url, full=True):
                if (
                    f"{row['category']} about {row['subject']}"
                    in counters["examples"]["unexplained_incidents"]
                ):
                    log(f"incident {row['reason_code']} about {row['subject']}: {str(row['message'])[:300]}")
        if fleet.gone:
            counters.update(_takeover_figures(url, fleet))
            if counters["dead_worker_workflows_pending"]:
                counters["verdict"] = "fail"
        return counters
    finally:
        fleet.stop()
        amazon.close()
        world.close()
        box.stop()


def main() -> int:
    profile_name = os.environ.get("CHAOS_PROFILE", "full")
    profile = PROFILES[profile_name]
    databases = os.environ.get("CHAOS_DATABASES", "sqlite,postgresql").split(",")
    seed = int(os.environ.get("CHAOS_SEED", "7"))
    runs = []
    for database in databases:
        log(f"profile {profile_name} on {database}")
        with tempfile.TemporaryDirectory(prefix=f"m3a-chaos-{database}-") as tmp:
            try:
                with (
                    contextlib.nullcontext(f"sqlite:///{Path(tmp) / 'chaos.sqlite'}")
                    if database == "sqlite"
                    else fresh_pg_database("m3a_chaos")
                ) as url:
                    runs.append(run_once(database, url, profile, seed, Path(tmp)))
            except Exception as exc:
                log(traceback.format_exc())
                runs.append({"database": database, "error": repr(exc), "verdict": "fail"})
            log(json.dumps(runs[-1]))
    verdict = "pass" if all(run["verdict"] == "pass" for run in runs) else "fail"
    totals: dict[str, int] = {}
    for run in runs:
        for key, value in run.items():
            if isinstance(value, int) and key not in ("orders", "elapsed_s"):
                totals[key] = totals.get(key, 0) + value
    print(json.dumps({**totals, "profile": profile_name, "runs": runs, "verdict": verdict}))
    return 0 if verdict == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
