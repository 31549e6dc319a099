"""Personal data in the product's own tables: encrypted when keys are set, rotated, purged when due."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from m3amazon.m3.ion import inbox
from m3amazon.ops import crypto, db
from m3amazon.ops.crypto import KeyError_, PiiCipher, generate_key
from m3amazon.ops.incidents import Incident, open_incident
from m3amazon.ops.retention import PURGED, purge, rotate

BOD = "<SyncShipment><ShipToParty><Name>Erika Mustermann</Name></ShipToParty></SyncShipment>"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'pii.sqlite'}")
    db.create_tables(engine)
    yield engine
    crypto.use_for_storage(None)
    engine.dispose()


def _store(engine: sa.Engine, n: int = 1) -> inbox.StoredBod:
    stored, _ = inbox.record(
        engine,
        message_id=f"m{n}",
        bod_id=f"b{n}",
        verb="Sync",
        noun="Shipment",
        from_logical_id=None,
        payload=BOD,
    )
    return stored


def _raw_payloads(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.select(db.bod_inbox.c.payload).order_by(db.bod_inbox.c.id))]


def test_bod_payloads_are_encrypted_at_rest_and_read_back_plain(engine: sa.Engine) -> None:
    crypto.use_for_storage(PiiCipher([generate_key()]))
    stored = _store(engine)
    assert stored.payload == BOD
    (raw,) = _raw_payloads(engine)
    assert raw.startswith("enc1:") and "Mustermann" not in raw
    assert inbox.pending(engine)[0].payload == BOD


def test_without_keys_payloads_stay_plain_and_encrypted_ones_are_refused_clearly(engine: sa.Engine) -> None:
    _store(engine, 1)
    assert _raw_payloads(engine) == [BOD]
    crypto.use_for_storage(PiiCipher([generate_key()]))
    _store(engine, 2)
    crypto.use_for_storage(None)
    with pytest.raises(KeyError_, match="no PII key is configured"):
        inbox.pending(engine)


def test_rotation_moves_every_value_to_the_new_key(engine: sa.Engine) -> None:
    old, new = generate_key(), generate_key()
    crypto.use_for_storage(PiiCipher([old]))
    _store(engine, 1)
    _store(engine, 2)
    done = rotate(engine, PiiCipher([new, old]))
    assert done["m3a_bod_inbox.payload"] == 2
    crypto.use_for_storage(PiiCipher([new]))  # the old key is gone
    assert [b.payload for b in inbox.pending(engine)] == [BOD, BOD]


def test_purge_removes_personal_payloads_of_finished_work_older_than_the_retention(engine: sa.Engine) -> None:
    old_bod, new_bod, waiting = _store(engine, 1), _store(engine, 2), _store(engine, 3)
    inbox.mark_enqueued(engine, old_bod.inbox_id)
    inbox.mark_enqueued(engine, new_bod.inbox_id)
    for key, status in (("closed", "resolved"), ("open", "open")):
        open_incident(engine, Incident(key, "bod", "bad_bod", "a BOD", payload={"payload": BOD}))
        with engine.begin() as conn:
            conn.execute(db.incidents.update().where(db.incidents.c.key == key).values(status=status))
    now = datetime.now(UTC)
    with engine.begin() as conn:  # the first BOD and both incidents are 40 days old
        conn.execute(
            db.bod_inbox.update()
            .where(db.bod_inbox.c.id.in_([old_bod.inbox_id, waiting.inbox_id]))
            .values(received_at=now - timedelta(days=40))
        )
        conn.execute(db.incidents.update().values(updated_at=now - timedelta(days=40)))

    dry = purge(engine, 30, dry_run=True)
    assert (dry.bods, dry.incidents) == (1, 1)
    assert PURGED not in _raw_payloads(engine)

    report = purge(engine, 30)
    assert (report.bods, report.incidents, report.workflows) == (1, 1, 0)
    # the handled old BOD lost its XML; the recent one and the one not handled yet kept theirs
    assert _raw_payloads(engine) == [PURGED, BOD, BOD]
    with engine.connect() as conn:
        rows = {r.key: (r.payload, r.reason_code) for r in conn.execute(sa.select(db.incidents))}
    assert rows["closed"] == (PURGED, "bad_bod")  # the non-personal record stays
    assert json.loads(rows["open"][0]) == {"payload": BOD}  # an open incident keeps its evidence
    assert purge(engine, 30).bods == 0  # nothing is purged twice
