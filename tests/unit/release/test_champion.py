"""Champion and challenger: a release that cannot be loaded is not comparable, and says why, rather than
failing the deploy of a model that met its standard."""

import json

from millrace.release.champion import champion_comparison


def test_a_release_from_before_the_fitted_preprocessing_is_not_comparable(tmp_path):
    old = tmp_path / "6015ec1a-e26a3697"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"version": old.name, "classes": ["a"], "files": {}}))
    (old / "preprocess.json").write_text(json.dumps({"kind": "tabular", "numeric": {"x": [0, 1]}, "categorical": {}}))
    found = champion_comparison(old, trained=None, val=None, evaluation={}, tolerance=0.02)
    assert found["comparable"] is False and found["version"] == old.name
    assert "retrain" in found["reason"]
