"""A warm worker for stage commands: import the heavy libraries once, fork a process per stage.

Every stage is its own `python -m stages.<name>` process (DVC runs each as a command), and most of a
full run's time went on importing the same libraries again in each: Great Expectations in three
stages, torch in three, Lightning in one. With `MILLRACE_WARM=1`, `python -m stages.<name>` hands its
work to a worker that has imported them already (a fork server, as Python's multiprocessing
`forkserver` does for its children): the command connects over a Unix socket, passes its stdin,
stdout and stderr, its working directory, environment, `sys.path` and arguments, and the worker
forks a process that runs the stage module as `python -m` would. The command waits, forwards
SIGINT/SIGTERM/SIGHUP to the stage's process group and exits with the stage's status (or dies of
the same signal). If the command itself is killed outright, the stage is killed with it.

The first command that finds no worker starts one in the background and runs cold itself; later
ones use it even while it preloads, waiting only for the import under way. A worker is specific to
this interpreter, its installed packages and the environment variables read at import time (thread
counts, CUDA, allocator): anything else makes a different worker. Stage code is never imported by the worker,
only by each forked stage process, from the command's own directory, so edits take effect at once.
A worker exits after IDLE_SECONDS without work. This file runs inside the worker as a standalone
module: it imports nothing from `stages`.
"""

from __future__ import annotations

# Every stage command imports this module to hand its work over (~22 ms of a ~50 ms command when it imported
# everything, ~13 ms now): what only the worker, or only starting one, needs is imported where it is used.
import atexit
import fcntl
import gc
import hashlib
import json
import os
import select
import signal
import socket
import struct
import sys
import tempfile
import time
from collections import namedtuple
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, NoReturn

IDLE_SECONDS = float(os.environ.get("MILLRACE_WARM_IDLE", "120"))
# What stages import at run time and is slow to import (MILLRACE_WARM_PRELOAD, comma-separated, replaces
# it); one that is not installed is skipped. Order matters: torch and scikit-learn each bring a libgomp,
# and with scikit-learn's linear models imported before torch, scikit-learn's OpenMP loops (gradient
# boosting in evaluate's baselines) ran 10x slower on two threads (0.08 s -> 1.0 s on iris).
DEFAULT_PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "yaml",
    "pydantic.main",  # `pydantic` alone defers these to the first model class: ~20 ms of every stage
    "pydantic.types",
    "pydantic.fields",
    "pydantic.json_schema",
    "rich.console",
    "great_expectations",
    "torch",
    "torchmetrics",
    "lightning",
    "sklearn.model_selection",
    "sklearn.linear_model",
    "tabulate",  # torch._dynamo's exit handler imports it in every process, at its exit
    # deploy's ONNX export (torch.export, onnxscript's torch ops): ~0.4 s of every deploy, on first use
    "torch.export._trace",
    "onnxscript.function_libs.torch_lib.ops",
    "torch.onnx._internal.exporter._core",
)  # not onnxruntime: its exit handlers wait forever for its threads in a forked process
# What the flows use, and what single stages import on first use (MILLRACE_WARM_PRELOAD_WHEN_IDLE replaces it),
# imported once no stage has run for IDLE_BEFORE_LATER_PRELOAD seconds: on two cores, importing the flows' part
# beside the stages of the run that started the worker cost that run ~0.25 s (7.61 -> 7.86 s, 4 runs each
# alternated).
PRELOAD_WHEN_IDLE = (
    # The flows' Prefect (`python -m flows.pipeline` with MILLRACE_WARM=1, ~0.6 s): not `prefect.main`, whose
    # import configures the root logger for every forked stage; the flow imports it, and reads its settings.
    "prefect.flows",
    "prefect.tasks",
    "prefect.artifacts",
    "prefect.runtime",
    "prefect.client.orchestration",
    "prefect.blocks.notifications",
    "prefect.blocks.system",
    "fastapi.encoders",  # what Prefect encodes a flow run's parameters with
    # DVC, for the flow's in-process `dvc status` and the `dvc repro` it hands over for a stage
    # (stages/dvc_command.py): ~60 ms of imports each. `import dvc` sets up logging for DVC's command line,
    # which the worker takes down again (_take_down_dvc_logging).
    "networkx",
    "scmrepo.git",
    "dvc_data.index",
    "pyparsing",
    "ruamel.yaml",
    "configobj",
    "dulwich.worktree",
    "dvc.repo",
    "dvc.repo.index",
    "dvc.repo.reproduce",
    "dvc.repo.stage",
    "dvc.repo.datasets",
    "dvc.repo.plots",
    "dvc.repo.artifacts",
    "dvc.cli.parser",
    "dvc.config",
    "dvc.dirs",
    "dvc.lock",
    "dvc.rwlock",
    "dvc.scm",
    # What the stages import on first use, beyond the list above (each forked stage imported them again: ~0.3 s
    # of a full run in all, and a warm full run with the worker up 4.07 -> 3.95 s, 6 runs each alternated).
    "pyarrow.dataset",  # every stage that reads Parquet
    "great_expectations.render.renderer.site_builder",  # each gate's Data Docs
    "ftfy",  # clean
    "cleanlab.filter",  # label's review
    "sklearn.ensemble",  # evaluate's baselines
    "sklearn.feature_extraction",
    "dvclive.lightning",  # train
    "dvclive.fabric",
    "omegaconf",
    "safetensors",
    "sympy.combinatorics",  # deploy's ONNX export
    "torch.onnx._internal.exporter._compat",
)
IDLE_BEFORE_LATER_PRELOAD = 1.0  # longer than DVC takes between two stages of a run
# Environment variables that a library reads while it is imported: a worker is made for one set of them.
IMPORT_TIME_ENV = (
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "KMP_",
    "CUDA_",
    "NVIDIA_",
    "PYTORCH_",
    "TORCH_",
    "LD_",
    "MALLOC_",
    "ARROW_",
)
IMPORT_TIME_ENV_NAMES = (
    "MILLRACE_WARM_PRELOAD",
    "MILLRACE_WARM_PRELOAD_WHEN_IDLE",
    "GX_ANALYTICS_ENABLED",
    "DO_NOT_TRACK",
    "PYTHONHASHSEED",
    "PYTHONWARNINGS",
)
# The loggers `import dvc` gives handlers to, and those it quietens (dvc/logger.py).
DVC_LOGGERS = ("dvc", "dvc_objects", "dvc_data")
DVC_QUIETENS = ("asyncio", "aiohttp")
HEADER = struct.Struct("!I")
WORKER_MODULE = "millrace_warm"  # this file's name in the worker, and so in every process forked from it
STARTING_WAIT_SECONDS = 30.0  # preloading takes ~6 s here, alone on the machine


# One stage to run in a forked process: what `python -m` would have run (module, args), and where (cwd, env, path).
Job = namedtuple("Job", ["module", "args", "cwd", "env", "path"])


# -- the command's side ------------------------------------------------------------------------------


def hand_off(module: str) -> None:
    """Run MODULE in the warm worker and exit with its status; return (to run cold) if there is none."""
    path = socket_path(worker_key())
    if path is None:
        return
    client = _connect(path)
    if client is None:
        start_worker(path)
        return
    replies = client.makefile("rb")  # the worker's lines: "pid N", then "exit STATUS"
    try:
        stage = _send(client, replies, module)
    except OSError:
        stage = None
    if stage is None:  # the worker went away before it started anything: nothing ran, run cold
        client.close()
        return
    sys.exit(_wait(replies, stage))


def _connect(path: Path) -> socket.socket | None:
    """A connection to the worker; while one is starting (preloading), wait for it rather than import
    everything here too: only the command that started it, which runs beside it, pays the imports."""
    deadline = time.monotonic() + STARTING_WAIT_SECONDS
    while True:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            client.connect(str(path))
            return client
        except OSError:
            client.close()
        if not _starting(path) or time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _starting(path: Path) -> bool:
    """Whether a worker holds this key's lock (it takes it before preloading)."""
    try:
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
    except BlockingIOError:
        return True


def _send(client: socket.socket, replies: BinaryIO, module: str) -> int | None:
    job = {
        "module": module,
        "args": sys.argv[1:],
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "path": sys.path,
        "pid": os.getpid(),
    }
    payload = json.dumps(job).encode()
    socket.send_fds(client, [HEADER.pack(len(payload)) + payload], _stdio())
    reply = replies.readline().decode().strip()
    return int(reply.removeprefix("pid ")) if reply.startswith("pid ") else None


def _stdio() -> list[int]:
    """This process's stdin, stdout and stderr; /dev/null for one that is closed."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def _wait(replies: BinaryIO, stage: int) -> int:
    def forward(signum: int, _frame: object) -> None:
        try:
            os.killpg(stage, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    reply = replies.readline().decode().strip()  # "" if the worker went away
    if not reply.startswith("exit "):
        print("error: the warm worker running this stage was lost (see MILLRACE_WARM in README)", file=sys.stderr)
        return 1
    status = int(reply.removeprefix("exit "))
    if status < 0:  # the stage died of a signal: so does this process, as a cold run would have
        _die_of(-status)
    return status


def _die_of(signum: int) -> None:
    if signum not in (signal.SIGKILL, signal.SIGSTOP):  # those two have no handler to reset
        signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def forked_by_warm_worker() -> bool:
    """Whether this process is the warm worker or a command run in it (sharing what the worker preloaded)."""
    return WORKER_MODULE in sys.modules


def worker_key() -> str:
    """What a worker's imports depend on: the interpreter, its packages and import-time settings."""
    here = {"", os.getcwd()}
    path = [p for p in sys.path if p not in here]
    stamps = [(p, os.stat(p).st_mtime_ns) for p in path if os.path.isdir(p)]  # pip install changes these
    env = {k: v for k, v in os.environ.items() if k.startswith(IMPORT_TIME_ENV) or k in IMPORT_TIME_ENV_NAMES}
    source = Path(__file__).read_bytes()
    parts = [sys.executable, sys.version, stamps, sorted(env.items()), hashlib.sha256(source).hexdigest()]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def socket_path(key: str) -> Path | None:
    """The worker's socket; None where the path would be too long for a Unix socket."""
    folder = _folder()
    path = folder / f"{key}.sock" if folder else None
    return path if path and len(str(path)) < 100 else None  # sun_path holds 108 bytes


def _folder() -> Path | None:
    """This user's workers' folder, which only this user can enter; None if it is not so."""
    folder = Path(tempfile.gettempdir()) / f"millrace-warm-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None  # someone else's folder: never hand our stdio to their process
    return folder


def start_worker(path: Path) -> None:
    """Start a worker for this process's key in the background, unless one is starting already.

    The worker's lock is taken here and handed to it, so that from now on every command sees it starting.
    """
    import subprocess

    boot = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location({WORKER_MODULE!r}, sys.argv[1])\n"
        f"warm = sys.modules[{WORKER_MODULE!r}] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(warm)\n"
        "done = warm.main(sys.argv[2:])\n"
        "warm.run(done) if isinstance(done, warm.Job) else sys.exit(done)\n"
    )
    with open(path.with_suffix(".lock"), "a+") as lock, open(path.with_suffix(".log"), "ab") as log:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another command has just started one
        subprocess.Popen(
            [sys.executable, "-c", boot, __file__, str(path), str(lock.fileno()), *sys.path],
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            pass_fds=(lock.fileno(),),
        )


# -- the worker's side -------------------------------------------------------------------------------


def main(argv: list[str]) -> int | object:
    """The worker: preload, listen, fork a supervised process per job; exit when idle.

    It serves while it preloads: between two imports it takes the commands waiting, so a command waits
    for the import under way, not for the whole list (~5 s), and a stage forked early imports what is not
    loaded yet itself, as a cold one does. (The first module comes before listening: a fork with nothing
    loaded would gain nothing.) What only the flows use waits until no stage has run for a moment.
    """
    path, sys.path[:] = Path(argv[0]), [p for p in argv[2:] if p]
    lock = os.fdopen(int(argv[1]), "a+")  # locked by the command that started this worker; held for life
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    eager = _preload_list("MILLRACE_WARM_PRELOAD", DEFAULT_PRELOAD)
    preload = eager + _preload_list("MILLRACE_WARM_PRELOAD_WHEN_IDLE", PRELOAD_WHEN_IDLE)
    pending = list(preload)
    if not _preload_next(pending, preload):
        return 1
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path.unlink(missing_ok=True)  # a dead worker's socket
    listener.bind(str(path))
    listener.listen(64)
    worker = os.getpid()
    children: set[int] = set()
    last_work = last_busy = time.monotonic()
    try:
        while children or pending or time.monotonic() - last_work < IDLE_SECONDS:
            if children:
                last_busy = time.monotonic()
            later = len(preload) - len(pending) >= len(eager)  # the next module is one for when idle
            may_preload = bool(pending) and (not later or time.monotonic() - last_busy >= IDLE_BEFORE_LATER_PRELOAD)
            ready, _, _ = select.select([listener], [], [], 0 if may_preload else 0.2 if pending else 1.0)
            children -= _reaped(children)
            if not ready:
                if may_preload and not _preload_next(pending, preload):
                    return 1
                continue
            connection, _ = listener.accept()
            last_work = time.monotonic()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                listener.close()
                lock.close()
                return _supervise(connection)
            children.add(pid)
            connection.close()
    finally:
        if os.getpid() == worker:
            path.unlink(missing_ok=True)
    return 0


def _preload_list(variable: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """The modules the environment variable names (comma-separated; empty for none), else the default."""
    chosen = os.environ.get(variable)
    return tuple(filter(None, chosen.split(","))) if chosen is not None else default


def _preload_next(pending: list[str], preload: tuple[str, ...]) -> bool:
    """Import the next module to preload and make it the worker's; False if that initialised CUDA."""
    import logging

    if pending:
        name = pending.pop(0)
        dvc_loaded = "dvc" in sys.modules
        levels = {logger: logging.getLogger(logger).level for logger in DVC_QUIETENS}
        try:
            __import__(name)
        except Exception as exc:  # an optional extra that is absent or broken: stages import it themselves
            print(f"warm worker: not preloading {name}: {exc}", file=sys.stderr)
        if not dvc_loaded and "dvc" in sys.modules:
            _take_down_dvc_logging(levels)
        _keep_preloaded_finalizers_from_stages()
        # The collector would walk (and so copy, page by page) the whole preloaded heap in every forked stage.
        gc.freeze()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():  # a process forked from now on could not use the GPU
        print("warm worker: CUDA was initialised while preloading; not serving", file=sys.stderr)
        return False
    if not pending:
        _log(f"ready: preloaded {sorted(set(preload) & set(sys.modules))}")
    return True


def _take_down_dvc_logging(levels: dict[str, int]) -> None:
    """Undo what `import dvc` set up for DVC's command line (dvc/logger.py `setup`), which every forked stage
    would inherit: handlers on DVC's loggers writing to the worker's stdout and stderr, asyncio's and aiohttp's
    loggers quietened, colorama wrapping stdout and stderr, and its exit handler. A cold stage has none of it
    unless it imports DVC; where a forked process runs DVC, it sets it up again (stages/dvc_command.py)."""
    import logging

    for name in DVC_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    colorama = sys.modules.get("colorama")
    if colorama is not None:
        colorama.deinit()
        atexit.unregister(colorama.initialise.reset_all)
        colorama.initialise.atexit_done = False  # the next set-up registers it again, as in a cold process


def _keep_preloaded_finalizers_from_stages() -> None:
    """What the preloaded libraries made is the worker's: a forked stage's exit must not tear it down.

    Objects with a `weakref.finalize` run it at interpreter exit, and a forked stage inherits them all:
    torch's 174 operator libraries unregistered themselves at every stage's exit (~20 ms, copying the
    pages they touch). The stage's own finalizers, made after the fork, still run at its exit.
    """
    import weakref

    for info in weakref.finalize._registry.values():  # noqa: SLF001 (finalize keeps no public list)
        info.atexit = False


def _log(message: str) -> None:
    print(time.strftime("%Y-%m-%dT%H:%M:%S"), message, file=sys.stderr, flush=True)


def stop() -> int:
    """Stop this user's workers (`python -m stages.warm stop`); the stages they are running finish."""
    folder = _folder()
    stopped = 0
    for lock in folder.glob("*.lock") if folder else []:
        with open(lock) as held:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                continue  # nobody holds it: no worker
            except BlockingIOError:
                pid = int(held.read().strip() or 0)
        if pid:
            os.kill(pid, signal.SIGTERM)
            stopped += 1
            with open(lock) as held:  # its lock goes with it: then a new worker may start
                fcntl.flock(held, fcntl.LOCK_EX)
    print(f"stopped {stopped} warm worker(s)")
    return 0


def _reaped(children: set[int]) -> set[int]:
    done = set()
    for pid in children:
        if os.waitpid(pid, os.WNOHANG)[0]:
            done.add(pid)
    return done


def _supervise(connection: socket.socket) -> int | Job:
    """Receive a job, fork the stage's process, report its pid and status; kill it if the command dies."""
    import threading

    try:
        job, fds = _receive(connection)
    except (OSError, ValueError) as exc:
        _log(f"refused a job: {exc}")
        os._exit(1)
    _log(f"{job['module']} for pid {job.pop('pid')} in {job['cwd']}")
    stage = os.fork()
    if stage == 0:
        connection.close()
        os.setpgid(0, 0)
        signal_on_parent_death(signal.SIGKILL)
        return Job(**job) if _adopt(fds) else os._exit(1)
    os.setpgid(stage, stage)  # as well as in the child: whichever runs first
    for fd in fds:
        os.close(fd)
    finished = threading.Event()

    def watch_command() -> None:
        while True:
            try:
                if connection.recv(1) == b"":
                    break
            except OSError:
                break
        if not finished.is_set():  # the command is gone (killed outright): so goes the stage
            try:
                os.killpg(stage, signal.SIGKILL)
            except ProcessLookupError:
                pass

    try:
        connection.sendall(f"pid {stage}\n".encode())
    except OSError:
        os.killpg(stage, signal.SIGKILL)
    threading.Thread(target=watch_command, daemon=True).start()
    _, status = os.waitpid(stage, 0)
    finished.set()
    try:
        connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
    except OSError:
        pass
    os._exit(0)  # the supervisor ran no user code: nothing of its own to flush or clean up


def _receive(connection: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 16, 3)
    if len(fds) != 3 or len(data) < HEADER.size:
        raise ValueError("a job needs a header and three file descriptors")
    (size,) = HEADER.unpack_from(data)
    payload = data[HEADER.size :]
    while len(payload) < size:
        chunk = connection.recv(size - len(payload))
        if not chunk:
            raise ValueError("the command hung up mid-job")
        payload += chunk
    return json.loads(payload), fds


def signal_on_parent_death(signum: int) -> None:
    """Linux sends this process SIGNUM the moment the thread that started it ends; elsewhere nothing does.

    (The stage process here, with SIGKILL when its supervisor dies; flows/tether.py too.)
    """
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)


def _adopt(fds: list[int]) -> bool:
    """Make the command's stdin, stdout and stderr this process's own."""
    if os.getppid() == 1:
        return False
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    return True


def run(job: Job) -> NoReturn:
    """In the forked stage process: become the command, then run the module as `python -m` does."""
    import runpy
    import traceback

    os.chdir(job.cwd)
    os.environ.clear()
    os.environ.update(job.env)
    sys.path[:] = job.path
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    unbuffered = bool(job.env.get("PYTHONUNBUFFERED"))
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) or unbuffered else -1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.argv = [job.module, *job.args]
    status = 0
    try:
        runpy.run_module(job.module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except KeyboardInterrupt:
        status = -signal.SIGINT  # as Python does: die of the signal, so the caller sees it
    except BaseException:
        traceback.print_exc()
        status = 1
    _exit(status)


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _exit(status: int) -> NoReturn:
    """Exit as an interpreter does, less tearing down the worker's heap (seconds: every object is touched).

    Non-daemon threads are joined and atexit handlers run, as at a normal exit; then stdio is flushed.
    """
    import threading

    threading._shutdown()  # noqa: SLF001 (what Py_Finalize calls first)
    atexit._run_exitfuncs()  # noqa: SLF001
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if status < 0:
        _die_of(-status)
    os._exit(status & 0xFF)


if __name__ == "__main__":
    if sys.argv[1:] != ["stop"]:
        raise SystemExit("usage: python -m stages.warm stop")
    sys.exit(stop())
