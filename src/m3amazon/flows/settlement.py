"""Settlements: Amazon's money into M3's general ledger, balanced, reconciled, posted once.

    Amazon settlement report (getReports / REPORT_PROCESSING_FINISHED) or a file
      1. keep the original        step  download the report document; store the file (message store)
      2. read and validate        step  streaming parse, lines must sum to the total -> digest
      3. posted before?           step  the settlement's row says posted -> done, nothing sent
      4. plan                     step  GL table -> one balanced journal per accounting period
         (unmapped triples -> one incident per settlement; it waits, and is replayed once the table
          has changed: `settlement retry`, or the next discovery run)
      5. post each journal        step  GLS840MI batch, looked up first (m3/ledger.py)
      6. record                   step  reconciliation report, status, incidents settled

Exactly once: the workflow id is the source (`settlement-report:{reportId}` or
`settlement-file:{sha256}`) plus the mapping version, so a duplicate notification or a repeated
import returns the first run; a run that was killed resumes after its last finished step, and the
posting step that was running then looks in M3 before it sends anything, so a crash in the middle
of posting still ends with exactly one batch per period. Bad files never reach M3: they become an
incident naming the line and the reason, with the stored file's hash and the offending line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, SetWorkflowID, WorkflowHandleAsync

from m3amazon.amazon.api.documents import DocumentExpired
from m3amazon.amazon.api.reports import ReportsApi
from m3amazon.amazon.errors import AmazonApiError
from m3amazon.amazon.settlement_file import SettlementDigest, SettlementFileError, read_settlement
from m3amazon.bootstrap import runtime
from m3amazon.canonical.journal import JournalPosting
from m3amazon.flows.settlement_plan import SettlementPlan, plan_settlement
from m3amazon.flows.transient import flow_step, until_settled
from m3amazon.m3.errors import MIError
from m3amazon.m3.ledger import Conversion, PostedBatch, ensure_gl_batch, exchange_rate
from m3amazon.mapping.gl import GLMapping
from m3amazon.ops import incidents, settlements
from m3amazon.ops.db import order_trail
from m3amazon.ops.incidents import Incident

log = logging.getLogger(__name__)

INVALID, UNMAPPED, FAILED, POSTED = "settlement_invalid", "gl_unmapped", "settlement_posting", "posted"
CATEGORIES = frozenset({INVALID, UNMAPPED, FAILED})


@dataclass(frozen=True)
class SettlementSource:
    """Where a settlement comes from: a stored file (`sha256`) or an Amazon report to download."""

    name: str
    sha256: str | None = None
    report_id: str | None = None
    document_id: str | None = None
    marketplace: str | None = None

    @property
    def subject(self) -> str:
        return f"report:{self.report_id}" if self.report_id else f"file:{self.name}"


@dataclass(frozen=True)
class Rejected:
    reason_code: str
    message: str
    line: int | None = None
    retryable: bool = False


@dataclass(frozen=True)
class SettlementOutcome:
    settlement_id: str | None
    #: posted | already_posted | invalid | unmapped | failed
    status: str
    detail: str
    batches: tuple[str, ...] = ()
    reconciliation: dict[str, Any] | None = field(default=None, compare=False)


def _passing_rejection(result: PostedBatch | Rejected) -> bool:
    return isinstance(result, Rejected) and result.retryable


def workflow_id_for(source: SettlementSource, mapping_version: str) -> str:
    ident = f"report:{source.report_id}" if source.report_id else f"file:{(source.sha256 or '')[:24]}"
    return f"settlement-{ident}:{mapping_version}"


@DBOS.workflow()
async def settlement_received(source: SettlementSource) -> SettlementOutcome:
    """A settlement file -> validated -> journals per period -> M3 GL batches -> reconciled."""
    sha = source.sha256 or await keep_report_document(source)
    if isinstance(sha, Rejected):
        return await report_rejected(source, None, sha, None)
    digest = await read_and_validate(sha, source.marketplace)
    if isinstance(digest, Rejected):
        return await report_rejected(source, sha, digest, None)
    done = await posted_before(digest.settlement_id, source.report_id)
    if done is not None:
        return done
    plan = await plan_postings(digest)
    if plan.unmapped:
        return await hold_for_mapping(source, sha, digest, plan)
    batches: list[PostedBatch] = []
    for journal in plan.journals:
        # M3 unreachable, or its answer lost on the way: again after pauses (it looks the batch up first)
        batch = await until_settled(partial(post_journal, journal), _passing_rejection)
        if isinstance(batch, Rejected):
            return await report_rejected(source, sha, batch, digest)
        batches.append(batch)
    return await record_posted(source, sha, digest, plan, tuple(batches))


# -- steps ---------------------------------------------------------------------------------------


@flow_step()
async def keep_report_document(source: SettlementSource) -> str | Rejected:
    """Download the report's document (gunzipped) and keep it in the message store."""
    rt = runtime()
    api = ReportsApi(rt.amazon)
    assert source.report_id is not None
    try:
        document_id = source.document_id or (await api.report(source.report_id)).report_document_id
        if not document_id:
            return Rejected(
                "SETTLEMENT_NO_DOCUMENT", f"report {source.report_id} has no document yet", None, True
            )
        for attempt in (1, 2):
            document = await api.report_document(document_id)
            try:
                data, _ = await api.documents.download(
                    document.url, compression=document.compression_algorithm
                )
                break
            except DocumentExpired:
                if attempt == 2:
                    raise
    except AmazonApiError as exc:
        return Rejected(
            "AMAZON_UNAVAILABLE" if exc.retryable else "SETTLEMENT_DOWNLOAD", str(exc), None, exc.retryable
        )
    return await asyncio.to_thread(settlements.store_file, rt.engine, data, f"report:{source.report_id}")


@flow_step()
async def read_and_validate(sha: str, marketplace: str | None) -> SettlementDigest | Rejected:
    """The stored file, read as a stream and checked: lines sum to the total, every row parses."""
    rt = runtime()

    def read() -> SettlementDigest | Rejected:
        with tempfile.TemporaryDirectory(prefix="m3a-settlement-") as tmp:
            path = settlements.write_file(rt.engine, sha, Path(tmp))
            try:
                digest = read_settlement(
                    path, aggregation=rt.mappings.gl.aggregation, marketplace=marketplace, tmp_dir=Path(tmp)
                )
                digest.check()
            except SettlementFileError as exc:
                return Rejected(exc.reason_code, exc.message, exc.line)
        settlements.link_file(rt.engine, sha, digest.settlement_id)
        return digest

    return await asyncio.to_thread(read)


@flow_step()
async def posted_before(settlement_id: str, report_id: str | None = None) -> SettlementOutcome | None:
    """The outcome of an earlier posting of this settlement (from a file or another report run)."""
    engine = runtime().engine
    row = await asyncio.to_thread(settlements.get, engine, settlement_id)
    if row is None or row["status"] != POSTED:
        return None
    if report_id and not row.get("report_id"):  # imported as a file first: remember its report too
        await asyncio.to_thread(settlements.save, engine, settlement_id, report_id=report_id)
    batches = tuple(b["key"] for b in row.get("batches") or [])
    return SettlementOutcome(
        settlement_id,
        "already_posted",
        "posted before; nothing sent to M3",
        batches,
        row.get("reconciliation"),
    )


@flow_step()
async def plan_postings(digest: SettlementDigest) -> SettlementPlan:
    return plan_settlement(digest, runtime().mappings.gl)


@flow_step()
async def post_journal(journal: JournalPosting) -> PostedBatch | Rejected:
    """One period's journal as a GLS840MI batch, unless M3 has it already."""
    rt = runtime()
    gl = rt.mappings.gl
    try:
        conversion = await _conversion(gl, journal)
        return await ensure_gl_batch(
            rt.m3,
            journal,
            interface=gl.interface,
            division=rt.settings.m3.divi or None,
            conversion=conversion,
        )
    except MIError as exc:
        return Rejected(
            "M3_UNAVAILABLE" if exc.transient else "GL_BATCH_REFUSED", str(exc), None, exc.transient
        )


async def _conversion(gl: GLMapping, journal: JournalPosting) -> Conversion | None:
    local = gl.local_currency
    if not local or local == journal.currency:
        return None
    if gl.rate_source == "m3":
        rate = await exchange_rate(runtime().m3, journal.currency, gl.rate_type, journal.accounting_date)
    else:
        if journal.currency not in gl.rates:
            raise MIError(f"no rate for {journal.currency} in the GL table (gl.rates) to convert to {local}")
        rate = gl.rates[journal.currency]
    return Conversion(local, rate, gl.rounding.ait)


@flow_step()
async def hold_for_mapping(
    source: SettlementSource, sha: str, digest: SettlementDigest, plan: SettlementPlan
) -> SettlementOutcome:
    """One incident for the settlement listing every unmapped triple; the settlement waits."""
    rt = runtime()
    listed = "; ".join(
        f"{'/'.join(u.triple)} ({u.count} lines, {u.total} {digest.currency})" for u in plan.unmapped
    )
    message = (
        f"settlement {digest.settlement_id} has {len(plan.unmapped)} kind(s) of money the GL table does not "
        f"map: {listed}. Add rules to the `gl:` table, then run "
        f"`m3amazon settlement retry {digest.settlement_id}`"
    )
    incident = Incident(
        key=f"settlement:{digest.settlement_id}:{UNMAPPED}",
        category=UNMAPPED,
        reason_code="GL_UNMAPPED_TRIPLE",
        message=message,
        subject=digest.settlement_id,
        payload={
            "source": source.subject,
            "file_sha256": sha,
            "unmapped": [u.to_dict() for u in plan.unmapped],
        },
        actions=("settlement retry", "discard"),
    )

    def write() -> None:
        incidents.open_incident(rt.engine, incident)
        _save(source, sha, digest, "unmapped", message)

    await asyncio.to_thread(write)
    return SettlementOutcome(digest.settlement_id, "unmapped", message)


@flow_step()
async def report_rejected(
    source: SettlementSource, sha: str | None, rejected: Rejected, digest: SettlementDigest | None
) -> SettlementOutcome:
    """The file (or M3) refused: an incident with the reason, the line and the line's text."""
    rt = runtime()
    posting = digest is not None
    category = FAILED if posting else INVALID
    subject = digest.settlement_id if digest else source.subject
    where = f"line {rejected.line}: " if rejected.line else ""
    message = (
        f"settlement {subject}: M3 refused its GL batch: {rejected.message}"
        if posting
        else f"settlement file {source.name}: {where}{rejected.message}; nothing was posted"
    )

    def write() -> None:
        payload: dict[str, Any] = {
            "source": source.subject,
            "file_sha256": sha,
            "reason_code": rejected.reason_code,
            "line": rejected.line,
            "problem": rejected.message,
        }
        if sha and rejected.line:
            payload["line_text"] = settlements.file_line(rt.engine, sha, rejected.line)
        incidents.open_incident(
            rt.engine,
            Incident(
                key=f"settlement:{subject}:{category}",
                category=category,
                reason_code=rejected.reason_code,
                message=message,
                subject=subject,
                payload=payload,
                actions=("settlement retry", "discard") if posting or rejected.retryable else ("discard",),
            ),
        )
        if digest is not None:
            _save(source, sha, digest, "failed", message)

    await asyncio.to_thread(write)
    log.warning("%s", message)
    return SettlementOutcome(
        digest.settlement_id if digest else None, "failed" if posting else "invalid", message
    )


@flow_step()
async def record_posted(
    source: SettlementSource,
    sha: str,
    digest: SettlementDigest,
    plan: SettlementPlan,
    batches: tuple[PostedBatch, ...],
) -> SettlementOutcome:
    """The reconciliation report, the settlement's row, and its earlier incidents settled."""
    rt = runtime()

    def write() -> dict[str, Any]:
        report = reconciliation(digest, plan, batches, rt.mappings.gl, _linked_orders(rt.engine, digest))
        _save(
            source,
            sha,
            digest,
            POSTED,
            f"{len(batches)} GL batch(es): {', '.join(b.key for b in batches)}",
            batches=[_batch_dict(b) for b in batches],
            reconciliation=report,
        )
        incidents.resolve_categories(
            rt.engine, digest.settlement_id, set(CATEGORIES), f"posted by {DBOS.workflow_id}"
        )
        return report

    report = await asyncio.to_thread(write)
    status = "already_posted" if batches and all(b.already_posted for b in batches) else "posted"
    return SettlementOutcome(
        digest.settlement_id, status, f"{len(batches)} GL batch(es)", tuple(b.key for b in batches), report
    )


# -- the reconciliation report (pure) -----------------------------------------------------------


def _batch_dict(batch: PostedBatch) -> dict[str, Any]:
    return {
        "key": batch.key,
        "accounting_date": batch.accounting_date.isoformat(),
        "vouchers": list(batch.vouchers),
        "lines": batch.lines,
        "already_posted": batch.already_posted,
        "by_account": {a: str(v) for a, v in batch.by_account.items()},
    }


def reconciliation(
    digest: SettlementDigest,
    plan: SettlementPlan,
    batches: tuple[PostedBatch, ...],
    gl: GLMapping,
    linked: dict[str, str | None],
) -> dict[str, Any]:
    """Deposit, categorised totals, posted totals and their differences; refunds with their orders."""
    categorised = sum((c.amount for c in plan.categories), Decimal(0))
    planned_clearing = plan.clearing_total(gl.clearing.account)
    posted: dict[str, Decimal] = {}
    for batch in batches:
        for account, amount in batch.by_account.items():
            posted[account] = posted.get(account, Decimal(0)) + amount
    converted = bool(gl.local_currency and gl.local_currency != digest.currency)
    posted_clearing = posted.get(gl.clearing.account, Decimal(0))
    return {
        "settlement_id": digest.settlement_id,
        "currency": digest.currency,
        "deposit": str(digest.total),
        "lines": digest.lines,
        "sum_of_lines": str(digest.sum_of_lines),
        "categories": [c.to_dict() for c in plan.categories],
        "categorised_total": str(categorised),
        "posted": {
            "currency": gl.local_currency if converted else digest.currency,
            "clearing_account": gl.clearing.account,
            "clearing": str(posted_clearing),
            "by_account": {a: str(v) for a, v in sorted(posted.items())},
            "batches": [_batch_dict(b) for b in batches],
        },
        "differences": {
            "lines_vs_deposit": str(digest.sum_of_lines - digest.total),
            "categorised_vs_deposit": str(categorised - digest.total),
            "planned_clearing_vs_deposit": str(planned_clearing - digest.total),
            # in the settlement currency only; converted postings differ by the rate
            "posted_clearing_vs_deposit": None if converted else str(posted_clearing - digest.total),
        },
        "refunds": {
            "count": digest.refund_count,
            "total": str(digest.refund_total),
            # the largest ones, each with the M3 order of the order it refunds (when known)
            "listed": [
                {
                    "order_id": r.order_id,
                    "adjustment_id": r.adjustment_id,
                    "amount": str(r.amount),
                    "lines": r.lines,
                    "m3_order_number": linked.get(r.order_id),
                    "linked": r.order_id in linked,
                }
                for r in digest.refunds
            ],
        },
        "balanced": digest.sum_of_lines == digest.total and (converted or posted_clearing == digest.total),
    }


def _linked_orders(engine: sa.Engine, digest: SettlementDigest) -> dict[str, str | None]:
    """Refunded orders this product knows: Amazon order id -> M3 order number."""
    ids = sorted({r.order_id for r in digest.refunds if r.order_id})
    found: dict[str, str | None] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            query = sa.select(order_trail.c.amazon_order_id, order_trail.c.m3_order_number).where(
                order_trail.c.amazon_order_id.in_(ids[start : start + 500])
            )
            found.update({str(a): m for a, m in conn.execute(query)})
    return found


def _save(
    source: SettlementSource, sha: str | None, digest: SettlementDigest, status: str, detail: str, **more: Any
) -> None:
    """The settlement's row: its status, figures, and which run and mapping version got it there."""
    rt = runtime()
    settlements.save(
        rt.engine,
        digest.settlement_id,
        status=status,
        detail=detail,
        mapping_version=rt.mappings.version,
        workflow_id=DBOS.workflow_id,
        **_figures(source, sha, digest),
        **more,
    )


def _figures(source: SettlementSource, sha: str | None, digest: SettlementDigest) -> dict[str, Any]:
    return {
        "file_sha256": sha,
        "report_id": source.report_id,
        "marketplace": digest.marketplace or source.marketplace,
        "currency": digest.currency,
        "total_amount": str(digest.total),
        "sum_of_lines": str(digest.sum_of_lines),
        "lines": digest.lines,
        "start_date": digest.start,
        "end_date": digest.end,
        "deposit_date": digest.deposit_date,
    }


# -- starting runs --------------------------------------------------------------------------------


async def run_settlement(source: SettlementSource, *, attempt: str | None = None) -> SettlementOutcome:
    """Run (or rejoin) the settlement's workflow in this process and wait for its outcome.

    A run of the same source and mapping version that already exists - finished, or pending after a
    crash and being recovered by this executor - is joined instead of started again. `attempt`
    names an operator's retry under the same mapping (e.g. after an account was opened in M3)."""
    workflow_id = workflow_id_for(source, runtime().mappings.version) + (f":{attempt}" if attempt else "")
    status = await DBOS.get_workflow_status_async(workflow_id)
    if status is not None:
        existing: WorkflowHandleAsync[SettlementOutcome] = await DBOS.retrieve_workflow_async(workflow_id)
        return await existing.get_result()
    with SetWorkflowID(workflow_id):
        handle = await DBOS.start_workflow_async(settlement_received, source)
    return await handle.get_result()


async def discover(*, created_since_days: int = 90) -> list[str]:
    """Start a run for every settlement report Amazon lists (getReports) or notified
    (REPORT_PROCESSING_FINISHED in the event inbox) that has none yet; settlements waiting for the GL
    table are run again when the table has changed. Returns the workflow ids started."""
    from datetime import UTC, datetime, timedelta

    from m3amazon.amazon.models.reports import SETTLEMENT_V2
    from m3amazon.ops import event_inbox

    rt = runtime()
    sources: dict[str, SettlementSource] = {}
    for row in await asyncio.to_thread(event_inbox.pending, rt.engine, "REPORT_PROCESSING_FINISHED"):
        event = json.loads(row["event"])
        if event.get("report_type") != SETTLEMENT_V2:
            continue  # another flow's report
        if event.get("processing_status") == "DONE":
            sources[event["report_id"]] = SettlementSource(
                name=f"report {event['report_id']}",
                report_id=event["report_id"],
                document_id=event.get("report_document_id"),
            )
        await asyncio.to_thread(event_inbox.mark_handled, rt.engine, row["notification_id"])
    api = ReportsApi(rt.amazon)
    since = datetime.now(UTC) - timedelta(days=created_since_days)
    async for report in api.settlement_reports(created_since=since):
        sources.setdefault(
            report.report_id,
            SettlementSource(
                name=f"report {report.report_id}",
                report_id=report.report_id,
                document_id=report.report_document_id,
                marketplace=report.marketplace_ids[0] if report.marketplace_ids else None,
            ),
        )
    for row in await asyncio.to_thread(settlements.waiting_for_mapping, rt.engine, rt.mappings.version):
        if row.get("report_id"):
            sources.setdefault(
                row["report_id"],
                SettlementSource(name=f"report {row['report_id']}", report_id=row["report_id"]),
            )
        elif row.get("file_sha256"):
            sources.setdefault(
                row["file_sha256"], SettlementSource(name=row["settlement_id"], sha256=row["file_sha256"])
            )
    finished = await asyncio.to_thread(settlements.finished_reports, rt.engine)
    started = []
    for source in sources.values():
        if source.report_id in finished:
            continue  # posted already (under any mapping version): not even downloaded again
        workflow_id = workflow_id_for(source, rt.mappings.version)
        if await DBOS.get_workflow_status_async(workflow_id) is not None:
            continue
        with SetWorkflowID(workflow_id):
            await DBOS.start_workflow_async(settlement_received, source)
        started.append(workflow_id)
    return started


class SettlementScheduler:
    """`discover` in the running service: shortly after the start, then every `interval_s`.

    Amazon publishes a settlement about every two weeks; the notifications in the event inbox are
    taken on the same beat. A failed round (Amazon unavailable) is logged and tried at the next."""

    def __init__(self, interval_s: float, first_after_s: float, lookback_days: int) -> None:
        self.interval_s, self.first_after_s, self.lookback_days = interval_s, first_after_s, lookback_days

    async def run(self, stop: asyncio.Event) -> None:
        delay = self.first_after_s
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
            try:
                started = await discover(created_since_days=self.lookback_days)
                if started:
                    log.info("settlements: %d run(s) started", len(started))
            except Exception:
                log.exception("settlement discovery failed; trying again in %.0f s", self.interval_s)
            delay = self.interval_s
