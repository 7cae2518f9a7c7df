"""The deployments, declared from params.yaml's `flows` section, and the two ways to run them.

- `millrace-pipeline/on-demand`: the pipeline with parameters (overrides, until), run when asked:
  `prefect deployment run millrace-pipeline/on-demand -p 'overrides=["train.lr=0.003"]'`
- `millrace-retrain/nightly`: the retraining flow on `flows.retrain`'s schedule
- `millrace-drift/hourly`: the drift check on `flows.drift`'s schedule (drift starts the retraining)

They go to the Prefect server PREFECT_API_URL names, or with `--start-server` to a local one this
command starts (SQLite in PREFECT_HOME, 127.0.0.1:--port) and stops when it ends:
  python -m flows.deployments serve     register them and execute their runs in this process
                                        (`make serve-flows` is `serve --start-server`)
  python -m flows.deployments register  register them on the process work pool `flows.work_pool`
                                        (created if missing); `prefect worker start --pool <pool>`
                                        then executes them, on this machine or any with the repo
  python -m flows.deployments worker    register, then run a worker for the pool in this process
Every run works on this workspace (the `repo` parameter is its absolute path).
"""

from __future__ import annotations

if __name__ == "__main__":  # run as a command: settings first, before Prefect is imported (flows/__init__.py)
    from flows import prepare_command

    prepare_command(runs_a_flow=False)

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from flows import tether
from flows.retrain import DEPLOYMENT as RETRAIN_DEPLOYMENT
from millrace.config.params import Flows, Schedule, load_params
from millrace.ops.http_ready import wait_until_answers

ROOT = Path(__file__).resolve().parents[1]
SERVER_START_SECONDS = 90  # a first start creates the SQLite database (~10 s on 2 cores)
# (flow entrypoint, deployment name, the `flows` schedule it follows or None for on demand)
DEPLOYMENTS = (
    ("flows/pipeline.py:pipeline", "on-demand", None),
    ("flows/retrain.py:retrain", RETRAIN_DEPLOYMENT.split("/")[1], "retrain"),  # what the drift check starts
    ("flows/monitor.py:monitor", "hourly", "drift"),
)


def prefect_schedule(schedule: Schedule) -> Any:
    from prefect.schedules import Cron, Interval

    if schedule.cron is not None:
        return Cron(schedule.cron, timezone=schedule.timezone, active=schedule.active)
    return Interval(schedule.interval_seconds, timezone=schedule.timezone, active=schedule.active)


def _flow(entrypoint: str) -> Any:
    from prefect.flows import load_flow_from_entrypoint

    return load_flow_from_entrypoint(str(ROOT / entrypoint))


def deployment_specs(root: Path, settings: Flows) -> list[dict[str, Any]]:
    """What each deployment is: its flow's entrypoint, name, schedules and parameters."""
    specs = []
    for entrypoint, name, schedule in DEPLOYMENTS:
        schedules = [prefect_schedule(getattr(settings, schedule))] if schedule else []
        parameters = {"repo": str(root)}
        specs.append({"entrypoint": entrypoint, "name": name, "schedules": schedules, "parameters": parameters})
    return specs


def serve(root: Path, settings: Flows) -> None:
    from prefect import serve as prefect_serve

    deployments = [
        _flow(spec["entrypoint"]).to_deployment(
            name=spec["name"], schedules=spec["schedules"], parameters=spec["parameters"]
        )
        for spec in deployment_specs(root, settings)
    ]
    prefect_serve(*deployments)


def ensure_process_pool(name: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
        except ObjectAlreadyExists:
            kind = client.read_work_pool(name).type
        else:
            kind = "process"
    if kind != "process":
        raise SystemExit(f"work pool {name!r} has type {kind!r}; flows.work_pool must name a process pool")


def register(root: Path, settings: Flows) -> None:
    from prefect import flow

    ensure_process_pool(settings.work_pool)
    for spec in deployment_specs(root, settings):
        source = flow.from_source(source=str(root), entrypoint=spec["entrypoint"])
        source.deploy(
            name=spec["name"],
            work_pool_name=settings.work_pool,
            schedules=spec["schedules"],
            parameters=spec["parameters"],
            build=False,
            push=False,
            print_next_steps=False,
        )
    pool = settings.work_pool
    print(f"registered on work pool {pool!r}; execute their runs with: prefect worker start --pool {pool}")


def worker(root: Path, settings: Flows) -> None:
    register(root, settings)
    prefect = str(Path(sys.executable).with_name("prefect"))
    subprocess.run([prefect, "worker", "start", "--pool", settings.work_pool], check=False)


@contextmanager
def local_server(port: int) -> Iterator[None]:
    """A Prefect server on 127.0.0.1:`port`, the API for this process while the block runs (its log in
    PREFECT_HOME/server.log)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    home = Path(PREFECT_HOME.value()).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1"]
    with open(home / "server.log", "ab") as log:  # tethered: it ends with this command, even by kill -9
        server = tether.start([*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_until_answers(f"{url}/api/health", server, SERVER_START_SECONDS, poll=0.3):
            said = (home / "server.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise SystemExit(f"the Prefect server did not start on port {port}:\n" + "\n".join(said))
        print(f"Prefect server: {url} (UI and API; log in {home / 'server.log'})", flush=True)
        os.environ["PREFECT_API_URL"] = f"{url}/api"  # for the processes that execute the runs
        with temporary_settings(updates={PREFECT_API_URL: f"{url}/api"}):
            yield
    finally:
        tether.stop(server, grace_seconds=15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m flows.deployments", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("how", choices=["serve", "register", "worker"])
    parser.add_argument("--start-server", action="store_true", help="start a local Prefect server for this command")
    parser.add_argument("--port", type=int, default=4200, help="the local server's port (with --start-server)")
    args = parser.parse_args(argv)
    root = Path.cwd().resolve()
    settings = load_params(root / "params.yaml").flows
    command = {"serve": serve, "register": register, "worker": worker}[args.how]
    with local_server(args.port) if args.start_server else nullcontext():
        command(root, settings)


if __name__ == "__main__":
    main()
