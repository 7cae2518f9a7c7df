"""The error a user can fix: the CLI prints its message without a traceback and exits 1."""


class MillraceError(Exception):
    """A mistake in the user's params, data or environment, explained in its message."""
