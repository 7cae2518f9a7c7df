"""Prefect flows around the DVC pipeline: they schedule and observe; DVC decides what to run.

Importing a flow module does nothing but define it. Run as a command (`python -m flows.pipeline`,
`flows.retrain`, `flows.monitor`, `flows.deployments`), a flow module first calls `prepare_command()`,
before it imports Prefect: Prefect 3.8 reports usage from `import prefect` and from defining a flow
unless DO_NOT_TRACK is set, so usage reporting is turned off (millrace/environment.py) before that;
and a flow run starts Prefect's temporary server at once, so that the server's start (~2 s) and
Prefect's import (~0.9 s) overlap (flows/ephemeral.py).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Coroutine
from typing import Any

from millrace.environment import prepare_process


def prepare_command(runs_a_flow: bool = True) -> None:
    """What a flow module run as a command does first: the process settings, and for a flow run (not for
    its --help) Prefect's temporary server, unless one may be configured."""
    prepare_process()
    if runs_a_flow and not {"-h", "--help"} & set(sys.argv[1:]):
        from flows.ephemeral import start_early

        start_early()


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
