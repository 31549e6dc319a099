"""Look up what an order needs from M3 before it is translated: its customer and its items.

Business rules live here (which customer stands for an order, where a SKU's item number comes
from); the M3 edge only answers questions. Positive answers are cached for a few minutes because
thousands of orders share a handful of customers and SKUs; negative answers are never cached, so
an alias an operator adds is seen by the next retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from m3amazon.canonical import Order
from m3amazon.m3 import lifecycle
from m3amazon.m3 import orders as m3_orders
from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import MIError
from m3amazon.m3.translate import ItemRef, References
from m3amazon.mapping import Mappings
from m3amazon.mapping.suggestions import SkuMatcher
from m3amazon.mapping.tables import CustomerPolicy

log = logging.getLogger(__name__)

CACHE_TTL_S = 300.0


class _TTLCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._data: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: Any, value: Any) -> None:
        self._data[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._data.clear()


_customers = _TTLCache(CACHE_TTL_S)
_items = _TTLCache(CACHE_TTL_S)


def clear_caches() -> None:
    global _matcher
    _customers.clear()
    _items.clear()
    _matcher = None


def customer_for(order: Order, mappings: Mappings) -> str | None:
    """The M3 customer number that stands for the order under the configured policy (no I/O)."""
    if mappings.customers.policy is CustomerPolicy.PER_BUYER:
        if order.buyer is None or order.ship_to is None:
            return None
        return lifecycle.buyer_customer_number(order.buyer, order.ship_to, mappings.customers.buyer_prefix)
    return mappings.customers.per_marketplace.get(order.marketplace_id)


async def _customer_exists(client: MIClient, cuno: str) -> bool:
    if _customers.get(cuno):
        return True
    found = await m3_orders.get_customer(client, cuno) is not None
    if found:
        _customers.put(cuno, True)
    return found


async def _item_ref(client: MIClient, sku: str, mappings: Mappings) -> ItemRef:
    cached = _items.get((sku, mappings.version))
    if cached is not None:
        return cached
    itno = await m3_orders.item_for_alias(
        client, sku, mappings.items.alias_category, mappings.items.alias_qualifier
    )
    source = "alias"
    if itno is None:
        itno, source = mappings.items.sku_to_item.get(sku), "table"
    if itno is None:
        return ItemRef(sku=sku)
    item = await m3_orders.get_item(client, itno)
    if item is None:
        return ItemRef(sku=sku)
    ref = ItemRef(sku=sku, item_number=itno, status=item.get("STAT"), source=source)
    _items.put((sku, mappings.version), ref)
    return ref


async def resolve(order: Order, client: MIClient, mappings: Mappings) -> References:
    if mappings.customers.policy is CustomerPolicy.PER_BUYER and order.buyer and order.ship_to:
        # One M3 customer per buyer: looked up, created from the template when new (idempotent).
        await lifecycle.ensure_buyer_customer(
            client,
            order.buyer,
            order.ship_to,
            template=mappings.customers.buyer_template,
            prefix=mappings.customers.buyer_prefix,
        )
    cuno = customer_for(order, mappings)
    skus = sorted({line.sku for line in order.lines if line.quantity > 0})
    exists_task: Awaitable[bool] = _customer_exists(client, cuno) if cuno else asyncio.sleep(0, result=False)
    exists = await exists_task
    refs: list[ItemRef] = list(await asyncio.gather(*(_item_ref(client, sku, mappings) for sku in skus)))
    return References(customer=cuno, customer_exists=bool(exists), items={r.sku: r for r in refs})


# -- SKU suggestions ------------------------------------------------------------------------

#: Rebuild the catalog the suggestions come from at most this often.
CATALOG_TTL_S = 900.0
_matcher: tuple[float, SkuMatcher] | None = None


async def _matcher_now(client: MIClient, mappings: Mappings) -> SkuMatcher:
    global _matcher
    if _matcher is None or _matcher[0] < time.monotonic():
        candidates = await lifecycle.list_item_candidates(client)
        _matcher = (time.monotonic() + CATALOG_TTL_S, SkuMatcher(candidates))
    return _matcher[1]


async def suggestions_for(sku: str, title: str | None, limit: int = 3) -> list[dict[str, object]]:
    """The M3 items an unknown SKU most likely is, best first, JSON-ready for the incident."""
    from m3amazon.bootstrap import runtime

    rt = runtime()
    try:
        matcher = await _matcher_now(rt.m3, rt.mappings)
    except MIError as exc:  # suggestions help, they are not needed: the incident goes out anyway
        log.warning("no SKU suggestions for %s: %s", sku, exc)
        return []
    return [
        {
            "item_number": s.item_number,
            "name": s.name,
            "score": s.score,
            "matched_on": s.matched_on,
            "matched_text": s.matched_text,
        }
        for s in matcher.suggest(sku, title, limit)
    ]
