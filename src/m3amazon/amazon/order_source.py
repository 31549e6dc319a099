"""Where the order flow gets its orders: getOrder one at a time, or searchOrders 100 at a time.

Why: the two Orders v2026-01-01 reads have separate usage plans. getOrder refills at 0.5 orders per
second (burst 30); searchOrders only at one call per three minutes (burst 20), but one call returns
up to 100 orders. Reading a backlog with getOrder alone leaves more than half of what Amazon allows
unused (1,800 + 2,016 orders per hour, plus 30 + 2,000 at once). `OrderSource.get` lets the flow
ask for "order X as of its change at T" and decides how to serve it:

- **Coalescing.** Requests for the same order share one fetch: a waiting request, or a getOrder
  already on its way that left after the change.
- **Two ends of one backlog.** When more changes wait than the getOrder bucket can serve at once
  (with the tokens it holds now) and at least `search_min_batch` of them are old enough for
  searchOrders to see (Amazon indexes changes with a two-minute lag), one searchOrders page
  (`lastUpdatedAfter` = the oldest waiting change minus `search_overlap_s`) serves up to 100 of
  them, oldest first, while getOrder serves the newest. The two never compete for the same orders.
- **Never older than the change.** An order found by search serves a request only when its
  `lastUpdatedTime` is at least the change's time; otherwise (or when a search that covered it did
  not return it) the request falls back to getOrder. A request without a change time always goes
  to getOrder.
- **Fetching ahead.** With a bounded number of workflows running, few requests wait at once. The
  dispatcher therefore announces queued changes (`expect`), which searches serve into a small cache
  (`prefetch_ttl_s`, `prefetch_max`) that `get` takes from. The catch-up poll `offer`s the orders it
  has just read, so their workflows do not read them again.

All of this runs on one event loop (the engine's); the rate governor underneath keeps every call
inside the usage plans.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from m3amazon.amazon.errors import AmazonApiError
from m3amazon.amazon.gateway import GET_ORDER, SEARCH_ORDERS, AmazonGateway, OrdersPage
from m3amazon.canonical import Order
from m3amazon.config import OrderSourceSettings

log = logging.getLogger(__name__)

#: getOrder calls are started for the tokens available now plus those arriving within this time;
#: the rest of the waiting requests stay available to a searchOrders page.
DISPATCH_HORIZON_S = 0.5
#: A request joins a getOrder call on its way only if the call left this long after the change
#: (Amazon's clock and ours differ; change times come in whole seconds or milliseconds).
IN_FLIGHT_MARGIN = timedelta(seconds=2)
#: After a failed searchOrders call, searches rest this long (getOrder serves meanwhile).
SEARCH_PAUSE_S = 30.0
#: Amazon's largest page, and the most marketplaces one search may name.
PAGE_SIZE = 100
MAX_MARKETPLACES = 50


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Want:
    """An order someone waits for (`future`), or that a queued change will ask for (announced)."""

    order_id: str
    #: The newest change the order must reflect (None: unknown, so only getOrder can serve it).
    changed_at: datetime | None
    marketplace_id: str | None
    since: float
    future: asyncio.Future[Order] | None = None
    #: A search that should have served it did not: getOrder's turn.
    search_missed: bool = False
    #: Part of the batch of the searchOrders call in flight.
    searching: bool = False
    #: Fetched by getOrder before anyone asked (announced): the order goes to the cache.
    ahead: bool = False

    @property
    def active(self) -> bool:
        return self.future is not None

    def searchable(self, horizon: datetime) -> bool:
        return self.changed_at is not None and not self.search_missed and self.changed_at <= horizon


@dataclass(frozen=True)
class _Continuation:
    """The rest of the last search, when its page was full: same filters, next token."""

    after: datetime
    before: datetime
    marketplaces: tuple[str, ...]
    token: str
    covered: datetime


@dataclass
class OrderSourceStats:
    requests: int = 0
    #: Requests that joined another request's fetch.
    coalesced: int = 0
    #: Requests served from orders fetched ahead (search pages for announced changes, the poll).
    prefetched: int = 0
    by_get_order: int = 0
    #: Orders a searchOrders page delivered to a waiting or announced change.
    by_search: int = 0
    search_pages: int = 0
    #: Changes a search should have served but did not (not yet indexed, or stale): getOrder then.
    search_misses: int = 0
    announced: int = 0
    #: Announced changes read by getOrder while it had tokens to spare (newest first).
    fetched_ahead: int = 0
    errors: int = 0


@dataclass(order=True)
class _Queued:
    priority: tuple[int, float]
    seq: int
    want: _Want = field(compare=False)


class OrderSource:
    """Canonical orders for the order flow, read with as few SP-API calls as the plans allow."""

    def __init__(
        self,
        gateway: AmazonGateway,
        settings: OrderSourceSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.gateway = gateway
        self.settings = settings or gateway.settings.order_source
        self.stats = OrderSourceStats()
        self._clock = clock
        self._now = now
        self._wants: dict[str, _Want] = {}
        self._get_queue: list[_Queued] = []
        #: Announced changes getOrder may read ahead when no request waits for it, newest first.
        self._ahead_queue: list[_Queued] = []
        self._seq = itertools.count()
        self._announced: deque[_Want] = deque()
        #: getOrder calls on their way: order id -> (future, when the call left).
        self._fetching: dict[str, tuple[asyncio.Future[Order], datetime]] = {}
        self._cache: OrderedDict[str, tuple[Order, float]] = OrderedDict()
        self._search: asyncio.Task[None] | None = None
        self._search_rest_until = 0.0
        self._continuation: _Continuation | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"OrderSource(waiting={len(self._wants)}, fetching={len(self._fetching)})"

    # -- what the flow and the intake use ---------------------------------------------------
    async def get(
        self, order_id: str, changed_at: datetime | None = None, marketplace_id: str | None = None
    ) -> Order:
        """The order, at least as new as the change at `changed_at` (None: as Amazon has it now).

        Raises what `AmazonGateway.get_order` raises (NotFound, Throttled, AmazonTranslationError...).
        """
        self.stats.requests += 1
        flight = self._fetching.get(order_id)
        if flight is not None and changed_at is not None and flight[1] >= changed_at + IN_FLIGHT_MARGIN:
            self.stats.coalesced += 1
            return await asyncio.shield(flight[0])
        cached = self._take_cached(order_id, changed_at)
        if cached is not None:
            self.stats.prefetched += 1
            return cached
        want = self._wants.get(order_id)
        if want is None:
            want = self._wants[order_id] = _Want(order_id, changed_at, marketplace_id, self._clock())
        else:
            if want.active:
                self.stats.coalesced += 1
            # The strictest wins: no change time means only a getOrder made now will do.
            if changed_at is None or (want.active and want.changed_at is None):
                want.changed_at = None
            else:
                want.changed_at = _later(want.changed_at, changed_at)
            want.marketplace_id = want.marketplace_id or marketplace_id
        if want.future is None:
            want.future = asyncio.get_running_loop().create_future()
            self._queue_for_get(want)
        future = want.future
        self._kick()
        return await asyncio.shield(future)

    def expect(self, order_id: str, changed_at: datetime | None, marketplace_id: str | None = None) -> None:
        """A change of `order_id` is queued: its workflow will ask for it. Searches may fetch it ahead."""
        if not self.settings.search or changed_at is None or self.settings.prefetch_max == 0:
            return
        cached = self._cache.get(order_id)
        if cached is not None and cached[0].updated_at >= changed_at:
            return
        want = self._wants.get(order_id)
        if want is not None:
            if want.changed_at is not None:
                want.changed_at = _later(want.changed_at, changed_at)
            return
        if len(self._wants) >= self.settings.prefetch_max:
            return
        want = self._wants[order_id] = _Want(order_id, changed_at, marketplace_id, self._clock())
        self._announced.append(want)
        heapq.heappush(self._ahead_queue, _Queued((1, -changed_at.timestamp()), next(self._seq), want))
        self.stats.announced += 1
        self._kick()

    def offer(self, order: Order) -> None:
        """An order read elsewhere (the poll's search): serve waiting requests and keep it for the rest."""
        want = self._wants.get(order.order_id)
        if want is not None and want.changed_at is not None and order.updated_at >= want.changed_at:
            self._deliver(want, order)
        else:
            self._keep(order)

    async def aclose(self) -> None:
        """Stop the dispatcher and every fetch it started (waiting requests get CancelledError)."""
        tasks = [t for t in (self._runner, self._search, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for want in self._wants.values():
            if want.future is not None and not want.future.done():
                want.future.cancel()
        self._wants.clear()
        self._runner = None

    # -- the dispatcher ---------------------------------------------------------------------
    def _kick(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="order-source")
        self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                delay = self._dispatch()
            except Exception:  # a bug here must not strand every waiting workflow
                log.exception("order source dispatcher failed; retrying in a second")
                delay = 1.0
            if delay is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(delay, 0.001))

    def _dispatch(self) -> float | None:
        """Start what can start now; return when to look again (None: when something changes)."""
        self._expire()
        delays: list[float] = []
        search_delay = self._maybe_search()
        if search_delay is not None:
            delays.append(search_delay)
        get_delay = self._start_gets()
        if get_delay is not None:
            delays.append(get_delay)
        return min(delays) if delays else None

    def _maybe_search(self) -> float | None:
        if not self.settings.search or self._search is not None or not self._wants:
            return None
        now = self._clock()
        if now < self._search_rest_until:
            return self._search_rest_until - now
        horizon = self._now() - timedelta(seconds=self.settings.search_lag_s)
        candidates = [w for w in self._wants.values() if w.searchable(horizon)]
        if len(candidates) < self.settings.search_min_batch:
            return None
        seller = self.gateway.seller_key
        get_bucket = self.gateway.governor.estimate(seller, GET_ORDER)
        # What getOrder cannot serve at once, with the tokens its bucket holds now (the rest waits
        # for refills at 0.5/s, while one search serves up to 100). Its tokens go first to what
        # search cannot serve (changes too young for the index, misses).
        at_once = get_bucket.tokens - len(self._fetching) - (len(self._wants) - len(candidates))
        if len(candidates) - max(0.0, at_once) < self.settings.search_min_batch:
            return None
        search_bucket = self.gateway.governor.estimate(seller, SEARCH_ORDERS)
        if search_bucket.tokens < 1:  # never make waiting requests wait for a search token
            return (1 - search_bucket.tokens) / search_bucket.rate if search_bucket.rate > 0 else None
        candidates.sort(key=lambda w: (w.changed_at, w.order_id))
        batch = candidates[:PAGE_SIZE]
        for want in batch:
            want.searching = True
        self._search = asyncio.get_running_loop().create_task(self._run_search(batch), name="order-search")
        return None

    def _start_gets(self) -> float | None:
        bucket = self.gateway.governor.estimate(self.gateway.seller_key, GET_ORDER)
        allowed = max(1, math.floor(bucket.tokens) + math.ceil(bucket.rate * DISPATCH_HORIZON_S))
        later: list[_Queued] = []
        while self._get_queue and len(self._fetching) < allowed:
            queued = heapq.heappop(self._get_queue)
            want = queued.want
            if self._wants.get(want.order_id) is not want or want.searching or not want.active:
                continue  # served meanwhile, or in a search's batch (it comes back if missed)
            if want.order_id in self._fetching:  # the call on its way left before this change
                later.append(queued)
                continue
            del self._wants[want.order_id]
            assert want.future is not None
            self._fetching[want.order_id] = (want.future, self._now())
            self._start(self._fetch(want))
        for queued in later:
            heapq.heappush(self._get_queue, queued)
        if self._get_queue and len(self._fetching) >= allowed:
            return 1 / bucket.rate if bucket.rate > 0 else None
        self._start_ahead(allowed)
        return None

    def _start_ahead(self, allowed: int) -> None:
        """Tokens nobody waits for: read announced changes, newest first (a search works from the
        oldest), into the cache. A request arriving meanwhile joins the call on its way."""
        while self._ahead_queue and len(self._fetching) < allowed:
            want = heapq.heappop(self._ahead_queue).want
            current = self._wants.get(want.order_id) is want
            if not current or want.searching or want.active or want.order_id in self._fetching:
                continue
            del self._wants[want.order_id]
            want.ahead = True
            want.future = asyncio.get_running_loop().create_future()
            want.future.add_done_callback(_seen)  # nobody may await it: mark its error as seen
            self._fetching[want.order_id] = (want.future, self._now())
            self.stats.fetched_ahead += 1
            self._start(self._fetch(want))

    def _start(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, want: _Want) -> None:
        """One getOrder for `want` (already registered in `_fetching` by the dispatcher)."""
        assert want.future is not None
        future = want.future
        try:
            order = await self.gateway.get_order(want.order_id)
        except asyncio.CancelledError:
            if not future.done():
                future.cancel()
            raise
        except Exception as exc:  # typed edge errors go to every waiter of this order
            self.stats.errors += 1
            if not future.done():
                future.set_exception(exc)
        else:
            self.stats.by_get_order += 1
            if want.ahead:
                self._keep(order)
            if not future.done():
                future.set_result(order)
        finally:
            if self._fetching.get(want.order_id, (None,))[0] is future:
                del self._fetching[want.order_id]
            self._kick()

    async def _run_search(self, batch: list[_Want]) -> None:
        try:
            page, after, before, marketplaces = await self._search_page(batch)
        except AmazonApiError as exc:
            log.warning("searchOrders failed (%s); getOrder serves alone for %.0f s", exc, SEARCH_PAUSE_S)
            self._search_rest_until = self._clock() + SEARCH_PAUSE_S
            self._continuation = None
            return
        except Exception:
            log.exception("searchOrders failed unexpectedly; getOrder serves alone for a while")
            self._search_rest_until = self._clock() + SEARCH_PAUSE_S
            self._continuation = None
            return
        finally:
            for want in batch:
                want.searching = False
                if self._wants.get(want.order_id) is want and want.active:
                    self._queue_for_get(want)
            self._search = None
            self._kick()
        self.stats.search_pages += 1
        self._apply_page(page, batch, after, before, marketplaces)

    async def _search_page(
        self, batch: list[_Want]
    ) -> tuple[OrdersPage, datetime, datetime, tuple[str, ...]]:
        """One searchOrders call for `batch`: the continuation of the last full page when it still
        covers the batch's oldest change, else a new search from it."""
        oldest = batch[0].changed_at
        assert oldest is not None
        overlap = timedelta(seconds=self.settings.search_overlap_s)
        again = self._continuation
        # Continue the last full page when a new search from the oldest change would read again
        # what that page already covered.
        if again is not None and again.covered <= oldest <= again.before and oldest - overlap < again.covered:
            self._continuation = None
            page = await self.gateway.search_orders(
                last_updated_after=again.after,
                last_updated_before=again.before,
                marketplace_ids=list(again.marketplaces),
                next_token=again.token,
                max_results=PAGE_SIZE,
            )
            return page, again.after, again.before, again.marketplaces
        after = oldest - overlap
        before = self._now() - timedelta(seconds=self.settings.search_lag_s)
        marketplaces = tuple(
            dict.fromkeys(
                [*self.gateway.settings.marketplaces, *(w.marketplace_id for w in batch if w.marketplace_id)]
            )
        )[:MAX_MARKETPLACES]
        page = await self.gateway.search_orders(
            last_updated_after=after,
            last_updated_before=before,
            marketplace_ids=list(marketplaces),
            max_results=PAGE_SIZE,
        )
        return page, after, before, marketplaces

    def _apply_page(
        self,
        page: OrdersPage,
        batch: list[_Want],
        after: datetime,
        before: datetime,
        marketplaces: tuple[str, ...],
    ) -> None:
        for order in page.orders:
            want = self._wants.get(order.order_id)
            if want is None or want.changed_at is None:
                continue
            if order.updated_at >= want.changed_at:
                self.stats.by_search += 1
                self._deliver(want, order)
            else:
                self._missed(want)  # Amazon's index has not caught up with this change yet
        for rejected in page.rejected:  # getOrder will report the translation problem to the flow
            want = self._wants.get(rejected.order_id or "")
            if want is not None:
                self._missed(want)
        if page.next_token and page.orders:
            covered = page.orders[-1].updated_at
            self._continuation = _Continuation(after, before, marketplaces, page.next_token, covered)
        else:
            covered, self._continuation = before, None
        complete = page.next_token is None
        for want in batch:  # what the page covered but did not return
            if self._wants.get(want.order_id) is not want or want.changed_at is None:
                continue
            if complete or want.changed_at < covered:
                self._missed(want)

    # -- bookkeeping ------------------------------------------------------------------------
    def _deliver(self, want: _Want, order: Order) -> None:
        if self._wants.get(want.order_id) is want:
            del self._wants[want.order_id]
        if want.future is not None:
            if not want.future.done():
                want.future.set_result(order)
        else:
            self._keep(order)

    def _missed(self, want: _Want) -> None:
        if want.search_missed:
            return
        want.search_missed = True
        self.stats.search_misses += 1
        if want.active:
            self._queue_for_get(want)
        elif self._wants.get(want.order_id) is want:
            del self._wants[want.order_id]  # its workflow will read it with getOrder

    def _queue_for_get(self, want: _Want) -> None:
        """getOrder serves the changes a search is least likely to reach: missed ones first, then
        the newest (a search works from the oldest)."""
        newest = -want.changed_at.timestamp() if want.changed_at is not None else -math.inf
        priority = (0 if want.search_missed else 1, newest)
        heapq.heappush(self._get_queue, _Queued(priority, next(self._seq), want))

    def _keep(self, order: Order) -> None:
        if self.settings.prefetch_max == 0:
            return
        self._cache.pop(order.order_id, None)
        self._cache[order.order_id] = (order, self._clock())
        while len(self._cache) > self.settings.prefetch_max:
            self._cache.popitem(last=False)

    def _take_cached(self, order_id: str, changed_at: datetime | None) -> Order | None:
        entry = self._cache.pop(order_id, None)
        if entry is None or changed_at is None:
            return None
        order, kept_at = entry
        if self._clock() - kept_at > self.settings.prefetch_ttl_s or order.updated_at < changed_at:
            return None
        return order

    def _expire(self) -> None:
        """Forget announced changes nobody asked for, and kept orders, after `prefetch_ttl_s`."""
        limit = self._clock() - self.settings.prefetch_ttl_s
        while self._announced and self._announced[0].since < limit:
            want = self._announced.popleft()
            if self._wants.get(want.order_id) is want and not want.active and not want.searching:
                del self._wants[want.order_id]
        while self._announced and self._wants.get(self._announced[0].order_id) is not self._announced[0]:
            self._announced.popleft()
        while self._cache:
            order_id, (_, kept_at) = next(iter(self._cache.items()))
            if kept_at >= limit:
                break
            del self._cache[order_id]


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _seen(future: asyncio.Future[Order]) -> None:
    if not future.cancelled():
        future.exception()
