"""millrace stages: one module per pipeline stage, each a pure `run()` plus a thin CLI.

`dvc.yaml` runs every stage as `python -m stages.<name>`; importing this package loads nothing
heavy (no torch, Lightning, Great Expectations or Prefect). With `MILLRACE_WARM=1` in the
environment, `python -m stages.<name>` hands its work to a warm worker that has imported them
already (stages/warm.py) and exits with the stage's status. Importing it also puts Arrow on the
system allocator (stages/memory.py).
"""

import os
import sys

__version__ = "0.1.0"

# Arrow on the system allocator, which gives freed memory back (stages/memory.py); read by Arrow at
# its first allocation, so it is set here, before any stage imports pandas.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def module_run_by_python_m() -> str | None:
    """The module `python -m` is about to run, while it imports that module's packages; else None.

    Until runpy has found the module, sys.argv[0] is "-m"; the interpreter's -m comes before any argument.
    """
    if sys.argv[:1] != ["-m"] or "-m" not in sys.orig_argv[:-1]:
        return None
    return sys.orig_argv[sys.orig_argv.index("-m") + 1]


def run_in_warm_worker(module: str) -> None:
    """With MILLRACE_WARM=1, run `python -m MODULE` in the warm worker and exit with its status; else return.

    It also returns, to run here cold, when there is no worker yet (the first command starts one).
    """
    # -X importtime and friends measure this process: it must do its own work.
    if os.environ.get("MILLRACE_WARM") != "1" or sys._xoptions or sys.flags.isolated:
        return
    from stages.warm import hand_off

    hand_off(module)


def _hand_off_stage() -> None:
    module = module_run_by_python_m() or ""
    if module.startswith("stages.") and module not in ("stages.warm", "stages.serve"):  # serve runs for hours
        run_in_warm_worker(module)


_hand_off_stage()
