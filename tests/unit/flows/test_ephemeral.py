"""Prefect's temporary server is started early only where no settings name a server."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("where", "text", "configured"),
    [
        ("home/profiles.toml", '[profiles.local]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n', True),
        ("prefect.toml", '[api]\nurl = "http://127.0.0.1:4200/api"\n', True),
        (".env", "PREFECT_API_URL=http://127.0.0.1:4200/api\n", True),
        ("home/profiles.toml", '[profiles.local]\nPREFECT_LOGGING_LEVEL = "INFO"\n', False),
    ],
)
def test_a_server_is_started_early_only_where_no_settings_name_one(tmp_path, monkeypatch, where, text, configured):
    from flows.ephemeral import server_may_be_configured

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    assert not server_may_be_configured()
    (tmp_path / where).parent.mkdir(exist_ok=True)
    (tmp_path / where).write_text(text)
    assert server_may_be_configured() is configured
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert server_may_be_configured()
