"""`m3amazon demo --orders 100 --duplicate-share 0.2 --exit --json`: the README's promise, as a process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_creates_every_order_once(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "m3amazon",
        "demo",
        "--orders",
        "100",
        "--duplicate-share",
        "0.2",
        "--exit",
        "--json",
        "--port",
        str(_free_port()),
        "--workdir",
        str(tmp_path / "demo"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["orders_generated"] == 100
    assert "one-time login: demo / " in done.stderr  # the console's login for this run
    assert summary["m3_orders_created"] == 100
    assert summary["m3_duplicate_orders"] == 0
    assert summary["incidents"] == 0
    # Inventory: every catalog SKU got its quantity from M3's stock, and Amazon ends as M3 says.
    assert summary["inventory_skus_pushed"] == 40
    assert summary["inventory_skus_out_of_sync"] == 0
    # MCF: the web shop's orders in M3 were shipped by Amazon from FBA and delivered in M3.
    assert summary["mcf_orders_created"] == 5
    assert summary["mcf_orders_delivered_in_m3"] == 5
    assert summary["notifications_sent"] > 100  # a fifth of them went out twice
    assert summary["duplicate_notifications"] == summary["notifications_sent"] - 100
    for key in (
        "orders_generated",
        "notifications_sent",
        "m3_orders_created",
        "m3_duplicate_orders",
        "incidents",
        "elapsed_s",
    ):
        assert key in summary


def test_demo_with_injected_faults_accounts_for_every_order(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "m3amazon",
        "demo",
        "--orders",
        "60",
        "--unknown-skus",
        "2",
        "--unfit-address-share",
        "0.05",
        "--cancel-share",
        "0.1",
        "--exit",
        "--json",
        "--port",
        str(_free_port()),
        "--workdir",
        str(tmp_path / "demo"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["complete"] and summary["m3_duplicate_orders"] == 0
    faults = summary["faults_injected_by_category"]
    assert faults.get("sku_unknown", 0) > 0 and faults.get("address_invalid", 0) > 0
    assert summary["incidents_by_category"] == faults  # every incident explained by an injected fault
    assert summary["orders_cancelled"] == 6
    outcomes = summary["outcomes"]
    assert sum(outcomes.values()) == 60
    assert outcomes["invoiced"] + outcomes["cancelled"] + outcomes["incident"] == 60
    assert summary["shipments_confirmed_on_amazon"] > 0
