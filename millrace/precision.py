"""The precision of the figures a run writes into git: 4 significant digits.

Metrics, plot data and reports are tracked by git (DVC writes them uncached), so two runs of the same
commit must write the same bytes. On one kind of machine they do; on another, floating point may differ in
the last digits of a loss. Rounding every float to SIGNIFICANT digits states how far a figure is meant.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from millrace.files import write_json

SIGNIFICANT = 4


def rounded(value: Any, digits: int = SIGNIFICANT) -> Any:
    """`value` with every float (in lists and dicts too) rounded to `digits` significant digits."""
    if isinstance(value, float):
        if value == 0 or not math.isfinite(value):
            return value
        return round(value, digits - 1 - math.floor(math.log10(abs(value))))
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item, digits) for item in value]
    return value


def write_figures(path: Path | str, data: Any) -> None:
    """Write a tracked report (JSON) with its figures rounded, atomically."""
    write_json(path, rounded(data))
