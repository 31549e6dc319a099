"""What starts Multi-Channel Fulfillment runs besides M3's SyncSalesOrder BODs (flows/dispatch.py).

One task per worker (service.py), three sources, each handing `flows.mcf.submit_mcf_change` a
trigger with a key that names the change, so a change seen twice (a duplicated notification, a
notification and the poll, two workers) starts one run:

- FULFILLMENT_ORDER_STATUS notifications, taken from the event inbox where the SQS intake keeps
  them (ops/event_inbox.py) and marked handled once enqueued. Received, Planning and Processing
  need no work (nothing shipped, nothing to undo): they are only noted on the MCF trail. The rest
  (Complete, CompletePartialled, Unfulfillable, Cancelled, Invalid) start a run keyed by status.
- The M3 poll (OIS100MI SearchHead by MCF order type): an open order the trail does not know, or
  whose line statuses differ from what the trail last saw (a BOD was lost, or M3 changed it),
  starts a run keyed by those statuses; an order whose last run ended in a retryable incident (M3
  or Amazon was unavailable) is retried once per poll.
- The Amazon poll (listAllFulfillmentOrders since the last poll, with an overlap): a status the
  trail has not seen is handled as if its notification had arrived.

Errors never stop the task: they are logged and the next round tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from m3amazon.amazon.api.fulfillment import FulfillmentApi
from m3amazon.amazon.errors import AmazonTranslationError
from m3amazon.amazon.notifications import FULFILLMENT_ORDER_STATUS
from m3amazon.amazon.translate.fulfillment import status as canonical_status
from m3amazon.bootstrap import Runtime
from m3amazon.canonical import FulfillmentOrderStatusChanged, FulfillmentStatus
from m3amazon.flows.mcf import McfTrigger, order_number_of, submit_mcf_change
from m3amazon.m3.mcf_orders import list_orders_of_types
from m3amazon.ops import event_inbox, mcf_trail

log = logging.getLogger(__name__)

#: Amazon statuses that ask nothing of M3 (the order is on its way).
_IN_PROGRESS = frozenset(
    {
        FulfillmentStatus.NEW,
        FulfillmentStatus.RECEIVED,
        FulfillmentStatus.PLANNING,
        FulfillmentStatus.PROCESSING,
    }
)
#: Line statuses from which an order is no longer new to MCF (delivered, invoiced, closed).
_SETTLED = "66"
_INVOICED = "77"
#: The key of the first run of an order new to the trail, whether its BOD or the poll started it.
NEW_ORDER_KEY = "m3:new"
#: A delivered order's invoice BOD is waited for this long before the poll looks at M3's invoice.
INVOICE_GRACE = timedelta(minutes=10)
#: The Amazon poll starts this long before the previous one did.
AMAZON_POLL_OVERLAP = timedelta(minutes=5)
#: The first Amazon poll of a process looks back this far.
AMAZON_POLL_LOOKBACK = timedelta(days=2)


class McfIntake:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.settings = rt.settings.mcf
        self._amazon_since = datetime.now(UTC) - AMAZON_POLL_LOOKBACK
        self.submitted = 0

    async def run(self, stop: asyncio.Event) -> None:
        next_poll = 0.0
        while not stop.is_set():
            try:
                await self.take_inbox()
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + self.settings.poll_interval_s
                    await self.poll_m3()
                    await self.poll_amazon()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # M3 or Amazon down, database busy: the next round tries again
                log.warning("MCF intake round failed (%s); trying again", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.inbox_interval_s)

    async def _amazon_status(self, orno: str, status: str, origin: str) -> None:
        try:
            known = canonical_status(status)
        except AmazonTranslationError:
            known = None  # a status we do not know: let a run look at the order
        if known in _IN_PROGRESS:
            await asyncio.to_thread(mcf_trail.note_amazon_status, self.rt.engine, orno, known.value)
            return
        key = f"amazon:{known.value if known else status[:30]}"
        await submit_mcf_change(McfTrigger(orno, origin, status), key)
        self.submitted += 1

    async def take_inbox(self) -> int:
        """Hand the waiting FULFILLMENT_ORDER_STATUS notifications to the flow; how many were taken."""
        engine = self.rt.engine
        rows = await asyncio.to_thread(event_inbox.pending, engine, FULFILLMENT_ORDER_STATUS, 500)
        for row in rows:
            event = FulfillmentOrderStatusChanged.model_validate_json(row["event"])
            orno = order_number_of(event.request_id)
            if orno is not None:  # not ours: an MCF order placed in Seller Central or by another tool
                await self._amazon_status(orno, event.status, "notification")
            await asyncio.to_thread(event_inbox.mark_handled, engine, row["notification_id"])
        return len(rows)

    async def poll_m3(self) -> int:
        """Open MCF orders M3 has that the trail has not seen as they are now; how many were submitted."""
        heads = await list_orders_of_types(self.rt.m3, self.settings.order_types)
        trail_rows = await asyncio.to_thread(mcf_trail.known, self.rt.engine, [h["ORNO"] for h in heads])
        cycle = int(time.time())
        retry_after = timedelta(seconds=self.settings.retry_interval_s)
        submitted = 0
        for head in heads:
            orno, status = head["ORNO"], f"{head.get('ORSL', '')}{head.get('ORST', '')}"
            row, lowest = trail_rows.get(orno), head.get("ORSL", "")
            if row is None:
                if lowest >= _SETTLED:
                    continue  # delivered, invoiced or closed before anyone asked Amazon to ship it
                key = NEW_ORDER_KEY  # the same key as its SyncSalesOrder BOD: one run for both
            elif row["outcome"] == "delivered" and lowest >= _INVOICED and _older_than(row, INVOICE_GRACE):
                key = f"m3:{status}"  # M3 invoiced it, and its SyncInvoice BOD did not reach us
            elif row["outcome"] in mcf_trail.FINAL_OUTCOMES:
                continue
            elif row["outcome"] == "submitted" and lowest >= _SETTLED:
                continue  # delivered by a run of ours that is still recording it
            elif row["m3_status"] != status:
                key = f"m3:{status}"  # changed in M3 (cancelled, lines closed) since the last run
            elif row["outcome"] == "incident" and row["retryable"] and _older_than(row, retry_after):
                key = f"retry:{cycle}"  # M3 or Amazon was unavailable: try again
            else:
                continue
            await submit_mcf_change(McfTrigger(orno, "poll"), key)
            submitted += 1
        self.submitted += submitted
        return submitted

    async def poll_amazon(self) -> int:
        """Fulfillment orders whose status changed since the last poll; how many were handed on."""
        started = datetime.now(UTC)
        changed: dict[str, str] = {}
        async for order in FulfillmentApi(self.rt.amazon).list_all(query_start_date=self._amazon_since):
            orno = order_number_of(order.seller_fulfillment_order_id)
            if orno is not None:
                changed[orno] = order.fulfillment_order_status
        trail_rows = await asyncio.to_thread(mcf_trail.known, self.rt.engine, sorted(changed))
        handed = 0
        for orno, status in changed.items():
            row = trail_rows.get(orno)
            if row is not None and row["amazon_status"] == _canonical(status):
                continue
            await self._amazon_status(orno, status, "amazon-poll")
            handed += 1
        self._amazon_since = started - AMAZON_POLL_OVERLAP
        return handed


def _canonical(status: str) -> str:
    try:
        return canonical_status(status).value
    except AmazonTranslationError:
        return status


def _older_than(row: dict[str, object], age: timedelta) -> bool:
    """The trail row was last written more than `age` ago."""
    updated = row["updated_at"]
    if not isinstance(updated, datetime):
        return True
    aware = updated if updated.tzinfo else updated.replace(tzinfo=UTC)
    return datetime.now(UTC) - aware > age
