"""The settlement flow's own records: the original files and each settlement's state and report.

Files are kept once per SHA-256 of their content, as received (gzip-compressed when they came
uncompressed), so an operator can always see exactly what Amazon sent and a settlement can be
read again after its mapping was fixed. A settlement's row says where it stands:

- `invalid`   the file failed validation (incident `settlement_invalid`), nothing posted
- `unmapped`  triples without a GL rule (incident `gl_unmapped`), waits for the table
- `failed`    M3 refused a batch (incident `settlement_posting`)
- `posted`    every period's GL batch is in M3; `reconciliation` holds the report
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from m3amazon.ops.db import settlement_files, settlements

STATUSES = ("invalid", "unmapped", "failed", "posted")


def store_file(engine: Engine, content: bytes, source: str) -> str:
    """Keep a settlement file (once per content); returns its SHA-256."""
    sha = hashlib.sha256(content).hexdigest()
    stored = content if content[:2] == b"\x1f\x8b" else gzip.compress(content, compresslevel=6)
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(settlement_files.c.sha256).where(settlement_files.c.sha256 == sha)
        ).first()
        if not exists:
            conn.execute(
                settlement_files.insert().values(
                    sha256=sha,
                    source=source[:300],
                    size=len(content),
                    content=stored,
                    received_at=datetime.now(UTC),
                )
            )
    return sha


def write_file(engine: Engine, sha: str, directory: Path) -> Path:
    """The stored file `sha` written to `directory` (as stored: gzip; the reader unpacks it)."""
    with engine.connect() as conn:
        content = conn.execute(
            sa.select(settlement_files.c.content).where(settlement_files.c.sha256 == sha)
        ).scalar_one()
    path = directory / f"settlement-{sha[:16]}.tsv.gz"
    path.write_bytes(content)
    return path


def file_line(engine: Engine, sha: str, line: int) -> str | None:
    """Line `line` (1 = header) of a stored file, for incidents; None when it has no such line."""
    with engine.connect() as conn:
        content = conn.execute(
            sa.select(settlement_files.c.content).where(settlement_files.c.sha256 == sha)
        ).scalar_one_or_none()
    if content is None or line < 1:
        return None
    try:
        with gzip.open(io.BytesIO(content)) as stream:
            for number, raw in enumerate(stream, start=1):
                if number == line:
                    return str(raw.decode("utf-8", "replace").rstrip("\r\n"))[:2000]
    except (OSError, EOFError):
        return None
    return None


def link_file(engine: Engine, sha: str, settlement_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            settlement_files.update()
            .where(settlement_files.c.sha256 == sha)
            .values(settlement_id=settlement_id)
        )


def save(engine: Engine, settlement_id: str, **values: Any) -> None:
    """Insert or update a settlement's row (JSON-able values of `batches`/`reconciliation` dumped)."""
    now = datetime.now(UTC)
    for name in ("batches", "reconciliation"):
        if name in values and not isinstance(values[name], str | None):
            values[name] = json.dumps(values[name], default=str)
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(settlements.c.settlement_id).where(settlements.c.settlement_id == settlement_id)
        ).first()
        if exists:
            conn.execute(
                settlements.update()
                .where(settlements.c.settlement_id == settlement_id)
                .values(**values, updated_at=now)
            )
        else:
            conn.execute(
                settlements.insert().values(
                    settlement_id=settlement_id, created_at=now, updated_at=now, **values
                )
            )


def _row(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for name in ("batches", "reconciliation"):
        if out.get(name):
            out[name] = json.loads(out[name])
    return out


def get(engine: Engine, settlement_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(settlements).where(settlements.c.settlement_id == settlement_id)).first()
    return _row(row) if row else None


def list_all(engine: Engine, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    query = sa.select(settlements).order_by(settlements.c.updated_at.desc()).limit(limit)
    if status:
        query = query.where(settlements.c.status == status)
    with engine.connect() as conn:
        return [_row(row) for row in conn.execute(query)]


def waiting_for_mapping(engine: Engine, mapping_version: str) -> list[dict[str, Any]]:
    """Settlements held for unmapped triples under another mapping version than `mapping_version`."""
    query = sa.select(settlements).where(
        settlements.c.status == "unmapped", settlements.c.mapping_version != mapping_version
    )
    with engine.connect() as conn:
        return [_row(row) for row in conn.execute(query)]


def finished_reports(engine: Engine) -> set[str]:
    """Report ids whose settlement is posted: nothing left to do for them."""
    query = sa.select(settlements.c.report_id).where(
        settlements.c.status == "posted", settlements.c.report_id.is_not(None)
    )
    with engine.connect() as conn:
        return {str(row[0]) for row in conn.execute(query)}
