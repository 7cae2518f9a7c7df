"""The error every input plan raises for a record it cannot encode (the server answers it with a 422)."""

from __future__ import annotations

from millrace.errors import MillraceError


class FeatureError(MillraceError):
    """A record does not fit the plan: a missing feature, a wrong type, a value a cleaning rule refuses."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row  # within the frame being encoded, when one row is to blame
