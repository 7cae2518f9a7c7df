"""Drift statistics on data the tests make: PSI, unseen categories, a verdict withheld on too little data."""

import numpy as np
import pandas as pd
import pytest

from millrace.config.params import Monitor
from millrace.ops import drift, shift

RNG = np.random.default_rng(0)


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    reference = pd.Series(RNG.normal(0, 1, 5000))
    assert shift.numeric_psi(reference, pd.Series(RNG.normal(0, 1, 2000))) < 0.02
    assert shift.numeric_psi(reference, pd.Series(RNG.normal(1.5, 1, 2000))) > 1.0


def test_categorical_psi_counts_unseen_values():
    reference = pd.Series(["a"] * 50 + ["b"] * 50)
    same, unseen = shift.categorical_psi(reference, pd.Series(["a", "b"] * 20))
    assert same == pytest.approx(0, abs=1e-9) and unseen == 0
    shifted, unseen = shift.categorical_psi(reference, pd.Series(["a"] * 20 + ["c"] * 20))
    assert unseen == 0.5 and shifted > 1


def manifest():
    return {"version": "v1", "classes": ["x", "y"], "features": {"numeric": ["mass"], "categorical": {"island": []}}}


def test_the_report_names_what_drifted_and_withholds_a_verdict_on_too_little_data():
    reference = pd.DataFrame({"mass": RNG.normal(4000, 500, 400), "island": ["A", "B"] * 200, "label": [0, 1] * 200})
    logged = pd.DataFrame(
        {"mass": RNG.normal(6000, 500, 100), "island": ["A", "B"] * 50, "_prediction": ["x", "y"] * 50}
    )
    report = drift.run(reference, logged, manifest(), Monitor())
    assert report["drifted"] and report["drifted_features"] == ["mass"]
    assert report["features"]["mass"]["ks_statistic"] > 0.9 and not report["features"]["island"]["drifted"]
    assert "**Drifted: mass**" in drift.markdown(report)
    quiet = drift.run(reference, logged.head(10), manifest(), Monitor())
    assert quiet["drifted"] is None and "fewer than monitor.min_rows" in quiet["reason"]
