"""The pieces the Prefect flows are made of, without a Prefect server: the workspace lock, which
failures are retried, stopping a stage's whole process group, overrides, schedules, the webhook."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from prefect.states import Failed

from flows import QUIET_ENV, notify, tether
from flows.deployments import deployment_specs
from flows.lock import PipelineBusy, ensure_free, workspace_lock
from flows.overrides import RECORD, apply_overrides, overridden, restore_after_killed_run
from flows.pipeline import stages_to_run
from flows.stage_task import StageFailed, TransientStageFailure, _failure, retry_if_transient, stale_stages
from stages.cli import run_stage
from stages.download import DownloadError
from stages.errors import TRANSIENT_EXIT
from stages.params import Flows, ParamsError, parse_params
from tests.conftest import ROOT
from tests.harness import SLEEPING_STAGE, gone, running, sh, tool_env, wait_until_preloaded, warm_worker

HOLD = "import sys, time; from pathlib import Path; from flows.lock import workspace_lock\n" + (
    "with workspace_lock(Path(sys.argv[1]), 'flow run \"nightly\"'):\n    print('held', flush=True); time.sleep(60)"
)


def holder(root: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_workspace_is_refused_naming_the_holder_and_kill_9_frees_it(tmp_path):
    process = holder(tmp_path)
    try:
        with pytest.raises(PipelineBusy, match=r"pipeline busy: flow run \"nightly\" \(pid \d+, since"):
            with workspace_lock(tmp_path, "second"):
                pass
        with pytest.raises(PipelineBusy, match=r"flow run \"nightly\""):  # the quick check, before Prefect starts
            ensure_free(tmp_path)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    ensure_free(tmp_path)
    with workspace_lock(tmp_path, "third"):  # the OS dropped the dead holder's lock: nothing stale
        assert "third" in (tmp_path / ".millrace/flow.lock").read_text()
    assert (tmp_path / ".millrace/flow.lock").read_text() == ""


DVC_SAID = [
    "Running stage 'acquire':",
    "> python -m stages.acquire",
    "WARNING stages.download: attempt 1/1 failed",
    "error: data.source (https://example.invalid/x.csv): HTTP 503 Service Unavailable",
    "ERROR: failed to reproduce 'acquire': failed to run: python -m stages.acquire, exited with {status}",
]


def test_only_a_stage_that_exits_transiently_is_retried():
    transient = _failure("acquire", 255, [line.format(status=TRANSIENT_EXIT) for line in DVC_SAID])
    permanent = _failure("acquire", 255, [line.format(status=1) for line in DVC_SAID])
    assert isinstance(transient, TransientStageFailure) and type(permanent) is StageFailed
    said = "data.source (https://example.invalid/x.csv): HTTP 503 Service Unavailable"
    assert str(permanent) == f"stage 'acquire' failed (dvc exit 255): {said}"
    assert retry_if_transient(None, None, Failed(data=transient)) is True
    assert retry_if_transient(None, None, Failed(data=permanent)) is False


def test_a_transient_error_exits_with_the_status_the_flows_retry():
    def fetch() -> None:
        raise DownloadError("data.source: connection refused", transient=True)

    with pytest.raises(SystemExit) as exited:
        run_stage(fetch)
    assert exited.value.code == TRANSIENT_EXIT
    with pytest.raises(SystemExit) as exited:
        run_stage(lambda: (_ for _ in ()).throw(DownloadError("sha256 mismatch")))
    assert exited.value.code == 1


def test_stopping_a_stage_stops_its_whole_process_group():
    process = tether.start(  # a stage and its child that both ignore SIGTERM
        ["bash", "-c", "trap '' TERM; sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    child = int(process.stdout.readline())
    tether.stop(process, grace_seconds=1)  # SIGTERM is ignored: SIGKILL follows after the grace period
    assert process.returncode == -signal.SIGKILL
    assert gone(child)  # no orphan left behind


def test_until_names_a_stage_of_dvc_yaml():
    assert stages_to_run(ROOT, "clean") == ["acquire", "clean"]
    assert stages_to_run(ROOT, None)[-1] == "deploy"
    with pytest.raises(ValueError, match=r"until='cleaning': not a stage of dvc.yaml \(acquire, clean,"):
        stages_to_run(ROOT, "cleaning")


def test_overrides_use_dvc_exp_run_s_syntax_and_are_checked_against_the_schema(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.01   # step size\n")
    apply_overrides(tmp_path, ["train.lr=0.003", "+train.max_epochs=5"])  # `+` adds a key, as with -S
    assert parse_params_file(tmp_path)["train"] == {"lr": 0.003, "max_epochs": 5}
    assert "# step size" in (tmp_path / "params.yaml").read_text()  # comments kept
    with pytest.raises(ParamsError, match=r"overrides train.epochs=3: Could not override 'train.epochs'"):
        apply_overrides(tmp_path, ["train.epochs=3"])
    with pytest.raises(ParamsError, match=r"train.lrr: unknown key"):
        apply_overrides(tmp_path, ["+train.lrr=0.1"])


def test_overrides_are_taken_back_by_a_failed_run_and_by_the_run_after_a_killed_one(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  lr: 0.01\n")
    with pytest.raises(RuntimeError), overridden(tmp_path, ["train.lr=0.5"]):
        assert "lr: 0.5" in params.read_text()
        raise RuntimeError("a stage failed")
    assert params.read_text() == "train:\n  lr: 0.01\n" and not (tmp_path / RECORD).exists()
    with overridden(tmp_path, ["train.lr=0.5"]):
        pass
    assert "lr: 0.5" in params.read_text() and not (tmp_path / RECORD).exists()  # kept, as dvc exp run does

    never_left = []  # held, so that no cleanup runs when the generator would be collected

    def killed_during_run() -> None:  # what a run killed outright leaves: its overrides and its record
        params.write_text("train:\n  lr: 0.01\n")
        never_left.append(overridden(tmp_path, ["train.lr=0.5"]))
        never_left[-1].__enter__()  # and never exited: kill -9 runs no cleanup

    killed_during_run()
    assert restore_after_killed_run(tmp_path) == (
        "params.yaml put back as it was before a killed flow run applied its overrides"
    )
    assert params.read_text() == "train:\n  lr: 0.01\n" and not (tmp_path / RECORD).exists()
    assert restore_after_killed_run(tmp_path) is None
    killed_during_run()
    params.write_text(params.read_text() + "# the user's own edit\n")
    assert "edited since: left as it is" in restore_after_killed_run(tmp_path)
    assert params.read_text().endswith("# the user's own edit\n") and not (tmp_path / RECORD).exists()


def parse_params_file(root: Path) -> dict:
    import yaml

    return yaml.safe_load((root / "params.yaml").read_text())


def test_schedules_come_from_params_and_a_wrong_one_is_named():
    settings = parse_params(
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
        parse_params({"flows": {"drift": {"cron": "0 * * * *", "interval_seconds": 60}}})
    with pytest.raises(ParamsError, match=r"needs five fields"):
        parse_params({"flows": {"retrain": {"cron": "@nightly"}}})
    assert Flows().retries == 3


def test_a_flow_run_from_a_terminal_sends_prefect_no_usage_report(tmp_path):
    # Prefect 3.8 reports usage from a terminal when DO_NOT_TRACK is unset: at `import prefect` and when a
    # flow is defined, before any of the flow's own code runs. Importing `flows` must have turned it off.
    import pty

    from prefect._internal.analytics.ci_detection import CI_ENV_VARS  # a CI variable turns it off too

    env = {k: v for k, v in tool_env(tmp_path).items() if k not in QUIET_ENV and k not in CI_ENV_VARS}
    env["PYTHONPATH"] = str(ROOT)
    pid, terminal = pty.fork()
    if pid == 0:  # a terminal session, as a user's
        probe = "import threading, flows.pipeline; print(sorted(t.name for t in threading.enumerate()))"
        os.execve(sys.executable, [sys.executable, "-c", probe], env)
    said = b""
    while chunk := _read_or_nothing(terminal):
        said += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, said.decode(errors="replace")
    assert b"usage data" not in said  # Prefect's first-run telemetry notice
    assert b"MainThread" in said and b"prefect-analytics" not in said  # the thread that sends its events


def _read_or_nothing(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal closed with the child
        return b""


def test_a_flow_run_by_hand_knows_itself_while_python_m_imports_its_package(monkeypatch):
    import flows

    monkeypatch.setattr(sys, "argv", ["-m", "-S", "a=-m"])  # what runpy shows while it imports the packages
    monkeypatch.setattr(sys, "orig_argv", ["python", "-X", "importtime", "-m", "flows.pipeline", "-S", "a=-m"])
    assert flows.flow_run_by_hand()
    monkeypatch.setattr(sys, "argv", ["-m", "--help"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "flows.retrain", "--help"])
    assert not flows.flow_run_by_hand()  # nothing to run, no server to start
    monkeypatch.setattr(sys, "argv", ["-m", "serve"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "flows.deployments", "serve"])
    assert not flows.flow_run_by_hand()  # it starts its own server, or uses PREFECT_API_URL's
    monkeypatch.setattr(sys, "argv", ["-c"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "-c", "import flows.pipeline"])
    assert not flows.flow_run_by_hand()


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


EARLY = """
import os, sys
from pathlib import Path
import flows.ephemeral as ephemeral
from flows.lock import workspace_lock
if sys.argv[1] == "busy":  # another run holds the workspace: this one is about to be refused
    with workspace_lock(Path.cwd(), "the other run"):
        ephemeral.start_early()
    assert ephemeral._early is None
    print("ok")
    sys.exit()
ephemeral.start_early()
assert "prefect" not in sys.modules and ephemeral._early is not None
server, url = ephemeral._early
if sys.argv[1] == "configured":  # what a settings source names only Prefect can tell, once imported
    os.environ["PREFECT_API_URL"] = "http://127.0.0.1:9/api"
    assert ephemeral.use_temporary_server() is None and server.poll() is not None
else:
    assert ephemeral.use_temporary_server() == url and server.poll() is None
print("ok")
"""


@pytest.mark.parametrize("settings", ["none", "configured", "busy"])
def test_an_early_server_is_the_one_used_or_is_stopped_and_a_refused_run_starts_none(tmp_path, settings):
    env = {**tool_env(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", EARLY, settings], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


BLOCKING_FLOW = """
import time
from flows import run_by_hand

async def body():
    print("running", flush=True)
    time.sleep(300)  # as a flow's body does while a stage runs: no await for as long as the stage takes

run_by_hand(body())
"""


def test_ctrl_c_stops_a_flow_run_by_hand_while_its_body_blocks(tmp_path):
    env = {**tool_env(tmp_path), "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen(
        [sys.executable, "-c", BLOCKING_FLOW], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert run.stdout.readline().strip() == "running"
    run.send_signal(signal.SIGINT)
    try:
        _, said = run.communicate(timeout=60)  # asyncio.run's own handler would wait the 300 s out
    finally:
        run.kill()
    assert run.returncode != 0 and said.rstrip().endswith("KeyboardInterrupt")


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


def test_every_deployed_flow_is_async_so_its_run_does_not_wait_on_the_heartbeat_thread():
    # Prefect ends a sync flow run by joining its heartbeat thread, which sleeps a second at a time: up
    # to 1 s of every run (0.45 s of a no-op pipeline run, bench/orchestration.py). An async run it does not join.
    from flows.deployments import DEPLOYMENTS, _flow

    assert [entrypoint for entrypoint, _, _ in DEPLOYMENTS if not _flow(entrypoint).isasync] == []


def test_the_webhook_names_a_refused_deployment_apart_from_a_failure(tmp_path, monkeypatch):
    run = SimpleNamespace(name="nightly-otter", id="5d0c")
    refused = notify.payload("millrace-retrain", run, "stage 'deploy' failed: refusing to deploy: worse", tmp_path)
    failed = notify.payload("millrace-pipeline", run, "stage 'label' failed: gate 'labels' failed", tmp_path)
    assert refused["event"] == "deployment_refused" and "refused to deploy the model" in refused["text"]
    assert failed["event"] == "run_failed" and failed["flow_run"] == "nightly-otter"
    (tmp_path / "params.yaml").write_text("flows:\n  webhook_env: MILLRACE_TEST_HOOK\n")
    monkeypatch.delenv("MILLRACE_TEST_HOOK", raising=False)
    assert notify.webhook_url(tmp_path) is None
    monkeypatch.setenv("MILLRACE_TEST_HOOK", "http://127.0.0.1:9/hook")
    assert notify.webhook_url(tmp_path) == "http://127.0.0.1:9/hook"


def test_a_stage_dies_with_its_flow_even_when_the_flow_is_killed_outright():
    # The "flow": a process that starts a tethered stage, as run_stage does, then waits.
    flow = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from flows import tether; tether.start(['bash', '-c', 'sleep 300 & echo $!; wait']);"
            " sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    grandchild = int(flow.stdout.readline())
    assert running(grandchild)
    flow.kill()  # SIGKILL: the flow can clean nothing up itself
    flow.wait()
    assert gone(grandchild)


SLEEPER = f"stages:\n  sleeper:\n    cmd: {SLEEPING_STAGE}\n"


@pytest.mark.slow
def test_a_stage_that_dvc_runs_in_the_warm_worker_dies_with_its_flow_killed_outright(tmp_path):
    """The flow's `dvc repro` is handed to the warm worker (stages/dvc_command.py) and is no child of the
    tether: the worker must stop it, and the stage DVC started, when the tether's group goes."""
    # a cheap preload, and nor Prefect's and DVC's modules later
    preload = {"MILLRACE_WARM_PRELOAD": "colorsys", "MILLRACE_WARM_PRELOAD_WHEN_IDLE": ""}
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(SLEEPER)
    with warm_worker(tmp_path, **preload) as (folder, env):
        subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=repo, env=env, check=True)
        dvc_version = [sys.executable, "-m", "stages.dvc_command", "version"]
        subprocess.run(dvc_version, cwd=repo, env=env, check=True, capture_output=True)  # starts the worker
        (log,) = folder.glob("millrace-warm-*/*.log")
        wait_until_preloaded(log)
        flow = subprocess.Popen(  # the "flow": starts the stage's DVC as run_stage does, then waits
            [
                sys.executable,
                "-c",
                "import sys; from flows import tether; from stages.dvc_command import dvc_command;"
                " tether.start(dvc_command('repro', '--single-item', 'sleeper')); sys.stdin.read()",
            ],
            stdin=subprocess.PIPE,
            cwd=repo,
            env=env,
        )
        deadline = time.monotonic() + 60
        while not (repo / "sleeper.pid").exists() or not (repo / "sleeper.pid").read_text().strip():
            assert flow.poll() is None and time.monotonic() < deadline, "the stage never started"
            time.sleep(0.05)
        sleeper = int((repo / "sleeper.pid").read_text())
        assert "stages.dvc_command for pid" in log.read_text()  # DVC ran in the worker, not under the tether
        assert running(sleeper)
        flow.kill()
        flow.wait()
        assert gone(sleeper)


def test_the_tether_passes_the_exit_status_on():
    for script, status in (("exit 3", 3), ("kill -9 $$", 128 + signal.SIGKILL)):
        process = tether.start(["bash", "-c", script], cwd=ROOT)
        assert process.wait(timeout=30) == status


TWO_STAGES = """stages:
  first:
    cmd: cp a.txt b.txt
    deps: [a.txt]
    outs: [b.txt]
  second:
    cmd: cp c.txt d.txt
    deps: [c.txt]
    outs: [d.txt]
"""


def test_the_flow_reads_the_same_stale_stages_as_dvc_status(tmp_path, caplog):
    for name in ("a.txt", "c.txt"):
        (tmp_path / name).write_text("1\n")
    (tmp_path / "dvc.yaml").write_text(TWO_STAGES)
    sh(tmp_path, "git", "init", "-q")
    sh(tmp_path, "dvc", "init", "-q")
    sh(tmp_path, "dvc", "repro", "-q")
    logger = logging.getLogger("test-flow")  # this test runs from another folder than the project's
    assert stale_stages(tmp_path, logger) == set()
    (tmp_path / "c.txt").write_text("2\n")
    assert stale_stages(tmp_path, logger) == {"second"}
    assert stale_stages(tmp_path, logger) == set(json.loads(sh(tmp_path, "dvc", "status", "--json").stdout))

    (tmp_path / "dvc.yaml").write_text("stages: [not, a, mapping]\n")
    with caplog.at_level(logging.WARNING, logger="test-flow"):
        assert stale_stages(tmp_path, logger) is None  # cannot tell: every stage goes to dvc repro
    assert "dvc status failed" in caplog.text and "dvc.yaml" in caplog.text


SKIPS_THE_LAST_COLLECTION = """
import atexit, sys
from stages.cli import run_stage

class Cycle:
    def __del__(self):
        print("collected", flush=True)

def main():
    cycle = Cycle()
    cycle.me = cycle  # garbage only the collector would find
    atexit.register(print, "exit handler ran", flush=True)
    if sys.argv[1] == "failed":
        sys.exit("error: bad input")

run_stage(main)
"""


@pytest.mark.parametrize("outcome", ["ok", "failed"])
def test_a_stage_exits_without_the_interpreters_last_garbage_collection(outcome):
    """It walked every object torch, Lightning and GE made: ~1 s at the exit of a cold train."""
    ran = subprocess.run(
        [sys.executable, "-c", SKIPS_THE_LAST_COLLECTION, outcome], cwd=ROOT, capture_output=True, text=True
    )
    assert ran.stdout.splitlines() == ["exit handler ran"]
    assert ran.returncode == (0 if outcome == "ok" else 1)


def _env_of_make(env: dict[str, str]) -> dict[str, str]:
    listed = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", "env-of-make: ; @env", "env-of-make"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("=", 1) for line in listed.splitlines() if "=" in line)


@pytest.mark.parametrize("launcher", ["flow", "make"])
def test_dvc_sends_no_usage_report_even_from_a_freshly_initialised_repo(tmp_path, launcher):
    # DVC ignores DO_NOT_TRACK; a repo `dvc init` just made has analytics on, and every command would
    # spawn a process to post a report. What the flow and the Makefile hand DVC must switch it off.
    path = tool_env(tmp_path)["PATH"]  # the project's dvc first
    untracked = {k: v for k, v in os.environ.items() if k not in ("DVC_NO_ANALYTICS", "DO_NOT_TRACK")} | {"PATH": path}
    env = {**untracked, **QUIET_ENV} if launcher == "flow" else {**untracked, **_env_of_make(untracked), "PATH": path}
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    status = subprocess.run(["dvc", "status", "-v"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "Analytics is disabled" in status.stdout + status.stderr
