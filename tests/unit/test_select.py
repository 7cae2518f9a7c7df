import pandas as pd
import pytest

from stages.errors import MillraceError
from stages.select import describe, run


def tabular():
    return describe(pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]}), ["x", "c"], ["p", "q"])


def test_tabular_classification_picks_the_mlp_and_says_why():
    selection = run(tabular(), "auto")
    assert selection["family"] == "tabular_mlp"
    assert not selection["overridden"]
    assert any("tabular" in reason for reason in selection["reasons"])


def test_params_override_is_recorded():
    selection = run(tabular(), "tabular_mlp")
    assert selection["overridden"]
    assert "overrides" in selection["reasons"][0]


def test_unknown_override_lists_the_registry():
    with pytest.raises(MillraceError, match="tabular_mlp"):
        run(tabular(), "resnet")


def test_text_data_has_no_family_yet():
    profile = describe(pd.DataFrame({"t": ["a long sentence " * 5] * 3}), ["t"], ["p", "q"])
    assert profile["kind"] == "text"
    with pytest.raises(MillraceError, match="no registered model family handles text"):
        run(profile, "auto")
