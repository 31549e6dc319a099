"""Customer orders in M3, created idempotently, plus the master-data reads the order flow needs.

`ensure_customer_order` is the one write of the order flow. A durable workflow may run it again
after a crash or a lost response, and M3 does not refuse a second order with the same customer
order number (CUOR), so the function looks the order up by CUOR first and creates it only when
absent, through batch order entry (OIS100MI AddBatchHead -> AddBatchAddress/AddBatchLine ->
Confirm). A new order costs two HTTP round trips whatever its number of lines:

1. one bulk POST: the lookup (`LstBatchHead` for the customer, `SearchHead` on CUOR) followed by
   `AddBatchHead` -> the temporary (batch) order number;
2. one bulk POST: `AddBatchAddress`, every `AddBatchLine`, the head charges (`AddBatchHeadChg`:
   shipping, gift wrap, ... as the charge mapping says), then `Confirm` -> the real order number.

Why AddBatchHead rides with the lookup: AddBatchLine needs the batch order number, so two round
trips is the least batch entry allows, and the lookup must come first. A bulk POST runs its
transactions in order (results come back in order; that M3 also *executes* them in order is
INFERENCE, research notes §1.6), so the lookup's answer describes M3 before the new head. When the
lookup finds the order after all (a repeated run), the head entered alongside it is deleted: a
repeated run costs two round trips (lookup+head, DelBatchHead) instead of one, which is the price
of the faster common case. Only the first attempt of a call enters the head speculatively; after a
lost answer the next attempt looks up first (`head_in_lookup=False` turns the speculation off, for
three round trips).

The lookup, and why two transactions:

- `LstBatchHead` returns CUOR, the batch status and ORNR (the real order number once confirmed),
  so it finds both a confirmed order and a batch order left unconfirmed by a crash between
  AddBatchHead and Confirm. Unconfirmed (or rejected) batch heads with our CUOR are deleted
  (`DelBatchHead`) before the order is entered again. It lists *all* batch heads of the customer,
  a cost that grows with the customer's history (`CuorLookup.maxrecs` bounds it); how long a
  tenant keeps confirmed batch heads (OIS275 purge) is UNVERIFIED, hence:
- `SearchHead` finds real orders even after their batch heads are purged. Its query syntax
  (`CUOR:"<id>"` here, M3's search engine syntax) is UNVERIFIED, its index may lag behind a
  just-created order, and its output has no CUOR, so every hit is verified with `GetHead` (an
  extra round trip, only when there are hits that the batch heads did not already explain). A
  SearchHead error is logged and ignored: LstBatchHead stays authoritative.

Writes and lost answers: the client retries only what cannot have been processed. When a write's
outcome is unknown (timeout, 5xx, reset), this module waits `settle_s` and runs the lookup again,
which finds the order or the half-entered batch; a request still running inside M3 after that
pause could still produce a second order (no server-side idempotency key exists in MI). A line
M3 refuses means no Confirm: in the simulator (and, UNVERIFIED, in M3's batch order entry) a
batch with refused lines is rejected at Confirm; should a tenant confirm it anyway, the error says
the order is incomplete. `confirm_in_bulk=False` sends Confirm separately (one more round trip)
for tenants where that matters.

Rejections: when M3 refuses a record of the batch or Confirm (or Confirm leaves the batch in an
error status), the batch status (OIS275MI) and M3's error messages for the batch (LstErrMsgOrder)
are read before the batch is deleted and raised as `BatchOrderRejected` (see `m3.rejections`): the
incident then says why M3 refused the order (a customer stop, an unknown charge, ...).

One caller per CUOR at a time is assumed (the order queue serialises work per Amazon order): a
batch order of a concurrent caller with the same CUOR would look abandoned and be deleted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from m3amazon.m3.client import MIClient, MIResult
from m3amazon.m3.errors import BatchOrderRejected, MIError, MITransportError
from m3amazon.m3.rejections import batch_rejection

log = logging.getLogger(__name__)

OIS100MI = "OIS100MI"
#: Batch order status "customer order created" (OIS275).
BATCH_CONFIRMED = "90"
#: Stands for the batch order number M3 has not assigned yet when a plan is validated.
_PLACEHOLDER = "0" * 10


class CustomerOrderPlan(BaseModel):
    """What to enter in M3 for one Amazon order: batch head, delivery address and lines."""

    model_config = ConfigDict(frozen=True)

    #: Customer's order number: the Amazon order id, the natural key of the order in M3.
    cuor: str = Field(min_length=1, max_length=20)
    #: M3 customer number (CUNO).
    customer: str = Field(min_length=1, max_length=10)
    #: AddBatchHead fields other than CUOR/CUNO (ORTP, WHLO, FACI, CUCD, ORDT, RLDT, YREF, ...).
    head: dict[str, str] = Field(default_factory=dict)
    #: AddBatchAddress fields without ORNO (ADRT given), or None to keep the customer's address.
    address: dict[str, str] | None = None
    #: AddBatchLine fields without ORNO (ITNO, ORQT, SAPR, WHLO, CUOR, ...).
    lines: list[dict[str, str]] = Field(min_length=1)
    #: AddBatchHeadChg fields without ORNO (CRID, CRAM, CUCD, ...): the order's head charges.
    charges: list[dict[str, str]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keys_in_their_place(self) -> CustomerOrderPlan:
        if {"CUOR", "CUNO"} & set(self.head):
            raise ValueError("head must not carry CUOR or CUNO; they come from cuor and customer")
        records = [*self.lines, *self.charges, *([self.address] if self.address is not None else [])]
        if any("ORNO" in record for record in records):
            raise ValueError(
                "address, lines and charges must not carry ORNO; the batch order number is assigned by M3"
            )
        return self


class EnsuredOrder(BaseModel):
    """The M3 customer order that stands for the plan."""

    model_config = ConfigDict(frozen=True)

    order_number: str
    #: False when the order already existed (a repeated run).
    created: bool
    batch_order_number: str | None = None


@dataclass(frozen=True)
class CuorLookup:
    """How an order is found again by its CUOR (tunable per tenant, see the module docstring)."""

    use_search_head: bool = True
    #: SearchHead query; `{cuor}` is replaced by the quoted customer order number.
    search_query: str = "CUOR:{cuor}"
    #: Rows asked of LstBatchHead/SearchHead (0 = all).
    maxrecs: int = 0
    #: At most this many SearchHead hits are verified with GetHead.
    max_candidates: int = 10


@dataclass(frozen=True)
class Lookup:
    """What M3 knows about a CUOR: the confirmed order, if any, and unconfirmed batch heads."""

    order_number: str | None
    batch_order_number: str | None
    stale_batches: tuple[str, ...]


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def find_customer_order(
    client: MIClient, cuor: str, customer: str, lookup: CuorLookup | None = None
) -> Lookup:
    """Find the customer order with this CUOR (one bulk round trip, two when search hits need checking)."""
    lookup = lookup or CuorLookup()
    results = await client.bulk(OIS100MI, _lookup_calls(cuor, customer, lookup), maxrecs=lookup.maxrecs)
    return await _interpret_lookup(client, cuor, customer, lookup, results)


def _lookup_calls(cuor: str, customer: str, lookup: CuorLookup) -> list[tuple[str, dict[str, object]]]:
    calls: list[tuple[str, dict[str, object]]] = [("LstBatchHead", {"CUNO": customer})]
    if lookup.use_search_head:
        calls.append(("SearchHead", {"SQRY": lookup.search_query.format(cuor=_quoted(cuor))}))
    return calls


async def _lookup(
    client: MIClient, plan: CustomerOrderPlan, lookup: CuorLookup | None, *, with_head: bool
) -> tuple[Lookup, str | MIError | None]:
    """The lookup, and (with_head) the batch order entered in the same bulk call, or its error."""
    lookup = lookup or CuorLookup()
    calls = _lookup_calls(plan.cuor, plan.customer, lookup)
    if with_head:
        calls.append(("AddBatchHead", _head_record(plan)))
    results = await client.bulk(OIS100MI, calls, maxrecs=lookup.maxrecs)
    head: str | MIError | None = None
    if with_head:
        outcome = results.pop()
        number = outcome.records[0].get("ORNO") if outcome.records else None
        if outcome.error is not None:
            head = outcome.error
        elif number:
            head = number
        else:
            head = MIError(
                "AddBatchHead returned no batch order number", program=OIS100MI, transaction="AddBatchHead"
            )
    return await _interpret_lookup(client, plan.cuor, plan.customer, lookup, results), head


async def _interpret_lookup(
    client: MIClient, cuor: str, customer: str, lookup: CuorLookup, results: list[MIResult]
) -> Lookup:
    confirmed: list[tuple[str, str]] = []
    stale: list[str] = []
    for row in _rows_or_raise(results[0]):
        if row.get("CUOR") != cuor:
            continue
        if row.get("ORNR"):
            confirmed.append((row["ORNR"], row.get("ORNO", "")))
        elif row.get("ORNO"):
            stale.append(row["ORNO"])
    if confirmed:
        if len(confirmed) > 1:
            log.warning("M3 holds %d confirmed orders with CUOR %s; using the first", len(confirmed), cuor)
        order_number, batch = sorted(confirmed)[0]
        return Lookup(order_number, batch or None, tuple(stale))

    candidates = _search_hits(results[1], customer) if lookup.use_search_head else []
    verified = await _verify_candidates(client, candidates[: lookup.max_candidates], cuor)
    return Lookup(verified[0] if verified else None, None, tuple(stale))


def _rows_or_raise(result: MIResult) -> list[dict[str, str]]:
    if result.error is None:
        return result.records
    if result.error.is_not_found:
        return []
    raise result.error


def _search_hits(result: MIResult, customer: str) -> list[str]:
    if result.error is not None:
        if not result.error.is_not_found:
            log.info("SearchHead did not answer (%s); relying on the batch heads", result.error)
        return []
    return sorted(
        {row["ORNO"] for row in result.records if row.get("ORNO") and row.get("CUNO", customer) == customer}
    )


async def _verify_candidates(client: MIClient, candidates: list[str], cuor: str) -> list[str]:
    if not candidates:
        return []
    results = await client.bulk(OIS100MI, [("GetHead", {"ORNO": orno}) for orno in candidates], maxrecs=1)
    return [
        row["ORNO"]
        for result in results
        if result.error is None
        for row in result.records
        if row.get("CUOR") == cuor and row.get("ORNO")
    ]


async def find_order_number(
    client: MIClient, cuor: str, customer: str | None = None, lookup: CuorLookup | None = None
) -> str | None:
    """The number of the confirmed customer order with this CUOR, or None.

    With the customer, the batch heads are authoritative (`find_customer_order`); without it (a
    shipment or invoice that names only the Amazon order), SearchHead finds the order and GetHead
    checks each hit's CUOR.
    """
    lookup = lookup or CuorLookup()
    if customer:
        return (await find_customer_order(client, cuor, customer, lookup)).order_number
    query = lookup.search_query.format(cuor=_quoted(cuor))
    try:
        rows = await client.execute(OIS100MI, "SearchHead", {"SQRY": query}, maxrecs=lookup.maxrecs)
    except MIError as exc:
        if exc.is_not_found:
            return None
        raise
    candidates = sorted({row["ORNO"] for row in rows if row.get("ORNO")})
    verified = await _verify_candidates(client, candidates[: lookup.max_candidates], cuor)
    return min(verified) if verified else None


async def ensure_customer_order(
    client: MIClient,
    plan: CustomerOrderPlan,
    *,
    lookup: CuorLookup | None = None,
    attempts: int = 8,
    settle_s: float = 1.0,
    confirm_in_bulk: bool = True,
    head_in_lookup: bool = True,
) -> EnsuredOrder:
    """The M3 customer order for `plan`: found by CUOR, or created once (see the module docstring)."""
    validate_plan(client, plan)
    entered: set[str] = set()  # batch orders this call created: a lost Confirm answer is still "created"
    for attempt in range(1, attempts + 1):
        try:
            speculative = head_in_lookup and attempt == 1
            found, head = await _lookup(client, plan, lookup, with_head=speculative)
            if head is not None and not isinstance(head, MIError):
                entered.add(head)
            if found.order_number is not None:
                if isinstance(head, str):
                    await _discard(client, head)  # entered alongside the lookup; the order exists
                return EnsuredOrder(
                    order_number=found.order_number,
                    created=found.batch_order_number in entered,
                    batch_order_number=found.batch_order_number,
                )
            for batch in found.stale_batches:
                await delete_batch_order(client, batch)
            if isinstance(head, MIError):
                raise head
            batch = head if head is not None else await _add_head(client, plan)
            entered.add(batch)
            order_number = await _fill_and_confirm(client, plan, batch, confirm_in_bulk)
            return EnsuredOrder(order_number=order_number, created=True, batch_order_number=batch)
        except MITransportError as exc:
            if attempt == attempts:
                raise
            log.info(
                "order %s: %s; looking it up again (attempt %d of %d)", plan.cuor, exc, attempt + 1, attempts
            )
            await asyncio.sleep(settle_s)
    raise AssertionError("unreachable")


def validate_plan(client: MIClient, plan: CustomerOrderPlan) -> None:
    """Check every record of the plan against the field table, so bad data fails before any call."""
    table = client.fields
    table.validate_input(OIS100MI, "AddBatchHead", {k: str(v) for k, v in _head_record(plan).items()})
    if plan.address is not None:
        table.validate_input(OIS100MI, "AddBatchAddress", {**plan.address, "ORNO": _PLACEHOLDER})
    for line in plan.lines:
        table.validate_input(OIS100MI, "AddBatchLine", {**line, "ORNO": _PLACEHOLDER})
    for charge in plan.charges:
        table.validate_input(OIS100MI, "AddBatchHeadChg", {**charge, "ORNO": _PLACEHOLDER})


async def delete_batch_order(client: MIClient, batch: str) -> None:
    """Delete an unconfirmed batch order (head, address and lines); gone already is fine."""
    try:
        await client.execute(OIS100MI, "DelBatchHead", {"ORNO": batch}, maxrecs=1)
    except MIError as exc:
        if exc.transient or not exc.is_not_found:
            raise


def _head_record(plan: CustomerOrderPlan) -> dict[str, object]:
    return {**plan.head, "CUNO": plan.customer, "CUOR": plan.cuor}


async def _add_head(client: MIClient, plan: CustomerOrderPlan) -> str:
    rows = await client.execute(OIS100MI, "AddBatchHead", _head_record(plan), maxrecs=1)
    batch = rows[0].get("ORNO") if rows else None
    if not batch:
        raise MIError(
            "AddBatchHead returned no batch order number", program=OIS100MI, transaction="AddBatchHead"
        )
    return batch


async def _fill_and_confirm(
    client: MIClient, plan: CustomerOrderPlan, batch: str, confirm_in_bulk: bool
) -> str:
    calls: list[tuple[str, dict[str, object]]] = []
    if plan.address is not None:
        calls.append(("AddBatchAddress", {**plan.address, "ORNO": batch}))
    calls.extend(("AddBatchLine", {**line, "ORNO": batch}) for line in plan.lines)
    calls.extend(("AddBatchHeadChg", {**charge, "ORNO": batch}) for charge in plan.charges)
    if confirm_in_bulk:
        calls.append(("Confirm", {"ORNO": batch}))
    results = await client.bulk(OIS100MI, calls, maxrecs=1)
    entries, confirm = (results[:-1], results[-1]) if confirm_in_bulk else (results, None)

    refused = _first_refusal(entries, plan)
    if refused is not None:
        confirmed = confirm is not None and confirm.ok and confirm.records
        created = confirm.records[0].get("ORNO") if confirm is not None and confirmed else None
        if created:
            raise MIError(
                f"M3 created order {created} although {refused.message}; the order is incomplete",
                program=OIS100MI,
                transaction=refused.transaction,
                code=refused.code,
                field=refused.field,
                error_type="IncompleteOrder",
            )
        raise await _rejected(client, batch, refused)
    if confirm is None:
        try:
            rows = await client.execute(OIS100MI, "Confirm", {"ORNO": batch}, maxrecs=1)
        except MIError as exc:
            if exc.transient:
                raise
            raise await _rejected(client, batch, exc) from None
        confirm = MIResult("Confirm", rows)
    if confirm.error is not None:
        if confirm.error.transient:
            raise confirm.error
        raise await _rejected(client, batch, confirm.error)
    return await _order_number(client, batch, confirm.records[0] if confirm.records else {})


async def _rejected(
    client: MIClient, batch: str, cause: MIError | None, *, status: str | None = None
) -> BatchOrderRejected:
    """Read why M3 rejected the batch (status, messages), then delete it; the error to raise."""
    rejection = await batch_rejection(client, batch, cause, status=status)
    await _discard(client, batch)
    return rejection


def _what(index: int, plan: CustomerOrderPlan) -> str:
    """Which record of the plan the index-th entry of the fill bulk is, in words."""
    if plan.address is not None:
        if index == 0:
            return "the delivery address"
        index -= 1
    if index < len(plan.lines):
        return f"line {index + 1}"
    charge = plan.charges[index - len(plan.lines)]
    return f"charge {charge.get('CRID', index - len(plan.lines) + 1)}"


def _first_refusal(entries: list[MIResult], plan: CustomerOrderPlan) -> MIError | None:
    for index, result in enumerate(entries):
        if result.error is None:
            continue
        return result.error.about(_what(index, plan))
    return None


async def _order_number(client: MIClient, batch: str, confirmed: dict[str, str]) -> str:
    status = confirmed.get("STAT")
    if status and status != BATCH_CONFIRMED:
        raise await _rejected(client, batch, None, status=status)
    number = confirmed.get("ORNO")
    if number and number != batch:
        return number
    rows = await client.execute(OIS100MI, "GetOrderNo", {"ORNO": batch}, maxrecs=1)
    if rows and rows[0].get("ORNR"):
        return rows[0]["ORNR"]
    raise MIError(
        f"M3 accepted batch order {batch} but has not created the customer order yet",
        program=OIS100MI,
        transaction="GetOrderNo",
        transient=True,
    )


async def _discard(client: MIClient, batch: str) -> None:
    """Best-effort removal of a refused batch order; a leftover is deleted by the next lookup."""
    try:
        await delete_batch_order(client, batch)
    except MIError as exc:
        log.warning("could not delete batch order %s: %s", batch, exc)


# -- master data ------------------------------------------------------------------------------


async def _get_or_none(
    client: MIClient, program: str, transaction: str, record: dict[str, object]
) -> dict[str, str] | None:
    try:
        rows = await client.execute(program, transaction, record, maxrecs=1)
    except MIError as exc:
        if exc.is_not_found:
            return None
        raise
    return rows[0] if rows else None


async def get_customer(client: MIClient, cuno: str) -> dict[str, str] | None:
    """CRS610MI GetBasicData for `cuno`, or None when M3 has no such customer."""
    return await _get_or_none(client, "CRS610MI", "GetBasicData", {"CUNO": cuno})


async def item_for_alias(
    client: MIClient, sku: str, alias_category: str, alias_qualifier: str | None
) -> str | None:
    """The M3 item (ITNO) behind an alias number such as an Amazon SKU (MMS025MI GetItem), or None."""
    row = await _get_or_none(
        client, "MMS025MI", "GetItem", {"ALWT": alias_category, "POPN": sku, "ALWQ": alias_qualifier}
    )
    return (row or {}).get("ITNO") or None


async def get_item(client: MIClient, itno: str) -> dict[str, str] | None:
    """MMS200MI Get for `itno` (STAT 20 = active), or None when M3 has no such item."""
    return await _get_or_none(client, "MMS200MI", "Get", {"ITNO": itno})
