"""Encryption at rest: round trips, rotation, plain legacy values, and the engine's checkpoints."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from dbos import DBOS

from m3amazon.canonical import Address
from m3amazon.ops.crypto import (
    EncryptingSerializer,
    KeyError_,
    PiiCipher,
    generate_key,
    is_encrypted,
    load_keys,
)


def test_round_trip_and_prefix():
    cipher = PiiCipher([generate_key()])
    stored = cipher.encrypt("Jürgen Müller, Hohe Straße 1")
    assert is_encrypted(stored) and "Müller" not in stored
    assert cipher.decrypt(stored) == "Jürgen Müller, Hohe Straße 1"
    assert cipher.decrypt("written before encryption") == "written before encryption"


def test_rotation_keeps_old_values_readable_then_moves_them_to_the_new_key():
    old, new = generate_key(), generate_key()
    stored = PiiCipher([old]).encrypt("secret")
    both = PiiCipher([new, old])
    assert both.decrypt(stored) == "secret"
    rotated = both.rotate(stored)
    assert PiiCipher([new]).decrypt(rotated) == "secret"
    with pytest.raises(KeyError_, match="cannot be decrypted"):
        PiiCipher([new]).decrypt(stored)


def test_keys_come_from_a_value_or_a_file(tmp_path: Path):
    first, second = generate_key(), generate_key()
    path = tmp_path / "keys"
    path.write_text(f"# newest first\n{first}\n{second}\n")
    assert load_keys(file=path) == [first, second]
    assert load_keys(f"{first},{second}") == [first, second]
    with pytest.raises(KeyError_, match="new-key"):
        load_keys("")
    with pytest.raises(KeyError_, match="not a valid Fernet key"):
        PiiCipher(["not-a-key"])


@DBOS.step()
async def _fetch_address() -> Address:
    return Address(name="Jürgen Müller", line1="Hohe Straße 1", city="Köln", country_code="DE")


@DBOS.workflow()
async def _crypto_workflow() -> str:
    address = await _fetch_address()
    return address.city or ""


def test_engine_checkpoints_hold_no_plain_personal_data(tmp_path: Path):
    database = tmp_path / "engine.sqlite"
    cipher = PiiCipher([generate_key()])

    async def run() -> str:
        DBOS(
            config={
                "name": "crypto-test",
                "system_database_url": f"sqlite:///{database}",
                "serializer": EncryptingSerializer(cipher),
                "log_level": "WARNING",
            }
        )
        DBOS.launch()
        try:
            return await _crypto_workflow()
        finally:
            DBOS.destroy()

    assert asyncio.run(run()) == "Köln"
    with sqlite3.connect(database) as conn:
        outputs = [row[0] for row in conn.execute("SELECT output FROM operation_outputs")]
    assert outputs and all(o.startswith("enc1:") for o in outputs if o)
    assert not any("Müller".encode() in (o or "").encode() for o in outputs)
