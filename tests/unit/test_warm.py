"""The warm worker (stages/warm.py): a stage run through it behaves as the same command run cold.

Each test runs `python -m stages.probe …` in a workspace holding the project's `stages/__init__.py` and
`stages/warm.py` beside a probe module, with its own temporary folder (so its own worker) and a cheap
preload (`colorsys`, which nothing else imports: finding it loaded proves the worker ran the probe).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.harness import running

PROBE = """
import json, os, signal, sys, time

preloaded = "colorsys" in sys.modules
mode, rest = sys.argv[1], sys.argv[2:]
if mode == "report":
    print(json.dumps({"pid": os.getpid(), "cwd": os.getcwd(), "argv": sys.argv[1:], "preloaded": preloaded,
                      "var": os.environ.get("PROBE_VAR"), "main": __name__, "edited": EDITED}))
elif mode == "echo":
    print(sys.stdin.read().upper(), end="")
    print("to stderr", file=sys.stderr)
elif mode == "exit":
    sys.exit(int(rest[0]))
elif mode == "message":
    sys.exit("bad input in params.yaml")
elif mode == "raise":
    raise ValueError("boom")
elif mode == "die":
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "finalizers":
    import atexit, weakref
    atexit.register(lambda: open(rest[0], "a").write("stage atexit\\n"))
    held = type("Held", (), {})()
    weakref.finalize(held, lambda: open(rest[0], "a").write("stage finalizer\\n"))
elif mode == "loaded":
    print(json.dumps({"pid": os.getpid(), "loaded": [name for name in rest if name in sys.modules]}))
elif mode in ("wait", "term"):
    if mode == "term":
        signal.signal(signal.SIGTERM, lambda *_: (open(rest[1], "w").write("stopped cleanly"), sys.exit(7)))
    open(rest[0], "w").write(str(os.getpid()))
    time.sleep(60)
"""


# Preloaded by the worker: an object whose finalizer would run at the exit of every stage forked from it.
PRELOADED_WITH_A_FINALIZER = """
import os, weakref

class Held:
    pass

held = Held()
weakref.finalize(held, lambda: os.environ.get("PROBE_FINALIZED") and open(os.environ["PROBE_FINALIZED"], "a").write(
    f"preloaded finalizer in {os.getpid()}\\n"))
"""


def probe_source(edited: bool = False) -> str:
    return f"EDITED = {edited}\n{PROBE}"


@pytest.fixture(scope="module")
def warm_env() -> Iterator[dict[str, str]]:
    # A short folder of our own: the worker's socket path must fit a Unix socket's 108 bytes.
    folder = tempfile.mkdtemp(prefix="mw", dir="/tmp")
    preload = {"MILLRACE_WARM_PRELOAD": "colorsys,probe_preload", "MILLRACE_WARM_PRELOAD_WHEN_IDLE": ""}
    env = {**os.environ, "MILLRACE_WARM": "1", **preload, "TMPDIR": folder}
    env.pop("PYTHONPATH", None)
    yield env
    subprocess.run([sys.executable, "-m", "stages.warm", "stop"], cwd=ROOT, env=env, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory, warm_env) -> Path:
    """A workspace with the stages package's hand-off and a probe stage, and its worker started."""
    root = tmp_path_factory.mktemp("warm")
    (root / "stages").mkdir()
    for name in ("__init__.py", "warm.py"):
        shutil.copy(ROOT / "stages" / name, root / "stages" / name)
    (root / "stages" / "probe.py").write_text(probe_source())
    (root / "probe_preload.py").write_text(PRELOADED_WITH_A_FINALIZER)
    first = probe(root, warm_env, "report")
    assert first.stdout_json["pid"] == first.pid  # no worker yet: ran cold, and started one
    deadline = time.monotonic() + 60
    while (ran := probe(root, warm_env, "report")).stdout_json["pid"] == ran.pid:
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.2)
    return root


class Ran(subprocess.CompletedProcess):
    pid: int

    @property
    def stdout_json(self) -> dict:
        return json.loads(self.stdout)


def probe(root: Path, env: dict[str, str], *args: str, stdin: str = "", interpreter: tuple = ()) -> Ran:
    process = subprocess.Popen(
        [sys.executable, *interpreter, "-m", "stages.probe", *args],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = process.communicate(stdin, timeout=120)
    ran = Ran(process.args, process.returncode, out, err)
    ran.pid = process.pid
    return ran


def start(root: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "stages.probe", *args], cwd=root, env=env)


def wait_for(path: Path) -> str:
    deadline = time.monotonic() + 30
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def test_the_stage_runs_in_the_worker_as_the_command(project, warm_env):
    ran = probe(project, {**warm_env, "PROBE_VAR": "from the command"}, "report", "--flag", "x y")
    report = ran.stdout_json
    assert ran.returncode == 0
    assert report["pid"] != ran.pid and report["preloaded"]  # forked from the worker, not this process
    assert report["cwd"] == str(project)
    assert report["argv"] == ["report", "--flag", "x y"]
    assert report["var"] == "from the command"
    assert report["main"] == "__main__"


def test_stdin_stdout_and_stderr_are_the_commands(project, warm_env):
    ran = probe(project, warm_env, "echo", stdin="hello\nworld\n")
    assert ran.stdout == "HELLO\nWORLD\n"
    assert ran.stderr == "to stderr\n"


def test_exit_statuses_and_errors_come_back_as_a_cold_run_gives_them(project, warm_env):
    assert probe(project, warm_env, "exit", "3").returncode == 3
    message = probe(project, warm_env, "message")
    assert (message.returncode, message.stderr) == (1, "bad input in params.yaml\n")
    crash = probe(project, warm_env, "raise")
    assert crash.returncode == 1
    assert "Traceback" in crash.stderr and "ValueError: boom" in crash.stderr


def test_a_stage_killed_by_a_signal_takes_its_command_with_it(project, warm_env):
    assert probe(project, warm_env, "die").returncode == -signal.SIGKILL


def test_sigterm_reaches_the_stage_and_the_command_waits_for_it(project, warm_env, tmp_path):
    command = start(project, warm_env, "term", str(tmp_path / "pid"), str(tmp_path / "stopped"))
    stage = int(wait_for(tmp_path / "pid"))
    assert stage != command.pid
    command.send_signal(signal.SIGTERM)
    assert command.wait(timeout=30) == 7
    assert (tmp_path / "stopped").read_text() == "stopped cleanly"


def test_the_stage_dies_with_its_command(project, warm_env, tmp_path):
    command = start(project, warm_env, "wait", str(tmp_path / "pid"))
    stage = int(wait_for(tmp_path / "pid"))
    command.kill()  # SIGKILL: nothing forwarded, the worker sees the command go
    command.wait(timeout=30)
    deadline = time.monotonic() + 10
    while running(stage):
        assert time.monotonic() < deadline, "the stage outlived its command"
        time.sleep(0.05)


def test_a_stage_runs_its_own_exit_handlers_and_not_the_preloaded_libraries_finalizers(project, warm_env, tmp_path):
    marks = tmp_path / "marks"
    ran = probe(project, {**warm_env, "PROBE_FINALIZED": str(marks)}, "finalizers", str(marks))
    assert ran.returncode == 0, ran.stderr
    assert sorted(marks.read_text().splitlines()) == ["stage atexit", "stage finalizer"]


def test_an_edited_stage_runs_as_edited(project, warm_env):
    (project / "stages" / "probe.py").write_text(probe_source(edited=True))
    try:
        report = probe(project, warm_env, "report").stdout_json
        assert report["preloaded"] and report["edited"]
    finally:
        (project / "stages" / "probe.py").write_text(probe_source())


def test_other_import_time_settings_get_a_worker_of_their_own(project, warm_env):
    ran = probe(project, {**warm_env, "OMP_NUM_THREADS": "3"}, "report")
    assert ran.stdout_json["pid"] == ran.pid  # none for these settings yet: cold


def test_measuring_a_stage_runs_it_in_its_own_process(project, warm_env):
    ran = probe(project, warm_env, "report", interpreter=("-X", "importtime"))
    assert ran.stdout_json["pid"] == ran.pid and not ran.stdout_json["preloaded"]
    assert "import time:" in ran.stderr


def test_a_command_waits_for_a_worker_that_is_starting_instead_of_importing_all_itself(project, warm_env, tmp_path):
    (tmp_path / "slow_to_import.py").write_text("import time\ntime.sleep(2)\n")
    env = {**warm_env, "PYTHONPATH": str(tmp_path), "MILLRACE_WARM_PRELOAD": "colorsys,slow_to_import"}
    first = probe(project, env, "report")  # starts the worker, which takes two seconds to preload
    assert first.stdout_json["pid"] == first.pid
    second = probe(project, env, "report")
    assert second.stdout_json["pid"] != second.pid and second.stdout_json["preloaded"]


def test_a_command_is_served_while_the_worker_is_still_preloading(project, warm_env, tmp_path):
    for name in ("slow_first", "slow_second"):
        (tmp_path / f"{name}.py").write_text("import time\ntime.sleep(4)\n")
    preload = "colorsys,slow_first,slow_second"
    env = {**warm_env, "PYTHONPATH": str(tmp_path), "MILLRACE_WARM_PRELOAD": preload}
    modules = preload.split(",")
    first = probe(project, env, "loaded", *modules)  # starts the worker, which takes eight seconds to preload
    assert first.stdout_json["pid"] == first.pid
    second = probe(project, env, "loaded", *modules)  # waits for the import under way, not for all of them
    assert second.stdout_json["pid"] != second.pid
    assert "colorsys" in second.stdout_json["loaded"] and "slow_second" not in second.stdout_json["loaded"]
    logs = Path(env["TMPDIR"], f"millrace-warm-{os.getuid()}")
    deadline = time.monotonic() + 60
    while not any(f"ready: preloaded {sorted(modules)}" in log.read_text() for log in logs.glob("*.log")):
        assert time.monotonic() < deadline, "the worker never finished preloading"
        time.sleep(0.2)
    third = probe(project, env, "loaded", *modules)
    assert third.stdout_json["pid"] != third.pid and third.stdout_json["loaded"] == modules


def test_what_only_the_flows_use_is_preloaded_once_no_stage_has_run_for_a_moment(project, warm_env, tmp_path):
    """The flows' Prefect and DVC would compete for two cores with the stages of the run that started the worker."""
    env = {**warm_env, "MILLRACE_WARM_PRELOAD": "colorsys", "MILLRACE_WARM_PRELOAD_WHEN_IDLE": "probe_later"}
    (project / "probe_later.py").write_text("")

    def preloaded_later() -> bool:
        logs = Path(env["TMPDIR"]).glob("millrace-warm-*/*.log")
        return any("ready: preloaded" in line and "probe_later" in line for log in logs for line in log.open())

    deadline = time.monotonic() + 60
    while (ran := probe(project, env, "report")).stdout_json["pid"] == ran.pid:  # until this key's worker serves
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.2)
    busy = start(project, env, "wait", str(tmp_path / "pid"))
    wait_for(tmp_path / "pid")
    time.sleep(2.5)  # well past the idle moment: a stage is running
    assert not preloaded_later()
    busy.kill()  # the stage goes with its command
    busy.wait(timeout=30)
    deadline = time.monotonic() + 30
    while not preloaded_later():
        assert time.monotonic() < deadline, "the worker never preloaded what waits for it to be idle"
        time.sleep(0.1)


def test_the_command_reads_the_stage_pid_and_status_even_when_they_arrive_together():
    """A stage that ends at once: the worker's two lines reach the command in one read (CI caught this)."""
    import socket

    from stages import warm

    command, worker = socket.socketpair()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        worker.sendall(b"pid 4242\nexit 3\n")
        replies = command.makefile("rb")
        assert warm._send(command, replies, "stages.probe") == 4242
        assert warm._wait(replies, 4242) == 3
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        command.close()
        worker.close()


def test_the_worker_preloads_torch_before_scikit_learn():
    """Each brings its own libgomp; scikit-learn's linear models imported first made its OpenMP loops
    (evaluate's gradient-boosting baseline) ten times slower on two threads in every warm stage."""
    from stages.warm import DEFAULT_PRELOAD

    torch_at = DEFAULT_PRELOAD.index("torch")
    assert all(torch_at < at for at, name in enumerate(DEFAULT_PRELOAD) if name.startswith("sklearn"))


@pytest.mark.slow
def test_what_the_worker_preloads_leaves_the_stages_logging_as_a_cold_process_has_it():
    """Every stage is forked from the worker: a preloaded library that set up logging would do so for all of
    them, bound to the worker's log file. `prefect.main` sets up logging when imported: the worker preloads
    Prefect's other modules only, and the flow imports it. `import dvc` does too: the worker preloads DVC and
    takes that set-up down, and the DVC command line run in a forked process sets it up again."""
    script = (
        "import atexit, json, logging, sys\n"
        "from stages import warm\n"
        "from stages.dvc_command import dvc_logging\n"
        "loggers = logging.Logger.manager.loggerDict\n"
        "before = {name: list(getattr(logger, 'handlers', [])) for name, logger in loggers.items()}\n"
        "streams = (sys.stdout, sys.stderr)\n"
        "preload = warm.DEFAULT_PRELOAD + warm.PRELOAD_WHEN_IDLE\n"
        "pending = list(preload)\n"
        "while pending:\n"
        "    warm._preload_next(pending, preload)\n"
        "changed = [name for name, handlers in before.items() if getattr(loggers[name], 'handlers', []) != handlers]\n"
        "dvc = [logging.getLogger(name) for name in ('dvc', 'dvc_objects', 'dvc_data')]\n"
        "found = {'root': [repr(h) for h in logging.getLogger().handlers], 'changed': changed,\n"
        "         'level': logging.getLogger().level, 'asyncio': logging.getLogger('asyncio').level,\n"
        "         'dvc_handlers': sum(len(logger.handlers) for logger in dvc),\n"
        "         'streams': (sys.stdout, sys.stderr) == streams,\n"
        "         'prefect': 'prefect.flows' in sys.modules, 'dvc': 'dvc.repo' in sys.modules,\n"
        "         'prefect_main': 'prefect.main' in sys.modules}\n"
        "registered = atexit._ncallbacks()\n"
        "atexit.unregister(sys.modules['colorama'].initialise.reset_all)  # colorama's exit handler, if it is there\n"
        "found['colorama_at_exit'] = atexit._ncallbacks() != registered\n"
        "dvc_logging()  # what stages/dvc_command.py does before DVC's command line\n"
        "found['dvc_handlers_again'] = [len(logger.handlers) for logger in dvc]\n"
        "print(json.dumps(found))\n"
    )
    env = {**os.environ, "MILLRACE_WARM": "0"}
    ran = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    found = json.loads(ran.stdout.splitlines()[-1])
    assert found["prefect"], "Prefect's modules are no longer preloaded: the flows would import them again"
    assert found["dvc"], "DVC is no longer preloaded: the flow's `dvc status` and `dvc repro` would import it again"
    assert not found["prefect_main"] and found["root"] == [] and found["changed"] == []
    assert found["level"] == 30 and found["asyncio"] == 0  # WARNING, Python's default; asyncio's own: not set
    assert found["dvc_handlers"] == 0 and found["streams"] and not found["colorama_at_exit"]  # DVC's set-up is gone
    assert found["dvc_handlers_again"] == [4, 4, 4]  # and set up again where DVC runs
    # A module that no longer imports (renamed upstream, a dependency dropped) is skipped with a message: every
    # stage would import its replacement again, and nothing else would say so.
    assert "not preloading" not in ran.stderr, ran.stderr
