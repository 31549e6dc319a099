"""Encryption at rest for personal data in the product's own storage.

Amazon's Data Protection Policy asks that buyer data never be stored unprotected. The product keeps
such data in two places: payloads in its own tables (incidents, the order trail) and the durable
engine's checkpoints (a fetched order, with the buyer's name and address, is a step result). Both
go through `PiiCipher`:

- Keys are Fernet keys (AES-128-CBC + HMAC-SHA256, from `cryptography`), given as a list: the first
  encrypts, all decrypt. Rotation: put a new key first, keep the old ones until `rotate` has
  re-encrypted what was stored (see docs/security.md), then drop them.
- Encrypted text carries a prefix (`enc1:`), so readers tell encrypted from plain values and old
  plain rows stay readable after encryption is switched on.
- `EncryptingSerializer` is a DBOS serializer: checkpoints are pickled as DBOS does, then encrypted.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from dbos import Serializer

PREFIX = "enc1:"


class KeyError_(ValueError):
    """The key material is missing or unusable; the message says what to do."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_keys(value: str | None = None, file: Path | None = None) -> list[str]:
    """Keys from a comma-separated value (e.g. $M3AMAZON_PII_KEYS) or a file with one key per line."""
    text = value if value else (file.read_text(encoding="utf-8") if file else "")
    keys = [k.strip() for k in text.replace(",", "\n").splitlines() if k.strip() and not k.startswith("#")]
    if not keys:
        raise KeyError_(
            "no PII encryption key: set security.pii_keys or security.pii_keys_file "
            "(generate one with `m3amazon pii new-key`)"
        )
    return keys


class PiiCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise KeyError_("at least one key is needed")
        try:
            self._fernet = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
        except (ValueError, TypeError) as exc:
            raise KeyError_(f"a PII key is not a valid Fernet key: {exc}") from exc

    @classmethod
    def from_env(cls, variable: str = "M3AMAZON_PII_KEYS") -> PiiCipher:
        return cls(load_keys(os.environ.get(variable)))

    def encrypt(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The plain text of a stored value; plain (never encrypted) values are returned as they are."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise KeyError_(
                "a stored value cannot be decrypted with the configured keys "
                "(was a key removed before rotation finished?)"
            ) from exc

    def rotate(self, stored: str) -> str:
        """The value re-encrypted with the first key (plain values get encrypted)."""
        if not stored.startswith(PREFIX):
            return self.encrypt(stored)
        return PREFIX + self._fernet.rotate(stored[len(PREFIX) :].encode("ascii")).decode("ascii")

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        return self._fernet.decrypt(token)


def is_encrypted(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(PREFIX)  # type: ignore[union-attr]


class EncryptingSerializer(Serializer):
    """DBOS checkpoints (workflow inputs, step outputs) pickled, then encrypted."""

    def __init__(self, cipher: PiiCipher) -> None:
        self._cipher = cipher

    def serialize(self, data: Any) -> str:
        return PREFIX + self._cipher.encrypt_bytes(pickle.dumps(data)).decode("ascii")

    def deserialize(self, serialized_data: str) -> Any:
        # DBOS records each checkpoint's serializer name and reads older ("py_pickle") rows itself.
        raw = self._cipher.decrypt_bytes(serialized_data.removeprefix(PREFIX).encode("ascii"))
        return pickle.loads(raw)

    def name(self) -> str:
        return "m3amazon_encrypted_pickle"


#: The cipher for personal data in the product's own tables (set by bootstrap from security.pii_keys;
#: None: stored as given). One per process, like the engine's serializer.
_storage_cipher: PiiCipher | None = None


def use_for_storage(cipher: PiiCipher | None) -> None:
    global _storage_cipher
    _storage_cipher = cipher


def seal(text: str) -> str:
    """`text` as it is stored: encrypted when keys are configured, as given otherwise."""
    return _storage_cipher.encrypt(text) if _storage_cipher is not None else text


def unseal(stored: str) -> str:
    """The plain text of a stored value (plain values pass through)."""
    if not is_encrypted(stored):
        return stored
    if _storage_cipher is None:
        raise KeyError_(
            "a stored value is encrypted but no PII key is configured "
            "(set security.pii_keys or security.pii_keys_file)"
        )
    return _storage_cipher.decrypt(stored)
