"""The real pipeline through the warm worker (MILLRACE_WARM=1): every stage runs in it, and what it
makes is what the cold run made; `make run` runs DVC itself in it; the Prefect flow runs in it too, with its own
Prefect settings, and so does the `dvc repro` the flow runs for a stage."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stages.http_ready import free_port
from tests.harness import flow_with_a_stage_past_its_timeout, gone, prefect_db, wait_until_preloaded, warm_worker

pytestmark = pytest.mark.slow

STAGES = ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"]
# Outputs that differ between any two runs: GE's results carry their run time, a release its
# version and time, and a TorchScript file its serialisation id and the stack that scripted it.
DIFFER_EVERY_RUN = {
    "reports/gates/raw.ge.json",
    "reports/gates/clean.ge.json",
    "reports/gates/labels.ge.json",
    "reports/deploy.json",
    "models/deploy",
}


def outputs(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


PYTHON = str(Path(sys.executable))


def jobs_run_in(log: Path, directory: Path) -> list[list[str]]:
    """The worker's log lines of the jobs run in `directory` ("<time> <module> for pid <pid> in <directory>"), split."""
    return [line.split() for line in log.read_text().splitlines() if line.endswith(f" in {directory}")]


@pytest.fixture
def warm(workspace) -> Iterator[tuple[Path, dict[str, str]]]:
    """The warm worker's folder and env for this test; the worker is stopped after it."""
    with warm_worker(workspace) as (folder, env):
        yield folder, env


def test_every_stage_runs_in_the_worker_and_makes_what_a_cold_run_made(built_repo, workspace, warm):
    folder, env = warm
    # A command that finds no worker runs cold and starts one. The run begins at once, as `make run`
    # after an idle spell does: the first stages are served while the worker is still preloading.
    subprocess.run([PYTHON, "-m", "stages.acquire", "--help"], cwd=workspace, env=env, check=True)
    run = subprocess.run(
        ["dvc", "repro", "--force"], cwd=workspace, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (log,) = folder.glob("millrace-warm-*/*.log")
    preloaded = wait_until_preloaded(log)
    assert "great_expectations" in preloaded and "lightning" in preloaded

    jobs = jobs_run_in(log, workspace)
    assert {job[1] for job in jobs} == {f"stages.{name}" for name in STAGES}
    cold, warm_outputs = outputs(built_repo), outputs(workspace)
    assert cold.keys() == warm_outputs.keys()
    assert {path for path in cold if cold[path] != warm_outputs[path]} <= DIFFER_EVERY_RUN


def test_make_run_hands_dvc_itself_to_the_worker_then_draws_the_plots_and_prints_the_summary(workspace, warm):
    folder, env = warm
    subprocess.run([PYTHON, "-m", "stages.acquire", "--help"], cwd=workspace, env=env, check=True)
    (log,) = folder.glob("millrace-warm-*/*.log")
    wait_until_preloaded(log)
    params = workspace / "params.yaml"
    params.write_text(params.read_text().replace("parity_tolerance: 0.0001", "parity_tolerance: 0.0002", 1))
    venv = Path(sys.executable).parents[1]
    # `-o`: this venv is installed already; the Makefile's own MILLRACE_WARM=1 must not be overridden by env's
    env = {k: v for k, v in env.items() if k != "MILLRACE_WARM"}
    command = ["make", "--no-print-directory", "run", f"VENV={venv}", "-o", f"{venv}/.installed"]
    made = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stdout + made.stderr
    jobs = [job[1] for job in jobs_run_in(log, workspace)]
    # `dvc repro` and `dvc plots show` ran in the worker, and the one stage that changed was handed over by DVC there
    assert jobs.count("stages.dvc_command") == 2 and jobs.count("stages.deploy") == jobs.count("stages.summary") == 1
    assert not {f"stages.{name}" for name in STAGES[:-1]} & set(jobs)
    assert "Running stage 'deploy'" in made.stdout  # DVC's own lines, from the worker's fork, on make's output
    assert (workspace / "dvc_plots" / "index.html").is_file() and "Test metrics" in made.stdout
    assert subprocess.run(["dvc", "status", "-q"], cwd=workspace, env=env).returncode == 0  # all up to date


def test_the_flow_runs_in_the_worker_with_its_own_prefect_settings(workspace, warm):
    """The worker imported Prefect with an API URL that answers nothing and another Prefect home; the flow
    handed to it has neither, so it must read its own settings: its own temporary server, its own database."""
    folder, env = warm
    elsewhere = folder / "prefect-home-of-the-worker"
    worker_env = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api", "PREFECT_HOME": str(elsewhere)}
    subprocess.run([PYTHON, "-m", "stages.acquire", "--help"], cwd=workspace, env=worker_env, check=True)
    (log,) = folder.glob("millrace-warm-*/*.log")
    assert "prefect.flows" in wait_until_preloaded(log)
    command = ["-m", "flows.pipeline", "--no-save", "-S", "deploy.parity_tolerance=0.0002"]
    flow = subprocess.Popen(
        [PYTHON, *command], cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output, _ = flow.communicate(timeout=600)
    assert flow.returncode == 0, output
    jobs = {tuple(job[1:5]) for job in jobs_run_in(log, workspace)}  # (module, "for", "pid", the command's pid)
    assert ("flows.pipeline", "for", "pid", str(flow.pid)) in jobs
    # the flow's `dvc repro` ran in the worker (stages/dvc_command.py), and handed its stage over too
    assert {"stages.dvc_command", "stages.deploy"} <= {job[0] for job in jobs}
    assert "Running stage 'deploy'" in output  # DVC's own output, forked from the worker, reached the flow's log
    # Prefect's logging was set up in the flow's process, on the command's output
    assert "Beginning flow run" in output and "Finished in state Completed()" in output
    _, tasks, flow_runs = prefect_db(workspace)  # under the command's PREFECT_HOME
    assert len(flow_runs) == 1 and {state for state, _ in tasks.values()} == {"COMPLETED"} and len(tasks) == 7
    assert not (elsewhere / "prefect.db").exists()


def test_a_stage_past_its_timeout_is_stopped_with_what_it_started_when_dvc_runs_in_the_worker(workspace, warm):
    """The stage's `dvc repro` is a process of the worker's, not of the flow's tether: stopping the tether's
    group must reach it, and the stage it started, through the hand-off."""
    folder, env = warm
    subprocess.run([PYTHON, "-m", "stages.acquire", "--help"], cwd=workspace, env=env, check=True)
    (log,) = folder.glob("millrace-warm-*/*.log")
    wait_until_preloaded(log)
    result, sleeper = flow_with_a_stage_past_its_timeout(workspace, env)
    assert result.returncode == 1
    assert "stage 'deploy' ran longer than flows.stage_timeout_seconds (3 s) and was stopped" in result.stderr
    assert gone(sleeper)
    assert "stages.dvc_command" in {line.split()[1] for line in log.read_text().splitlines() if " for pid " in line}
