"""The thin edge every command shares: run a `main()`, turn a user's mistake into one clear message.

`stage_main` is what `python -m stages.<name>` runs: `--help` says what the stage reads and writes, the
process environment is set for the tools (millrace/environment.py), and `run_stage` calls the stage's
`main()`. A `MillraceError` (a user's mistake) or a full disk exits 1 with the message and no traceback;
a transient failure (the network) exits TRANSIENT_EXIT, which the Prefect flows retry.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import os
import sys
from collections.abc import Callable

from millrace.environment import prepare_process
from millrace.errors import TRANSIENT_EXIT, MillraceError
from millrace.memory import return_freed_memory

FULL_DISK = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def _disk_full(exc: OSError) -> bool:
    """The disk (or a quota, or `ulimit -f`) ran out; pyarrow reports it only in the message."""
    return exc.errno in FULL_DISK or any(os.strerror(code) in str(exc) for code in FULL_DISK)


def _fail(message: str, status: int = 1) -> None:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    sys.exit(status)


def skip_final_collection() -> None:
    """Let the interpreter exit without its last garbage collection, which walks every object the process
    made: 1.1 s at the exit of a cold train, 0.7 s of a cold evaluate (torch, Lightning, GE), 0.2 s of a
    flow. Nothing waits on it: exit handlers still run (Prefect sends its last logs) and modules are still
    torn down. A stage forked by the warm worker ends with `os._exit` and never ran it either."""
    gc.freeze()


def run_stage(main: Callable[[], object]) -> None:
    """Call a stage's `main()`; a user's mistake or a full disk exits 1 with a message and no traceback.

    A transient failure (the network) exits TRANSIENT_EXIT, which the Prefect flows retry."""
    prepare_process()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for ours in ("stages", "millrace"):
        logging.getLogger(ours).setLevel(logging.INFO)
    try:
        main()
    except MillraceError as exc:
        _fail(str(exc), TRANSIENT_EXIT if exc.transient else 1)
    except OSError as exc:
        if not _disk_full(exc):
            raise
        where = f" writing {exc.filename}" if exc.filename else ""
        reason = exc.strerror or str(exc)
        _fail(f"out of disk space{where} ({reason}); outputs are written atomically: the previous ones are intact")
    finally:
        skip_final_collection()


def stage_main(main: Callable[[], object], doc: str | None, *, release_freed_memory: bool = False) -> None:
    """`python -m stages.<name>`: `--help` says what the stage reads and writes; no other arguments.

    `release_freed_memory`: blocks the stage frees go back to the system at once (millrace/memory.py)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    prog = f"python -m {spec.name.removesuffix('.__main__')}" if spec else None
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=formatter, epilog="Settings: params.yaml"
    )
    parser.parse_args()
    if release_freed_memory:
        return_freed_memory()
    run_stage(main)
