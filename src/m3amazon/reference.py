"""Where the vendor reference data (Amazon's models, M3's MI field tables) is on this machine.

The product never needs it at run time: what it needs is committed as derived facts
(`make derive-reference`). The derivation script and the reference tests look for it here:
`$M3AMAZON_REFERENCE_DIR`, else `../shared` next to the repository, else `/work/shared` (where
this project's workplace keeps it, whatever directory a CI clone lands in).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FALLBACKS = (REPO.parent / "shared", Path("/work/shared"))


def candidates() -> list[Path]:
    configured = os.environ.get("M3AMAZON_REFERENCE_DIR")
    return [Path(configured)] if configured else list(FALLBACKS)


def find_reference_dir(part: str | None = None) -> Path | None:
    """The first candidate directory that exists (and holds `part`, when given)."""
    for path in candidates():
        if path.is_dir() and (part is None or (path / part).is_dir()):
            return path
    return None
