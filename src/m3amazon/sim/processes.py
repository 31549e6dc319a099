"""Run the product as a real worker process against a sandbox: start it, wait for it, kill it.

Used by the end-to-end tests, the benchmarks and (later) the chaos suite, which need the worker in
its own process so that SIGKILL means what it means in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from m3amazon.ops import trail
from m3amazon.ops.db import create_engine

READY_LINE = "engine started"


class WorkerProcess:
    """`python -m m3amazon run --config FILE --no-web` in its own process group."""

    def __init__(
        self,
        config: dict[str, Any],
        workdir: Path,
        name: str = "worker",
        *,
        web: bool = False,
        options: Sequence[str] = (),
    ) -> None:
        """`web`: serve the web surface too (config `web.port`), e.g. the IMS endpoint for BODs;
        `options`: more `m3amazon run` options (`--no-intake --no-work`: a fleet's web process)."""
        self.name = name
        self.executor_id = str((config.get("engine") or {}).get("executor_id") or name)
        self.web = web
        self.options = list(options)
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self) -> WorkerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("M3AMAZON_CONFIG", None)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "m3amazon", "run", "--config", str(self.config_path)]
                + ([] if self.web else ["--no-web"])
                + self.options,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> WorkerProcess:
        """Block until the engine has launched (and recovered what it had pending)."""
        wait_until(
            lambda: READY_LINE in self.log()[self._log_offset :], timeout_s, "the worker to start", self
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye; whatever was in flight stays in flight."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_until(
    predicate: Callable[[], bool],
    timeout_s: float,
    what: str,
    worker: WorkerProcess | None = None,
    interval_s: float = 0.1,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if worker is not None and worker.exited() is not None:
            raise AssertionError(
                f"worker exited with {worker.exited()} while waiting for {what}:\n{worker.log()[-4000:]}"
            )
        time.sleep(interval_s)
    tail = f"\nworker log:\n{worker.log()[-4000:]}" if worker else ""
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}{tail}")


class TrailReader:
    """Reads the order trail of a worker's database from another process."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url, pool_size=1)

    def outcomes(self) -> dict[str, int]:
        try:
            return trail.outcome_counts(self.engine)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # tables not created yet
            return {}

    def finished(self) -> int:
        counts = self.outcomes()
        return sum(counts.get(outcome, 0) for outcome in trail.TERMINAL_OUTCOMES)

    def close(self) -> None:
        self.engine.dispose()
