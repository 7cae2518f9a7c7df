"""Column roles inferred from values; what data.features includes, excludes and overrides."""

import numpy as np
import pandas as pd
import pytest

from millrace.errors import MillraceError
from millrace.inputs.roles import excluded_message, feature_roles, infer
from tests.helpers.params import data

N = 200


def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(N)],
            "row": np.arange(N),
            "income": rng.integers(20_000, 90_000, N),
            "height": rng.normal(170, 10, N),
            "plan": rng.choice(["basic", "plus", "pro"], N),
            "city": [f"town {i % 80}" for i in range(N)],
            "notes": [f"called about the invoice {i} and asked for a refund" for i in range(N)],
            "joined": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(N)],
            "country": "NZ",
            "fax": np.nan,
            "churned": rng.choice(["yes", "no"], N),
        }
    )


def test_each_role_is_inferred_from_the_values():
    frame = table()
    roles = {c: infer(frame[c]).role for c in frame.columns if c != "churned"}
    assert roles == {
        "customer_id": "identifier",
        "row": "identifier",
        "income": "numeric",  # unique whole numbers spread far wider than a row count: not an id
        "height": "numeric",
        "plan": "categorical",
        "city": "high_cardinality",
        "notes": "text",
        "joined": "datetime",
        "country": "constant",
        "fax": "empty",
    }


def test_without_a_list_identifiers_constants_and_empty_columns_are_left_out_and_named():
    used, left_out = feature_roles(table(), data(target="churned", features=None))
    assert set(left_out) == {"customer_id", "row", "country", "fax"}
    assert "customer_id" not in used and "churned" not in used
    said = excluded_message(left_out)
    assert "customer_id (identifier" in said and "fax (empty" in said and "data.features.roles" in said


def test_include_exclude_and_role_overrides():
    chosen = {"include": None, "exclude": ["notes"], "roles": {"row": "numeric", "city": "categorical"}}
    used, _ = feature_roles(table(), data(target="churned", features=chosen))
    assert "notes" not in used and used["row"].role == "numeric" and used["city"].role == "categorical"
    listed, _ = feature_roles(table(), data(target="churned", features=["row", "plan", "fax"]))
    assert list(listed) == ["row", "plan"]  # a named column is used as its values are, an empty one never
    assert listed["row"].role == "numeric"


def test_a_column_that_does_not_exist_is_named_with_the_columns_there_are():
    with pytest.raises(MillraceError, match=r"data.features names columns that do not exist: \['nope'\]"):
        feature_roles(table(), data(target="churned", features={"exclude": ["nope"]}))
    with pytest.raises(MillraceError, match="no column is left to learn from"):
        feature_roles(table()[["customer_id", "churned"]], data(target="churned", features=None))
