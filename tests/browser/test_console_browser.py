"""The operations console in a real browser (Playwright driving Debian's chromium) on the running product.

Amazon takes orders for two SKUs M3 does not know, and some with addresses too long for M3. The
service (engine, SQS intake, web) runs in a thread of this process against the loopback
simulators. An operator, in the browser:

1. logs in and reads the dashboard;
2. accepts a SKU suggestion on the SKU review page and sees the orders waiting on it complete;
3. opens an incident whose SKU was since fixed in M3, retries it and watches it resolve;
4. discards an address incident with a reason and finds it in the audit log.

Screenshots of each step are written to var/artifacts/browser/. Needs chromium at /usr/bin/chromium
(`apt-get install -y chromium`) and the `playwright` package (the dev extra); never
`playwright install`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from m3a_testenv import require
from m3amazon import bootstrap
from m3amazon.config import M3Settings
from m3amazon.flows import references
from m3amazon.m3.client import MIClient
from m3amazon.m3.lifecycle import ensure_alias
from m3amazon.ops import incidents, trail, users, views
from m3amazon.sim.catalog import build_catalog
from m3amazon.sim.product import running_product
from m3amazon.sim.sandbox import M3_PASSWORD, M3_USER, Sandbox

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("M3AMAZON_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "browser"
ORDERS = 24
CATALOG = build_catalog(size=6)
#: M3 has no item and no alias for these two SKUs.
SKU_ACCEPTED, SKU_FIXED_IN_M3 = CATALOG[0].sku, CATALOG[1].sku
USER, PASSWORD = "olivia", "operator password 1"
WAIT_S = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


class RunningProduct:
    """The service on its own event loop in a thread (Playwright's sync API wants this thread's)."""

    def __init__(self, box: Sandbox, database_url: str, port: int) -> None:
        self.box, self.database_url, self.port = box, database_url, port
        self.url = f"http://127.0.0.1:{port}"
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.rt: bootstrap.Runtime | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="product", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_product(
            self.box, self.database_url, web_port=self.port, executor_id="browser-test"
        ) as rt:
            self.rt = rt
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> RunningProduct:
        self._thread.start()
        assert self._ready.wait(90), "the product did not start"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *_: Any) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the product's loop (this thread's loop belongs to Playwright)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    @property
    def engine(self) -> Any:
        assert self.rt is not None
        return self.rt.engine


@pytest.fixture
def chromium_path() -> str:
    try:
        import playwright  # noqa: F401
    except ImportError:
        require(False, "the playwright package is missing", "install the dev extra: pip install -e '.[dev]'")
    require(
        Path(CHROMIUM).is_file() or shutil.which(CHROMIUM) is not None,
        f"chromium is not installed at {CHROMIUM}",
        "install it with `apt-get install -y chromium` (or set M3AMAZON_CHROMIUM) to run the browser tests",
    )
    return CHROMIUM


@pytest.fixture
def product(tmp_path: Path) -> Iterator[RunningProduct]:
    box = Sandbox.start(
        tmp_path / "sandbox",
        catalog_size=len(CATALOG),
        marketplaces=("ATVPDKIKX0DER",),
        m3_unknown_skus=(SKU_ACCEPTED, SKU_FIXED_IN_M3),
    )
    references.clear_caches()
    try:
        with RunningProduct(box, f"sqlite:///{tmp_path / 'console.sqlite'}", _free_port()) as running:
            users.add_user(running.engine, USER, PASSWORD, "operator")
            box.generate(ORDERS, seed=5, unfit_address_share=0.15)
            _until(
                lambda: sum(trail.outcome_counts(running.engine).values()) >= ORDERS,
                "every order to have an outcome",
            )
            yield running
    finally:
        box.stop()


def _unknown_skus(row: dict[str, Any]) -> set[str]:
    return {p["sku"] for p in views.problems(row) if p.get("reason_code") == "UNKNOWN_SKU"}


def _outcome(engine: Any, order_id: str) -> str | None:
    return (trail.get(engine, order_id) or {}).get("outcome")


async def _add_alias(box: Sandbox, sku: str, itno: str) -> None:
    async with MIClient(M3Settings(base_url=box.m3.url, username=M3_USER, password=M3_PASSWORD)) as client:
        assert await ensure_alias(client, sku, itno, "03", "AMZN")


def test_an_operator_resolves_incidents_in_the_console(chromium_path: str, product: RunningProduct) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    engine = product.engine
    unfit_orders = {r["subject"] for r in incidents.list_incidents(engine, category="address_invalid")}
    waiting = incidents.list_incidents(engine, category="sku_unknown")
    on_accepted = {
        r["subject"]
        for r in waiting
        if _unknown_skus(r) == {SKU_ACCEPTED} and r["subject"] not in unfit_orders
    }
    assert on_accepted, [(_unknown_skus(r), r["subject"]) for r in waiting]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=product.url)
        page.set_default_timeout(30_000)
        try:
            # 1. Log in; the dashboard shows what flows and what is stuck.
            page.goto("/")
            expect(page).to_have_url(re.compile(r"/login\?next="))
            page.fill("input[name=username]", USER)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("Dashboard")
            open_now = incidents.count_incidents(engine, status="open")
            expect(page.locator("#open-incidents b")).to_have_text(str(open_now))
            expect(page.locator("#incidents-by-age")).to_contain_text("sku_unknown")
            expect(page.locator("svg.chart rect").first).to_be_attached()
            page.screenshot(path=str(ARTIFACTS / "1-dashboard.png"), full_page=True)

            # 2. SKU review: accept the top suggestion; the orders waiting only on it complete.
            page.click("text=SKU review")
            section = page.locator("section.sku", has_text=SKU_ACCEPTED)
            page.screenshot(path=str(ARTIFACTS / "2-sku-review.png"), full_page=True)
            section.locator("form button").first.click()
            expect(page.locator(".flash")).to_contain_text("queued for a retry")
            _until(
                lambda: all(_outcome(engine, o) == "created" for o in on_accepted),
                "the orders waiting on the accepted SKU to be created in M3",
            )
            first = sorted(on_accepted)[0]
            page.goto(f"/orders/{first}")
            expect(page.locator("#trail")).to_contain_text("created")
            expect(page.locator("#timeline")).to_contain_text("mapped to M3 item")
            page.screenshot(path=str(ARTIFACTS / "3-order-completed.png"), full_page=True)

            # 3. The other SKU is fixed in M3 by hand; retry its incident and watch it resolve.
            product.call(_add_alias(product.box, SKU_FIXED_IN_M3, CATALOG[2].item_number))
            target = _until(
                lambda: next(
                    (
                        r
                        for r in incidents.list_incidents(engine, category="sku_unknown")
                        if _unknown_skus(r) == {SKU_FIXED_IN_M3} and r["subject"] not in unfit_orders
                    ),
                    None,
                ),
                "an incident waiting only on the SKU fixed in M3",
            )
            page.goto("/incidents")
            page.click(f"a[href='/incidents/{target['id']}']")
            expect(page.locator("#incident-status")).to_have_text("open")
            expect(page.locator("#payload")).to_contain_text('"***"')  # personal data masked
            page.screenshot(path=str(ARTIFACTS / "4-incident.png"), full_page=True)
            page.click("#retry-form button")
            expect(page.locator(".flash")).to_contain_text("queued for a retry")
            expect(page.locator("#incident-status")).to_have_text("resolved", timeout=WAIT_S * 1000)
            page.screenshot(path=str(ARTIFACTS / "5-incident-resolved.png"), full_page=True)

            # 4. Discard an address incident with a reason; the audit log has it.
            unfit = next(r for r in incidents.list_incidents(engine, category="address_invalid"))
            page.goto(f"/incidents/{unfit['id']}")
            reason = "address corrected with the buyer; order entered by hand"
            page.fill("#discard-form textarea[name=reason]", reason)
            page.click("#discard-form button")
            expect(page.locator(".flash")).to_have_text("Discarded.")
            expect(page.locator("#incident-status")).to_have_text("discarded")
            page.click("text=Audit log")
            row = page.locator("#audit tr", has_text=f"incident:{unfit['id']}")
            expect(row).to_contain_text(reason)
            expect(row).to_contain_text(USER)
            expect(row).to_contain_text("discard")
            page.screenshot(path=str(ARTIFACTS / "6-audit-log.png"), full_page=True)
            assert PASSWORD not in page.content()
        finally:
            browser.close()
