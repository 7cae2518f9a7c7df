"""What kind of values a column holds: numbers, text, or binary (encoded images), as the stages tell them apart."""

from __future__ import annotations

import pandas as pd

from millrace.inputs.images import is_binary


def is_numeric(series: pd.Series) -> bool:
    """Numbers, booleans excepted."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def is_text(series: pd.Series) -> bool:
    """Strings (or objects holding them), not numbers, booleans or bytes."""
    return not (is_numeric(series) or pd.api.types.is_bool_dtype(series) or is_binary(series)) and (
        pd.api.types.is_string_dtype(series) or series.dtype == object
    )
