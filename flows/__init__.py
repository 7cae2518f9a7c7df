"""Prefect flows around the DVC pipeline: they schedule and observe; DVC decides what to run.

Importing any of them first turns usage reporting off (Prefect's, DVC's, Great Expectations'), unless the
user has set otherwise: Prefect 3.8 reports usage from `import prefect` and from defining a flow
(its `first_sdk_import` and `first_flow_defined` events, from a terminal, when DO_NOT_TRACK is unset),
which is before any flow's own code could run. A flow run from the command line (`python -m flows.pipeline`,
`flows.retrain`, `flows.monitor`) also starts Prefect's temporary server here, before the flow's module
imports Prefect, so that the two overlap (flows/ephemeral.py).
"""

from __future__ import annotations

import os
import sys

QUIET_ENV = {
    "GX_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",  # DVC ignores DO_NOT_TRACK
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def quiet_environment() -> None:
    """Usage reporting off for this process and what it starts, unless the user set otherwise."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


quiet_environment()

FLOWS_RUN_BY_HAND = ("flows.pipeline", "flows.retrain", "flows.monitor")


def module_run_by_python_m() -> str | None:
    """The module `python -m` is about to run, while it imports the module's packages; else None.

    Until runpy has found the module, sys.argv[0] is "-m"; the interpreter's -m comes before any argument.
    """
    if sys.argv[:1] != ["-m"] or "-m" not in sys.orig_argv:
        return None
    module, *arguments = sys.orig_argv[sys.orig_argv.index("-m") + 1 :] or [None]
    return None if {"-h", "--help"} & set(arguments) else module


if module_run_by_python_m() in FLOWS_RUN_BY_HAND:
    from flows.ephemeral import start_early

    start_early()
