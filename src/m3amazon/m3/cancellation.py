"""Cancellation before shipment: the open lines of an M3 order closed (or deleted), idempotently.

Amazon cancels an order (or some of its items) after it reached M3. What is not delivered yet must
stop: OIS100MI CloLine closes a line's undelivered rest (status 99 when nothing was delivered) and
releases its allocation; DelLine (`delete=True`) deletes a line nothing was delivered or picked
from (90), and where M3 refuses that (the line is on a picking list) the line is closed instead.

What was delivered already cannot be cancelled in M3: those lines come back in
`ClosedLines.already_delivered` (the order flow turns a seller-fulfilled line delivered and then
cancelled into a `cancel_after_ship` incident). A line delivered in part has its rest closed and is
reported there too.

Idempotent: the lines are read first and only lines that are still open are changed, so running it
again after a crash (or a lost answer) changes nothing more. Costs one round trip to read and one
bulk POST for all writes (a second one only when some deletions had to become closes).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from m3amazon.m3.client import MIClient, MIResult
from m3amazon.m3.errors import MIError
from m3amazon.m3.order_lines import OIS100MI, M3OrderLine, get_order_lines


class ClosedLines(BaseModel):
    """What cancelling did to an order's lines (each line as it was before this call)."""

    model_config = ConfigDict(frozen=True)

    order_number: str
    #: closed or deleted by this call
    closed: tuple[M3OrderLine, ...] = ()
    #: closed (99) or deleted (90) before this call
    already_closed: tuple[M3OrderLine, ...] = ()
    #: lines with a delivered quantity: nothing of it was undone (their rest, if any, is closed)
    already_delivered: tuple[M3OrderLine, ...] = ()
    #: Amazon orderItemIds asked for that the order has no line for
    not_found: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.closed)


def _record(transaction: str, orno: str, line: M3OrderLine, reason: str | None) -> dict[str, object]:
    record: dict[str, object] = {"ORNO": orno, "PONR": line.line_number}
    if line.line_suffix:
        record["POSX"] = line.line_suffix
    if reason:
        record["RSCD"] = reason
    return record


def _line_error(line: M3OrderLine, error: MIError) -> MIError:
    return error.about(f"line {line.line_number} ({line.item_number})")


async def ensure_lines_closed(
    client: MIClient,
    orno: str,
    lines: Iterable[str] | None = None,
    reason: str | None = None,
    *,
    delete: bool = False,
) -> ClosedLines:
    """Close (or delete) every undelivered line of `orno`, or only those of the given Amazon
    orderItemIds; `reason` is M3's transaction reason (RSCD, set up in CRS103), if any."""
    current = await get_order_lines(client, orno)
    wanted = set(lines) if lines is not None else None
    chosen = [line for line in current if wanted is None or line.amazon_item_id in wanted]
    found = {line.amazon_item_id for line in current}
    not_found = tuple(sorted(wanted - found)) if wanted is not None else ()

    already_closed = tuple(line for line in chosen if line.is_final)
    delivered = tuple(line for line in chosen if line.delivered > 0)
    to_close = [line for line in chosen if not line.is_final and line.undelivered > 0]
    writes = [("DelLine" if delete and line.delivered == 0 else "CloLine", line) for line in to_close]
    if writes:
        results = await client.bulk(
            OIS100MI,
            [(transaction, _record(transaction, orno, line, reason)) for transaction, line in writes],
        )
        retry = [
            line
            for (transaction, line), result in zip(writes, results, strict=True)
            if _refused_delete(transaction, result)
        ]
        for (_, line), result in zip(writes, results, strict=True):
            if result.error is not None and line not in retry:
                raise _line_error(line, result.error)
        if retry:
            closes = await client.bulk(
                OIS100MI, [("CloLine", _record("CloLine", orno, line, reason)) for line in retry]
            )
            for line, result in zip(retry, closes, strict=True):
                if result.error is not None:
                    raise _line_error(line, result.error)
    return ClosedLines(
        order_number=orno,
        closed=tuple(to_close),
        already_closed=already_closed,
        already_delivered=delivered,
        not_found=not_found,
    )


def _refused_delete(transaction: str, result: MIResult) -> bool:
    """DelLine refused by M3 (e.g. the line is on a picking list): closing it is what is left."""
    return transaction == "DelLine" and result.error is not None and not result.error.transient
