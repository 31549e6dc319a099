"""`m3amazon config check` against the sandbox: healthy both ways, plain words when not."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from m3amazon.config import Settings
from m3amazon.connectivity import check_all
from m3amazon.sim.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    box = Sandbox.start(tmp_path_factory.mktemp("sandbox"), catalog_size=5)
    yield box
    box.stop()


def _results(settings: Settings) -> dict[str, tuple[bool, str]]:
    return {r.name: (r.ok, r.detail) for r in asyncio.run(check_all(settings))}


def test_on_premises_settings_are_healthy(sandbox: Sandbox, tmp_path: Path) -> None:
    results = _results(sandbox.settings(f"sqlite:///{tmp_path / 'x.sqlite'}"))
    assert all(ok for ok, _ in results.values()), results
    assert "on-premises" in results["m3"][1] and "M3SRVADM" in results["m3"][1]
    assert "LWA token issued" in results["amazon"][1]


def test_cloud_settings_with_an_ionapi_file_are_healthy(sandbox: Sandbox, tmp_path: Path) -> None:
    config = sandbox.config(f"sqlite:///{tmp_path / 'x.sqlite'}")
    config["m3"] = {"mode": "cloud", "ionapi_file": str(sandbox.write_ionapi(tmp_path / "sim.ionapi"))}
    results = _results(Settings(**config))
    assert results["m3"][0], results["m3"]
    assert "ION API" in results["m3"][1]


def test_failures_are_explained_in_plain_words(sandbox: Sandbox, tmp_path: Path) -> None:
    config = sandbox.config(f"sqlite:///{tmp_path / 'x.sqlite'}")
    config["amazon"]["ca_bundle"] = None  # the simulator's local CA is not trusted then
    config["m3"]["base_url"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    config["m3"]["password"] = "wrong"
    results = _results(Settings(**config))
    assert not results["amazon"][0] and "not trusted" in results["amazon"][1]
    assert not results["m3"][0] and "cannot connect" in results["m3"][1]
    assert results["database"][0] and results["sqs"][0]


def test_wrong_m3_password_is_reported(sandbox: Sandbox, tmp_path: Path) -> None:
    config = sandbox.config(f"sqlite:///{tmp_path / 'x.sqlite'}")
    config["m3"]["password"] = "wrong"
    ok, detail = _results(Settings(**config))["m3"]
    assert not ok and ("401" in detail or "auth" in detail.lower()), detail
