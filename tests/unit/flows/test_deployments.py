"""The deployments' schedules come from params.yaml, and every deployed flow is async."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.deployments import deployment_specs
from millrace.config.params import Flows, ParamsError
from tests.helpers.params import parse


def test_schedules_come_from_params_and_a_wrong_one_is_named():
    settings = parse(
        {"flows": {"retrain": {"cron": "30 1 * * 1-5", "timezone": "Europe/Paris"}, "drift": {"interval_seconds": 600}}}
    ).flows
    specs = {spec["name"]: spec for spec in deployment_specs(Path("/srv/repo"), settings)}
    assert specs["on-demand"]["schedules"] == []
    (nightly,) = specs["nightly"]["schedules"]
    assert (nightly.cron, nightly.timezone) == ("30 1 * * 1-5", "Europe/Paris")
    (hourly,) = specs["hourly"]["schedules"]
    assert hourly.interval.total_seconds() == 600
    assert all(spec["parameters"] == {"repo": "/srv/repo"} for spec in specs.values())
    with pytest.raises(ParamsError, match=r"flows.drift: give either cron or interval_seconds"):
        parse({"flows": {"drift": {"cron": "0 * * * *", "interval_seconds": 60}}})
    with pytest.raises(ParamsError, match=r"needs five fields"):
        parse({"flows": {"retrain": {"cron": "@nightly"}}})
    assert Flows().retries == 3


def test_every_deployed_flow_is_async_so_its_run_does_not_wait_on_the_heartbeat_thread():
    # Prefect ends a sync flow run by joining its heartbeat thread, which sleeps a second at a time: up
    # to 1 s of every run (0.45 s of a no-op pipeline run, bench/orchestration.py). An async run it does not join.
    from flows.deployments import DEPLOYMENTS, _flow

    assert [entrypoint for entrypoint, _, _ in DEPLOYMENTS if not _flow(entrypoint).isasync] == []
