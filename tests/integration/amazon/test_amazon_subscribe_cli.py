"""`m3amazon amazon subscribe` against the simulator and a real SQS protocol server (moto).

The simulated seller starts without subscriptions (auto_subscribe off): changes in the account
send nothing. The command asks SQS for the queue's ARN, creates the destination and the seven
subscriptions; from then on the account's notifications arrive on the queue and parse. A second
run reuses everything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml
from amazon_sim_harness import AmazonSim
from test_amazon_sqs_roundtrip import drain
from typer.testing import CliRunner

from m3amazon.amazon.api.subscribe import PRODUCT_SUBSCRIPTIONS
from m3amazon.amazon.notifications import parse_event
from m3amazon.cli import app
from m3amazon.sim.amazon.notify import SqsPublisher
from m3amazon.sim.amazon.scenario import generate_orders
from m3amazon.sim.amazon.state import SellerAccount
from m3amazon.sim.sqs import SqsServer


def _config(sim: AmazonSim, sqs: SqsServer, queue_url: str, path: Path) -> Path:
    amazon = {
        "endpoint": sim.url,
        "lwa_token_url": sim.url + "/auth/o2/token",
        "ca_bundle": str(sim.tls.ca_cert),
        "lwa_client_id": sim.account.client_id,
        "lwa_client_secret": sim.account.client_secret,
        "refresh_token": sim.account.refresh_token,
        "seller_id": sim.account.seller_id,
        "marketplaces": ["ATVPDKIKX0DER"],
        "sqs": {
            "queue_url": queue_url,
            "endpoint_url": sqs.url,
            "region": sqs.region,
            "access_key_id": "testing",
            "secret_access_key": "testing",
        },
    }
    path.write_text(yaml.safe_dump({"amazon": amazon}), encoding="utf-8")
    return path


def test_subscribe_sets_up_delivery_once(
    start_amazon: Callable[..., AmazonSim], sqs: SqsServer, queue_url: str, tmp_path: Path
) -> None:
    account = SellerAccount(marketplaces=["ATVPDKIKX0DER"], auto_subscribe=False)
    sim = start_amazon(account, publisher=SqsPublisher(sqs.url, queue_url, sqs.region), time_scale=10_000)
    generate_orders(account, 3, seed=31, afn_share=1.0, pending_share=1.0)
    tick = lambda: httpx.post(sim.url + "/_sim/tick", json={}, verify=sim.verify).raise_for_status()  # noqa: E731
    tick()
    assert drain(sqs, queue_url) == []  # nobody subscribed: nothing is sent
    config = _config(sim, sqs, queue_url, tmp_path / "config.yaml")
    runner = CliRunner()

    first = runner.invoke(app, ["amazon", "subscribe", "--config", str(config), "--json"])
    assert first.exit_code == 0, first.output
    created = json.loads(first.stdout)
    assert created["queue_arn"].startswith("arn:aws:sqs:") and created["queue_arn"].endswith(
        queue_url.rsplit("/", 1)[1]
    )
    assert created["destination_created"] is True
    assert {s["notification_type"]: s["action"] for s in created["subscriptions"]} == dict.fromkeys(
        PRODUCT_SUBSCRIPTIONS, "created"
    )

    tick()  # the AFN orders ship now, with subscriptions in place
    bodies = drain(sqs, queue_url)
    events = [parse_event(body) for body in bodies]
    kinds = {n.notification_type for n, _ in events}
    assert {"ORDER_CHANGE", "FBA_OUTBOUND_SHIPMENT_STATUS", "FBA_INVENTORY_AVAILABILITY_CHANGES"} <= kinds
    subscription_ids = {s["subscription_id"] for s in created["subscriptions"]}
    assert all(n.metadata.get("SubscriptionId") in subscription_ids for n, _ in events if n.metadata)

    again = runner.invoke(app, ["amazon", "subscribe", "--config", str(config)])
    assert (
        again.exit_code == 0
        and "reused" in again.stdout
        and "created" not in again.stdout.replace("reused", "")
    )
    assert account.stats()["calls"]["createDestination"] == 1
    assert account.stats()["calls"]["createSubscription"] == len(PRODUCT_SUBSCRIPTIONS)


def test_subscribe_explains_a_failure(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"amazon": {"lwa_client_id": "x", "lwa_client_secret": "y"}}), encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["amazon", "subscribe", "--config", str(config)])
    assert result.exit_code == 1 and "queue_url is not set" in result.stderr
