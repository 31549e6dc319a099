"""Every end-to-end test's logs are scanned for buyers' personal data and secrets.

The fixture records each `Sandbox` a test starts; after the test, every `*.log` file written under
the test's tmp_path (worker processes, the demo) is searched for the personal data of the orders
those sandboxes generated and for the secrets the product was given (tests/m3a_pii_scan.py). A hit
fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from m3a_pii_scan import personal_data, scan, secrets
from m3amazon.sim.sandbox import Sandbox


@pytest.fixture(autouse=True)
def scan_logs_for_pii_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    started: list[Sandbox] = []
    original = Sandbox.start.__func__  # type: ignore[attr-defined]

    def recording_start(cls: type[Sandbox], *args: Any, **kwargs: Any) -> Sandbox:
        box = original(cls, *args, **kwargs)
        started.append(box)
        return box

    monkeypatch.setattr(Sandbox, "start", classmethod(recording_start))
    yield
    needles = [n for box in started for n in personal_data(box) + secrets(box)]
    logs = list(tmp_path.rglob("*.log"))
    if not needles or not logs:
        return
    found = scan(logs, needles)
    assert not found, f"personal data or secrets in the logs: {found}"
