"""How millrace calls DVC's command line: the `dvc` installed beside this interpreter, else PATH's."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def dvc_executable() -> str:
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.exists() else (shutil.which("dvc") or "dvc")


def dvc_command(*args: str) -> list[str]:
    """The command line of `dvc ARGS…`."""
    return [dvc_executable(), *args]
