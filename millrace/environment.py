"""The process settings every millrace command puts in place before it does any work.

Set by the entry points (`stage_main` and `run_stage` in millrace/entry.py, the `millrace` command, the
flows' `main()`s, the Makefile), never by importing a module:
- usage reporting off for Great Expectations, Prefect and DVC, unless the user has set otherwise
  (DVC ignores DO_NOT_TRACK: it has its own switch; a fresh `dvc init` has analytics on);
- Arrow on the system allocator, which gives freed memory back (millrace/memory.py): for the processes
  this one starts (ARROW_DEFAULT_MEMORY_POOL, which Arrow reads once, at import) and for this one, whose
  stage module has imported pandas, and with it Arrow, already.
"""

from __future__ import annotations

import os
import sys

QUIET_ENV = {
    "GX_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
PROCESS_ENV = {**QUIET_ENV, "ARROW_DEFAULT_MEMORY_POOL": "system"}


def prepare_process() -> None:
    """Put this process's settings in place (and so those of the processes it starts); a user's own win."""
    for key, value in PROCESS_ENV.items():
        os.environ.setdefault(key, value)
    if "pyarrow" in sys.modules and os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system":
        import pyarrow

        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
