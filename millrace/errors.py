"""The error a user can fix: the CLI prints its message without a traceback and exits 1.

An error marked `transient` (a server that did not answer, a connection cut short) exits
TRANSIENT_EXIT instead, so an orchestrator can tell "try again later" from "fix something".
"""

TRANSIENT_EXIT = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure, trying again may help


class MillraceError(Exception):
    """A mistake in the user's params, data or environment, explained in its message."""

    transient: bool = False
