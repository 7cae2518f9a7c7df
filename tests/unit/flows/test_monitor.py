"""Drift found by the monitoring deployment starts the retraining deployment without waiting for it."""

from __future__ import annotations

from types import SimpleNamespace


def test_drift_in_a_deployment_run_starts_the_retraining_deployment_without_waiting(tmp_path, monkeypatch):
    import asyncio

    from prefect.deployments import flow_runs

    from flows import monitor

    started = []

    async def run_deployment(name, **options):  # Prefect's, which needs a server: what it is asked to do
        started.append((name, options))
        return SimpleNamespace(name="brave-otter")

    monkeypatch.setattr(monitor.deployment, "get_id", lambda: "5d0c")
    monkeypatch.setattr(flow_runs, "arun_deployment", run_deployment)
    said = asyncio.run(monitor.start_retraining(tmp_path, "drift in body_mass_g"))
    assert said == "retraining run 'brave-otter' of millrace-retrain/nightly started"
    parameters = {"repo": str(tmp_path), "reason": "drift in body_mass_g"}
    assert started == [("millrace-retrain/nightly", {"parameters": parameters, "timeout": 0})]
