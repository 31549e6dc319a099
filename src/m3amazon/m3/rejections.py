"""Why M3 refused a batch order: its OIS275 status and every error message recorded against it.

When Confirm fails (or leaves the batch in an error status) the refusal alone rarely says what to
fix: "batch order has errors" is all Confirm answers. M3 keeps the reasons with the batch order
(OIS100MI LstErrMsgOrder) and its status in OIS275 (GetTmpOrderStat: 15 = error in the head,
20-55 other rejections). Both are read - in parallel, they are different programs - before the
batch is removed, and go into the `BatchOrderRejected` the order flow turns into an incident.
Reading them is best effort: if M3 cannot answer, the refusal itself is still reported.
"""

from __future__ import annotations

import asyncio
import logging

from m3amazon.m3.client import MIClient
from m3amazon.m3.errors import BatchOrderRejected, MIError

log = logging.getLogger(__name__)


def _message(row: dict[str, str]) -> tuple[str, str] | None:
    """(M3's text, the text with its message id) of one LstErrMsgOrder row."""
    text = " ".join((row.get("MDTA") or row.get("TX60") or "").split())
    if not text:
        return None
    msid = (row.get("MSID") or "").strip()
    return text, f"{text} ({msid})" if msid else text


async def batch_rejection(
    client: MIClient, batch: str, cause: MIError | None, *, status: str | None = None
) -> BatchOrderRejected:
    """The rejection of `batch` with M3's batch status and messages (`cause`: what M3 refused)."""
    stat, errors = await asyncio.gather(
        client.execute("OIS275MI", "GetTmpOrderStat", {"ORNO": batch}, maxrecs=1),
        client.execute("OIS100MI", "LstErrMsgOrder", {"ORNO": batch}, maxrecs=0),
        return_exceptions=True,
    )
    if isinstance(stat, MIError):
        log.info("batch order %s: no status from OIS275MI (%s)", batch, stat)
    elif isinstance(stat, BaseException):
        raise stat
    elif stat and stat[0].get("STAT"):
        status = stat[0]["STAT"]
    recorded: list[tuple[str, str]] = []
    if isinstance(errors, MIError):
        log.info("batch order %s: no error messages from LstErrMsgOrder (%s)", batch, errors)
    elif isinstance(errors, BaseException):
        raise errors
    else:
        recorded = [message for row in errors if (message := _message(row))]
    messages: list[str] = []
    specific = cause is not None and cause.transaction != "Confirm"
    if cause is not None and specific:
        messages.append(cause.message)
    for text, shown in recorded:
        if not any(text in seen for seen in messages):  # the refusal that stopped entry, again
            messages.append(shown)
    if cause is not None and not specific:
        messages.append(cause.message)
    return BatchOrderRejected(batch, status, messages, cause=cause)
