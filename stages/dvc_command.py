"""How millrace calls DVC's command line.

`dvc_executable()` is the `dvc` installed beside this interpreter, else PATH's. `dvc_command(...)` is
`python -m stages.dvc_command ...`, which runs the same command line in this interpreter: a stage
module, so with MILLRACE_WARM=1 it is handed to the warm worker (stages/warm.py), where DVC is
already imported.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def dvc_executable() -> str:
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.exists() else (shutil.which("dvc") or "dvc")


def dvc_command(*args: str) -> list[str]:
    """`dvc ARGS…` run by this interpreter, warm where the stages are."""
    return [sys.executable, "-m", "stages.dvc_command", *args]


def dvc_logging() -> None:
    """DVC's messages on this process's stdout and stderr, as `import dvc` sets them up; the warm worker,
    which preloads DVC, takes that set-up down (stages/warm.py) and a process forked from it has none."""
    import logging

    import dvc.logger

    if not logging.getLogger("dvc").handlers:
        dvc.logger.setup()


def main(argv: list[str]) -> int:
    from dvc.cli import main as dvc_main

    dvc_logging()
    return dvc_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
