"""A flow run as a command prepares the process, and starts Prefect's server early unless asked for --help."""

from __future__ import annotations

import sys


def test_a_flow_command_starts_prefects_server_early_unless_it_only_says_how_to_use_it(monkeypatch):
    import flows
    import flows.ephemeral

    started = []
    monkeypatch.setattr(flows.ephemeral, "start_early", lambda: started.append(True))
    monkeypatch.setattr(sys, "argv", ["flows.pipeline", "-S", "train.lr=0.1"])
    flows.prepare_command()
    assert started == [True]
    monkeypatch.setattr(sys, "argv", ["flows.retrain", "--help"])
    flows.prepare_command()
    assert started == [True]  # nothing to run, no server to start
    flows.prepare_command(runs_a_flow=False)  # flows.deployments starts its own server, or uses PREFECT_API_URL's
    assert started == [True]
