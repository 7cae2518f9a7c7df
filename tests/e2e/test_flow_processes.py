"""The flows' process handling for real: the workspace lock, tethered stages, Ctrl-C, no usage reports."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import tether
from flows.lock import PipelineBusy, ensure_free, workspace_lock
from flows.stage_task import stale_stages
from millrace.environment import QUIET_ENV
from tests.conftest import ROOT
from tests.helpers.harness import SLEEPING_STAGE, gone, running, sh, tool_env

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


def test_stopping_a_stage_stops_its_whole_process_group():
    process = tether.start(  # a stage and its child that both ignore SIGTERM
        ["bash", "-c", "trap '' TERM; sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    child = int(process.stdout.readline())
    tether.stop(process, grace_seconds=1)  # SIGTERM is ignored: SIGKILL follows after the grace period
    assert process.returncode == -signal.SIGKILL
    assert gone(child)  # no orphan left behind


def test_a_flow_run_from_a_terminal_sends_prefect_no_usage_report(tmp_path):
    # Prefect 3.8 reports usage from a terminal when DO_NOT_TRACK is unset: at `import prefect` and when a
    # flow is defined, before any of the flow's own code runs. The command must have turned it off first.
    import pty

    from prefect._internal.analytics.ci_detection import CI_ENV_VARS  # a CI variable turns it off too

    env = {k: v for k, v in tool_env(tmp_path).items() if k not in QUIET_ENV and k not in CI_ENV_VARS}
    env["PYTHONPATH"] = str(ROOT)
    pid, terminal = pty.fork()
    if pid == 0:  # a terminal session, as a user's
        probe = (  # `python -m flows.pipeline --help`, and then the threads it left
            "import runpy, sys, threading\n"
            "sys.argv = ['flows.pipeline', '--help']\n"
            "try:\n    runpy.run_module('flows.pipeline', run_name='__main__', alter_sys=True)\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(t.name for t in threading.enumerate()))"
        )
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
def test_a_stage_that_dvc_runs_dies_with_its_flow_killed_outright(tmp_path):
    """The flow's `dvc repro` runs under the tether: the stage DVC started goes when the flow is killed -9."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(SLEEPER)
    env = tool_env(tmp_path)
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=repo, env=env, check=True)
    flow = subprocess.Popen(  # the "flow": starts the stage's DVC as run_stage does, then waits
        [
            sys.executable,
            "-c",
            "import sys; from flows import tether; from millrace.ops.dvc import dvc_command;"
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
