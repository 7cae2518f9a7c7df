"""The retraining flow: fresh data, the whole pipeline, and a deployment only of a better model.

Acquire runs even when DVC sees no change (a URL without sha256 or a database may hold new rows);
DVC then reruns exactly what the new data touches, and nothing when it is unchanged. The deploy
stage's delivery standard and champion/challenger check refuse a model that is not good enough or
worse than the active release, which fails the run and posts to the webhook (flows/notify.py).
Started nightly by its deployment (flows/deployments.py) and by the drift check on drift.
Run: `python -m flows.retrain` (an ephemeral Prefect server unless PREFECT_API_URL is set).
"""

from __future__ import annotations

if __name__ == "__main__":  # run as a command: settings first, before Prefect is imported (flows/__init__.py)
    from flows import prepare_command

    prepare_command()

from typing import Any

from prefect import flow, get_run_logger

from flows import run_by_hand
from flows.ephemeral import use_temporary_server
from flows.pipeline import pipeline

DEPLOYMENT = "millrace-retrain/nightly"  # flow name / deployment name, as flows/deployments.py registers it


# Async as flows.pipeline is, for the same reason (Prefect does not wait on an async run's heartbeat).
@flow(name="millrace-retrain", log_prints=True)
async def retrain(repo: str = ".", overrides: list[str] | None = None, reason: str = "scheduled") -> dict[str, Any]:
    get_run_logger().info("retraining (%s): fresh data, then whatever it changes", reason)
    return await pipeline(repo=repo, overrides=overrides, refresh_data=True)


if __name__ == "__main__":
    use_temporary_server()
    run_by_hand(retrain(reason="started by hand"))
