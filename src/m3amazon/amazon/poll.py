"""The catch-up poll: an order whose change notification never arrived still gets its workflow.

Why: notifications can be lost (a subscription or destination that was broken for a while, a
purged queue, an outage between Amazon and SQS). Every `interval_s`, one worker of the fleet asks
searchOrders for the orders changed between the end of its last poll (minus `overlap_s`) and
`settle_s` before now (Amazon indexes changes with a two-minute lag), reads every page, and hands
each order to the same `submit_order_change` the SQS intake uses, as an `OrderChanged` with
`origin="poll"`. Same event, same workflow id (`amazon-order:{id}`): an order already processed
from its notification is not processed again, and the poll and the notification can arrive in
either order.

The cursor (the end of the last complete window) lives in `m3a_poll_cursors` and moves only after
every order of the window was handed on, so a worker that dies mid-poll leaves the window to be
read again (harmless: same workflow ids). The same row holds a lease, so the workers of a fleet
take turns instead of all spending the scarce searchOrders calls (one per three minutes, burst 20).
The orders the poll reads are offered to the order source, so their workflows need no getOrder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m3amazon.amazon.errors import AmazonApiError, AmazonTranslationError
from m3amazon.amazon.gateway import AmazonGateway
from m3amazon.canonical import Order, OrderChanged, OrderStatus
from m3amazon.config import PollSettings
from m3amazon.ops.db import poll_cursors

log = logging.getLogger(__name__)

#: Hands an event (and the order it came from, when read) to the engine; returns the workflow id.
Submit = Callable[..., Awaitable[str | None]]


def v0_status(status: OrderStatus) -> str:
    """The v0 spelling of a status, as ORDER_CHANGE summaries (and `wants_workflow`) use it:
    PARTIALLY_SHIPPED -> PartiallyShipped, and Amazon's one American spelling, Canceled."""
    if status is OrderStatus.CANCELLED:
        return "Canceled"
    return "".join(word.capitalize() for word in status.value.split("_"))


#: How often a worker looks whether a poll is due (at most; shorter when the interval is shorter).
CHECK_EVERY_S = 30.0


@dataclass(frozen=True)
class PollResult:
    window_start: datetime
    window_end: datetime
    pages: int
    orders: int
    submitted: int


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they are stored in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def event_for(order: Order) -> OrderChanged:
    """The change event the poll submits for an order it found: as a notification would say it."""
    return OrderChanged(
        order_id=order.order_id,
        marketplace_id=order.marketplace_id,
        seller_id=order.seller_id,
        reported_status=v0_status(order.status),
        channel=order.channel,
        change_type="CatchUpPoll",
        event_time=order.updated_at,
        changed_at=order.updated_at,
        items_shipped=sum(line.quantity_shipped for line in order.lines),
        origin="poll",
    )


def event_for_rejected(rejected: AmazonTranslationError) -> OrderChanged | None:
    """An order search returned but we cannot translate: its workflow reads it again with getOrder
    and turns the problem into an incident, as for a notified order. Pending orders wait."""
    if not rejected.order_id:
        return None
    payload: Any = rejected.payload or {}
    fulfillment = payload.get("fulfillment") if isinstance(payload, dict) else None
    status = fulfillment.get("fulfillmentStatus") if isinstance(fulfillment, dict) else None
    try:
        reported = v0_status(OrderStatus(status)) if isinstance(status, str) else None
    except ValueError:
        reported = None
    return OrderChanged(order_id=rejected.order_id, reported_status=reported, origin="poll")


# -- the cursor row -------------------------------------------------------------------------


def _claim(
    engine: Engine, name: str, owner: str, now: datetime, settings: PollSettings
) -> tuple[bool, datetime | None]:
    """Take the poll if it is due and nobody holds it: (taken, cursor)."""
    with engine.begin() as conn:
        exists = conn.execute(sa.select(poll_cursors.c.name).where(poll_cursors.c.name == name)).first()
        if exists is None:
            with contextlib.suppress(sa.exc.IntegrityError), conn.begin_nested():
                conn.execute(poll_cursors.insert().values(name=name, last_orders=0, updated_at=now))
        taken = conn.execute(
            poll_cursors.update()
            .where(
                poll_cursors.c.name == name,
                sa.or_(poll_cursors.c.lease_until.is_(None), poll_cursors.c.lease_until < now),
                sa.or_(
                    poll_cursors.c.last_finished_at.is_(None),
                    poll_cursors.c.last_finished_at <= now - timedelta(seconds=settings.interval_s),
                ),
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=settings.lease_s), updated_at=now)
        ).rowcount
        if taken != 1:
            return False, None
        cursor = conn.execute(sa.select(poll_cursors.c.cursor).where(poll_cursors.c.name == name)).scalar()
    return True, _aware(cursor)


def _finish(
    engine: Engine,
    name: str,
    owner: str,
    now: datetime,
    cursor: datetime | None,
    orders: int,
    error: str | None,
) -> None:
    values: dict[str, Any] = {
        "last_finished_at": now,
        "lease_owner": None,
        "lease_until": None,
        "last_orders": orders,
        "last_error": error,
        "updated_at": now,
    }
    if cursor is not None:
        values["cursor"] = cursor
    with engine.begin() as conn:
        conn.execute(
            poll_cursors.update()
            .where(poll_cursors.c.name == name, poll_cursors.c.lease_owner == owner)
            .values(**values)
        )


def read_cursor(engine: Engine, name: str) -> dict[str, Any] | None:
    """The cursor row (for the console, the CLI and tests)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(poll_cursors).where(poll_cursors.c.name == name)).first()
    if row is None:
        return None
    data = dict(row._mapping)
    for column in ("cursor", "last_finished_at", "lease_until", "updated_at"):
        data[column] = _aware(data[column])
    return data


# -- the poll -------------------------------------------------------------------------------


class CatchUpPoll:
    """searchOrders by lastUpdatedAfter on a schedule, handing every released order to `submit`."""

    def __init__(
        self,
        settings: PollSettings,
        gateway: AmazonGateway,
        engine: Engine,
        submit: Submit,
        *,
        owner: str = "worker",
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.gateway = gateway
        self.engine = engine
        self.submit = submit
        self.owner = owner
        self.name = f"orders:{gateway.seller_key}"
        self._now = now
        self.last: PollResult | None = None

    def __repr__(self) -> str:
        return f"CatchUpPoll(name={self.name!r}, owner={self.owner!r})"

    async def run(self, stop: asyncio.Event) -> None:
        """Poll whenever due until `stop` is set. Failures are logged and the next poll tries again."""
        tick = min(self.settings.interval_s, CHECK_EVERY_S)
        while not stop.is_set():
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the poll is a safety net: it must never take the worker down
                log.exception("catch-up poll failed; trying again at the next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick)

    async def poll_once(self) -> PollResult | None:
        """One poll if it is due and no other worker holds it; None otherwise."""
        now = self._now()
        taken, cursor = await asyncio.to_thread(
            _claim, self.engine, self.name, self.owner, now, self.settings
        )
        if not taken:
            return None
        start = (
            cursor - timedelta(seconds=self.settings.overlap_s)
            if cursor is not None
            else now - timedelta(seconds=self.settings.initial_lookback_s)
        )
        end = now - timedelta(seconds=self.settings.settle_s)
        if end <= start:
            await asyncio.to_thread(_finish, self.engine, self.name, self.owner, now, None, 0, None)
            return None
        pages = orders = submitted = 0
        try:
            async for page in self.gateway.search_pages(last_updated_after=start, last_updated_before=end):
                pages += 1
                for order in page.orders:
                    orders += 1
                    submitted += await self.submit(event_for(order), order=order) is not None
                for rejected in page.rejected:
                    orders += 1
                    event = event_for_rejected(rejected)
                    if event is not None:
                        submitted += await self.submit(event) is not None
        except Exception as exc:  # the window is read again next time; the lease is given back
            level = logging.WARNING if isinstance(exc, AmazonApiError | OSError) else logging.ERROR
            log.log(level, "catch-up poll of %s .. %s stopped: %s", start, end, exc)
            await asyncio.to_thread(
                _finish, self.engine, self.name, self.owner, self._now(), None, orders, str(exc)[:500]
            )
            raise
        await asyncio.to_thread(_finish, self.engine, self.name, self.owner, self._now(), end, orders, None)
        self.last = PollResult(start, end, pages, orders, submitted)
        log.info(
            "catch-up poll %s .. %s: %d orders in %d pages, %d handed to the engine",
            start.isoformat(timespec="seconds"),
            end.isoformat(timespec="seconds"),
            orders,
            pages,
            submitted,
        )
        return self.last
