"""Settings: env over YAML over defaults; secrets never printed; the example file is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from m3amazon.config import Settings

REPO = Path(__file__).resolve().parents[3]


def test_defaults_point_at_the_simulators_and_sqlite():
    settings = Settings.load(None)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.m3.mode == "onprem" and settings.m3.base_url
    assert set(settings.m3.channels) == {"AMAZON", "MERCHANT"}


def test_the_example_configuration_is_valid():
    settings = Settings.load(REPO / "examples" / "config.yaml")
    assert settings.m3.mode == "cloud" and settings.amazon.region == "EU"
    assert settings.m3.channels["AMAZON"].whlo == "FBA"


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("m3:\n  cono: 200\n  divi: ABC\nengine:\n  worker_concurrency: 4\n")
    monkeypatch.setenv("M3AMAZON_M3__CONO", "300")
    settings = Settings.load(config)
    assert settings.m3.cono == 300 and settings.m3.divi == "ABC" and settings.engine.worker_concurrency == 4


def test_secrets_come_from_files_and_never_show(tmp_path, monkeypatch):
    secret = tmp_path / "refresh"
    secret.write_text("Atzr|very-secret\n")
    monkeypatch.setenv("M3AMAZON_AMAZON__REFRESH_TOKEN_FILE", str(secret))
    monkeypatch.setenv("M3AMAZON_M3__PASSWORD", "m3-secret")
    settings = Settings.load(None)
    assert settings.amazon.refresh_token_value() == "Atzr|very-secret"
    assert settings.m3.password_value() == "m3-secret"
    shown = repr(settings) + settings.model_dump_json()
    assert "very-secret" not in shown and "m3-secret" not in shown


def test_mistakes_are_refused(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("m3:\n  mode: cloud\n")
    with pytest.raises(ValidationError, match="ionapi_file"):
        Settings.load(config)
    config.write_text("database_url: mysql://x\n")
    with pytest.raises(ValidationError, match="sqlite"):
        Settings.load(config)
    config.write_text("databse_url: sqlite:///x\n")
    with pytest.raises(ValidationError, match="databse_url"):
        Settings.load(config)
    with pytest.raises(FileNotFoundError):
        Settings.load(tmp_path / "missing.yaml")
