"""The simulated world moving on: Amazon ships FBA orders, the seller's warehouse ships from M3.

A `Sandbox` holds the outside systems still; the order-to-cash demo, its end-to-end tests and its
benchmark need them to act as they would in a business day:

- Amazon advances its orders (`/_sim/tick`): FBA orders ship, buyer cancellations take effect,
  each change announced by a notification;
- the seller's warehouse ships the seller-fulfilled orders M3 holds (`/_sim/orders/{orno}/deliver`
  on the M3 simulator), some of them in two parts, with a carrier and a tracking number; M3 then
  reports the delivery and invoices it, and sends SyncShipment and SyncInvoice BODs to our IMS
  endpoint;
- buyers cancel some orders before they ship;
- the web shop's orders are entered in M3 with the MCF order type (`enter_mcf_orders`), Amazon
  ships them from FBA stock (`stock_fba` sets what FBA holds), customer service cancels some in M3
  (`cancel_in_m3`).

All through the simulators' control planes over HTTP, as a test harness outside the product would.
"""

from __future__ import annotations

import random
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx

from m3amazon.canonical import OrderStatus
from m3amazon.sim.sandbox import Sandbox

#: The warehouse the seller ships its own (MFN) orders from in the default settings.
SELLER_WAREHOUSE = "100"
#: The M3 customer of the web shop, whose orders Amazon ships from FBA (Multi-Channel Fulfillment).
WEB_CUSTOMER = "WEBSHOP"
CARRIERS = ("UPS", "DHL", "FedEx", "USPS", "Royal Mail")


@dataclass
class WorldStats:
    amazon_ticks: int = 0
    deliveries: int = 0
    partial_deliveries: int = 0
    cancellations: int = 0
    delivered_orders: set[str] = field(default_factory=set)
    mcf_orders_entered: int = 0


class World:
    def __init__(
        self, sandbox: Sandbox, *, seed: int = 1, partial_share: float = 0.2, ship_delay_steps: int = 2
    ) -> None:
        self.sandbox = sandbox
        self.rng = random.Random(seed)
        self.partial_share = partial_share
        #: A warehouse needs time: an order is shipped this many steps after M3 first had it
        #: (a buyer's cancellation usually arrives before that).
        self.ship_delay_steps = ship_delay_steps
        self._first_seen: dict[str, int] = {}
        self.stats = WorldStats()
        self._partly: set[str] = set()
        verify = ssl.create_default_context(cafile=str(sandbox.tls.ca_cert))
        self._amazon = httpx.Client(base_url=sandbox.amazon.url, verify=verify, timeout=60)
        self._m3 = httpx.Client(base_url=sandbox.m3.url, timeout=60)

    def close(self) -> None:
        self._amazon.close()
        self._m3.close()

    # -- wiring --------------------------------------------------------------------------
    def send_bods_to(self, ims_url: str, token: str) -> None:
        """M3 delivers its BODs (SyncShipment, SyncInvoice, ...) to our IMS endpoint."""
        self._m3.post("/_sim/ims", json={"url": ims_url, "token": token}).raise_for_status()

    # -- what happens --------------------------------------------------------------------
    def cancel(self, order_ids: list[str]) -> int:
        """Buyers cancel these orders (before they ship)."""
        done = 0
        for order_id in order_ids:
            response = self._amazon.post(f"/_sim/orders/{order_id}/buyer-cancel")
            if response.status_code < 300:
                done += 1
        self.stats.cancellations += done
        return done

    # -- Multi-Channel Fulfillment: M3 orders of other channels that Amazon ships ----------
    def ensure_web_customer(self, cuno: str = WEB_CUSTOMER) -> str:
        """The web shop's customer in M3 (the channel MCF orders come from)."""
        self.sandbox.m3_store.add_customer(cuno, "Web shop orders", cucd="USD", cscd="US", town="Seattle")
        return cuno

    def stock_fba(self, skus: list[str], on_hand: int, marketplace: str = "ATVPDKIKX0DER") -> None:
        """FBA holds `on_hand` units of each SKU (0: Amazon cannot ship it)."""
        for sku in skus:
            self._amazon.post(
                "/_sim/inventory", json={"sku": sku, "marketplace": marketplace, "on_hand": on_hand}
            ).raise_for_status()

    def enter_mcf_orders(
        self, count: int, *, items: list[str], order_type: str = "MCF", warehouse: str = "FBA"
    ) -> list[str]:
        """The web shop's orders entered in M3 with an MCF order type: their order numbers."""
        cuno = self.ensure_web_customer()
        numbers = []
        for n in range(count):
            lines = [
                {"itno": itno, "quantity": self.rng.randint(1, 3), "price": "19.90"}
                for itno in self.rng.sample(items, min(len(items), self.rng.randint(1, 2)))
            ]
            spec = {
                "cuno": cuno,
                "ortp": order_type,
                "whlo": warehouse,
                "cuor": f"WEB-{self.rng.randrange(10**8):08d}-{n}",
                "address": {
                    "CUNM": f"Web Buyer {n}",
                    "CUA1": f"{100 + n} Pine Street",
                    "TOWN": "Seattle",
                    "PONO": "98101",
                    "ECAR": "WA",
                    "CSCD": "US",
                },
                "lines": lines,
            }
            response = self._m3.post("/_sim/orders", json=spec)
            response.raise_for_status()
            numbers.append(str(response.json()["orno"]))
        self.stats.mcf_orders_entered += len(numbers)
        return numbers

    def cancel_in_m3(self, orno: str) -> list[int]:
        """Customer service cancels an M3 order: its open lines are closed."""
        response = self._m3.post(f"/_sim/orders/{orno}/cancel")
        response.raise_for_status()
        return list(response.json()["closed"])

    def step(self) -> dict[str, Any]:
        """Amazon moves its orders one step; the warehouse ships what M3 holds for the seller."""
        moved = self.tick_amazon()
        shipped = self._ship_seller_orders()
        return {"amazon": moved, "warehouse_deliveries": shipped}

    def tick_amazon(self) -> dict[str, Any]:
        """Only Amazon moves (FBA orders ship, requested cancellations take effect)."""
        moved = self._amazon.post("/_sim/tick", json={"steps": 1})
        moved.raise_for_status()
        self.stats.amazon_ticks += 1
        return dict(moved.json())

    def _cancel_pending(self, order_id: str) -> bool:
        """Sellers must not ship what the buyer asked to cancel (Amazon shows the request in Seller
        Central); the warehouse holds such orders until the integration has closed them in M3."""
        order = self.sandbox.account.get_order(order_id)
        if order is None:
            return False
        extras = self.sandbox.account.order_extras(order_id)
        return order.status is OrderStatus.CANCELLED or bool(extras.buyer_cancel_requested)

    def _ship_seller_orders(self) -> int:
        orders = self._m3.get("/_sim/orders").json()
        shipped = 0
        for order in orders:
            if order.get("whlo") != SELLER_WAREHOUSE or order["orno"] in self.stats.delivered_orders:
                continue
            seen = self._first_seen.setdefault(order["orno"], self.stats.amazon_ticks)
            if self.stats.amazon_ticks - seen < self.ship_delay_steps or self._cancel_pending(order["cuor"]):
                continue
            lines = [
                ln for ln in order.get("lines", []) if ln.get("orst", "") < "66" and ln.get("orst") != "99"
            ]
            if not lines:
                continue
            body: dict[str, Any] = {
                "carrier": self.rng.choice(CARRIERS),
                "tracking": f"1Z{self.rng.randrange(10**12):012d}",
            }
            if (
                len(lines) > 1
                and order["orno"] not in self._partly
                and self.rng.random() < self.partial_share
            ):
                body["lines"] = [{"ponr": lines[0]["ponr"]}]  # ship one line now, the rest later
                self._partly.add(order["orno"])
                self.stats.partial_deliveries += 1
            response = self._m3.post(f"/_sim/orders/{order['orno']}/deliver", json=body)
            if response.status_code >= 300:
                continue  # not allocated yet (status 22): the warehouse tries again next step
            shipped += 1
            self.stats.deliveries += 1
            if "lines" not in body:
                self.stats.delivered_orders.add(order["orno"])
        return shipped
