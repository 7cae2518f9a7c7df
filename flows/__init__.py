"""Prefect flows around the DVC pipeline: they schedule and observe; DVC decides what to run.

Importing any of them first turns usage reporting off (Prefect's, DVC's, Great Expectations'), unless the
user has set otherwise: Prefect 3.8 reports usage from `import prefect` and from defining a flow
(its `first_sdk_import` and `first_flow_defined` events, from a terminal, when DO_NOT_TRACK is unset),
which is before any flow's own code could run. A flow run from the command line (`python -m flows.pipeline`,
`flows.retrain`, `flows.monitor`) also starts Prefect's temporary server here, before the flow's module
imports Prefect, so that the two overlap (flows/ephemeral.py) — unless MILLRACE_WARM=1 hands the whole flow
run to the warm worker (stages/warm.py), which has imported Prefect and what DVC's status needs already.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from stages import module_run_by_python_m, run_in_warm_worker
from stages.warm import forked_by_warm_worker

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


def run_by_hand(flow_run: Coroutine[Any, Any, Any]) -> Any:
    """Run an async flow from the command line; Ctrl-C stops it at once, as it stops a sync program.

    `asyncio.run`'s own SIGINT handler only cancels the flow's task at its next `await`, and a flow's body
    blocks for a whole stage: Ctrl-C did nothing until the stage had ended. asyncio leaves any handler but
    Python's default in place, and this one raises KeyboardInterrupt wherever the body is, as the default does.
    """
    import asyncio

    signal.signal(signal.SIGINT, _interrupt)
    return asyncio.run(flow_run)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


FLOWS_RUN_BY_HAND = ("flows.pipeline", "flows.retrain", "flows.monitor")


def flow_run_by_hand() -> bool:
    """Whether `python -m` is about to run one of the flows (and not just for its --help)."""
    # sys.argv is ["-m", *the module's arguments] until runpy has found the module
    return module_run_by_python_m() in FLOWS_RUN_BY_HAND and not {"-h", "--help"} & set(sys.argv[1:])


def _prefect_settings_of_this_process() -> None:
    """In a flow forked from the warm worker, re-read Prefect's settings, which it read in the worker.

    The worker imports Prefect's modules (not `prefect.main`, which sets up logging) with its own
    environment and folder; the flow has the command's. Done before the flow's module imports
    `prefect.main`, whose logging set-up reads them.
    """
    if forked_by_warm_worker() and "prefect.context" in sys.modules:
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


_prefect_settings_of_this_process()

if flow_run_by_hand():
    run_in_warm_worker(module_run_by_python_m())  # with MILLRACE_WARM=1 and a worker up: runs there, exits
    from flows.ephemeral import start_early

    start_early()
