"""The simulated seller: its marketplaces, catalog, orders, LWA credentials and call counters.

Orders are kept in canonical form and rendered per request (sim/amazon/render.py), with what the
canonical model has no place for (packages, buyer cancellation requests) in `OrderExtras`. The
other parts of the account live in their own modules and are held here: FBA stock
(`inventory.py`), listings (`listings.py`), MCF orders (`mcf.py`), documents behind pre-signed URLs
(`documents.py`), feeds, reports, the finance ledger, notification destinations and subscriptions,
and the outbox of notifications waiting for delivery. The workflows that touch several parts at
once (an AFN order ships: stock, finances, notifications) are in `lifecycle.py`.

Everything is guarded by one re-entrant lock (`account.lock`) because the HTTP server, the
control plane, the ticker and the tests touch the account from different threads; the parts
themselves are not thread-safe and are only used under that lock.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from m3amazon.canonical import Order, OrderStatus
from m3amazon.sim.amazon.documents import DocumentStore
from m3amazon.sim.amazon.feeds import FeedStore
from m3amazon.sim.amazon.finances import FinanceLedger
from m3amazon.sim.amazon.inventory import FbaInventory
from m3amazon.sim.amazon.listings import ListingsBook
from m3amazon.sim.amazon.mcf import FulfillmentOrders
from m3amazon.sim.amazon.outbox import Outbox
from m3amazon.sim.amazon.reports import ReportStore
from m3amazon.sim.amazon.subscriptions import NotificationSetup
from m3amazon.sim.catalog import CatalogItem, build_catalog

DEFAULT_CLIENT_ID = "amzn1.application-oa2-client.m3amazonsim"
DEFAULT_CLIENT_SECRET = "amzn1.oa2-cs.v1.m3amazon-simulator-secret"
DEFAULT_REFRESH_TOKEN = "Atzr|m3amazon-simulator-refresh-token"


class TokenState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    #: A client-credentials token: valid, but only for grantless operations.
    GRANTLESS = "grantless"


@dataclass
class _Issued:
    grant: str
    expires_at: float
    scope: str | None = None


@dataclass
class OrderExtras:
    """What Amazon knows about an order beyond the canonical model."""

    #: Confirmed packages (Orders v2026 `packages` shape, camelCase).
    packages: list[dict[str, Any]] = field(default_factory=list)
    #: Units shipped per orderItemId.
    shipped: dict[str, int] = field(default_factory=dict)
    #: The buyer asked to cancel (MFN orders wait for the seller; AFN orders are cancelled by Amazon).
    buyer_cancel_requested: bool = False
    #: Amazon's FBA shipment id of an AFN order once it shipped.
    fba_shipment_id: str | None = None
    refunded: bool = False


class SellerAccount:
    """One selling partner as the simulator sees it. Thread-safe."""

    def __init__(
        self,
        seller_id: str = "A2SIMSELLER0001",
        marketplaces: Iterable[str] = ("ATVPDKIKX0DER",),
        *,
        catalog: list[CatalogItem] | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        application_id: str = "amzn1.sp.solution.m3amazon-simulator",
        token_ttl_s: int = 3600,
        seed: int = 7,
        auto_subscribe: bool = True,
    ) -> None:
        self.seller_id = seller_id
        self.marketplaces = tuple(marketplaces)
        self.catalog = catalog if catalog is not None else build_catalog()
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.application_id = application_id
        self.token_ttl_s = token_ttl_s
        self._lock = threading.RLock()
        self._orders: dict[str, Order] = {}
        self._calls: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()
        self._tokens: dict[str, _Issued] = {}
        self._tokens_issued: Counter[str] = Counter()
        self._notifications_sent = 0
        self.extras: dict[str, OrderExtras] = {}
        self.inventory = FbaInventory(self.catalog, self.marketplaces, seed=seed)
        self.listings = ListingsBook(self.catalog, self.marketplaces, seed=seed)
        self.mcf = FulfillmentOrders()
        self.documents = DocumentStore()
        self.feeds = FeedStore()
        self.reports = ReportStore()
        self.finances = FinanceLedger()
        self.notification_setup = NotificationSetup()
        self.outbox = Outbox(seed=seed)
        #: Deliver every notification type even without a subscription (the demo's seller is
        #: subscribed already); False delivers only the types subscribed through the API.
        self.auto_subscribe = auto_subscribe

    def __repr__(self) -> str:
        return f"SellerAccount(seller_id={self.seller_id!r}, orders={len(self._orders)})"

    @property
    def lock(self) -> threading.RLock:
        """The account's lock: hold it while using the parts (inventory, listings, ...)."""
        return self._lock

    # -- orders ---------------------------------------------------------------------------
    def add_order(self, order: Order) -> None:
        with self._lock:
            self._orders[order.order_id] = order
            self.extras.setdefault(order.order_id, OrderExtras())

    def order_extras(self, order_id: str) -> OrderExtras:
        with self._lock:
            return self.extras.setdefault(order_id, OrderExtras())

    def get_order(self, order_id: str) -> Order | None:
        with self._lock:
            return self._orders.get(order_id)

    def has_order(self, order_id: str) -> bool:
        with self._lock:
            return order_id in self._orders

    def orders(self) -> list[Order]:
        with self._lock:
            return list(self._orders.values())

    def set_status(self, order_id: str, status: OrderStatus, at: datetime | None = None) -> Order:
        """Move an order to `status` (KeyError if unknown); its lastUpdatedTime becomes `at` (now)."""
        with self._lock:
            order = self._orders[order_id]
            moment = (at or datetime.now(UTC)).replace(microsecond=0)
            updated = order.model_copy(update={"status": status, "updated_at": moment})
            self._orders[order_id] = updated
            return updated

    # -- counters -------------------------------------------------------------------------
    def count_call(self, operation: str) -> None:
        with self._lock:
            self._calls[operation] += 1

    def count_throttled(self, operation: str) -> None:
        with self._lock:
            self._throttled[operation] += 1

    def count_notifications(self, n: int) -> None:
        with self._lock:
            self._notifications_sent += n

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seller_id": self.seller_id,
                "orders": len(self._orders),
                "calls": dict(self._calls),
                "throttled": dict(self._throttled),
                "throttled_total": sum(self._throttled.values()),
                "tokens_issued": sum(self._tokens_issued.values()),
                "tokens_issued_by_grant": dict(self._tokens_issued),
                "notifications_sent": self._notifications_sent,
            }

    # -- LWA tokens -----------------------------------------------------------------------
    def issue_token(self, grant: str, scope: str | None = None) -> tuple[str, int]:
        """A new access token for `grant` ("refresh_token" or "client_credentials", the latter with
        its `scope`) and its lifetime."""
        token = "Atza|" + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = _Issued(grant, time.time() + self.token_ttl_s, scope)
            self._tokens_issued[grant] += 1
        return token, self.token_ttl_s

    def token_scope(self, token: str | None) -> str | None:
        with self._lock:
            issued = self._tokens.get(token or "")
        return issued.scope if issued else None

    def expire_token(self, token: str | None) -> None:
        """Expire one token (what a fault of `expired_token_share` does)."""
        with self._lock:
            issued = self._tokens.get(token or "")
            if issued is not None:
                issued.expires_at = 0.0

    def token_state(self, token: str | None) -> TokenState:
        with self._lock:
            issued = self._tokens.get(token or "")
        if issued is None:
            return TokenState.UNKNOWN
        if time.time() >= issued.expires_at:
            return TokenState.EXPIRED
        return TokenState.GRANTLESS if issued.grant == "client_credentials" else TokenState.VALID

    def expire_tokens(self) -> int:
        """Expire every issued token at once (what an hour of waiting would do). Returns how many."""
        with self._lock:
            for issued in self._tokens.values():
                issued.expires_at = 0.0
            return len(self._tokens)
