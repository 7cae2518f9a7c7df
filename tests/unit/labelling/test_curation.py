"""Label review by confident learning and active learning by margin, out of fold and on a sample."""

from __future__ import annotations

import numpy as np

from millrace.labelling import curation


def test_confident_learning_finds_flipped_labels():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (100, 2)), rng.normal(2, 1, (100, 2))])
    y = np.array([0] * 100 + [1] * 100)
    depth = x.sum(axis=1)  # flip rows deep inside their class's cluster: unmistakably mislabelled
    flipped = [*np.argsort(depth[:100])[:2], *(100 + np.argsort(-depth[100:])[:2])]
    y[flipped] = 1 - y[flipped]
    found, how = curation.suspects(x, y, ["a", "b"], "tabular", folds=5, seed=0)
    assert set(flipped) <= set(found["position"].head(6))
    assert "5-fold" in how and found["suspected"].isin(["a", "b"]).all()


def test_margin_sampling_picks_the_rows_on_the_boundary():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-3, 1, (50, 1)), rng.normal(3, 1, (50, 1))])
    y = np.array([0] * 50 + [1] * 50)
    pool = np.array([[-6.0], [0.05], [6.0], [-0.1], [3.0]])
    chosen, scores, _, _ = curation.most_informative(x, y, pool, "tabular", "margin", 2, seed=0)
    assert sorted(chosen.tolist()) == [1, 3] and (np.diff(scores) <= 0).all()


def test_the_review_scores_every_row_out_of_fold_with_each_fold_model_fitted_on_a_sample():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(-2, 1, (600, 2)), rng.normal(2, 1, (600, 2))])
    y = np.array([0] * 600 + [1] * 600)
    y[[0, 1, 600, 601]] = 1 - y[[0, 1, 600, 601]]
    full = curation.out_of_fold_probabilities(x, y, 2, "tabular", 5, 0, fit_rows=10_000)
    sampled = curation.out_of_fold_probabilities(x, y, 2, "tabular", 5, 0, fit_rows=200)
    assert full.shape == sampled.shape == (1200, 2) and np.allclose(sampled.sum(axis=1), 1)
    assert not np.allclose(full, sampled)  # the sample really is smaller than the fold's rows
    assert np.mean(full.argmax(axis=1) == sampled.argmax(axis=1)) > 0.98
    found, how = curation.suspects(x, y, ["a", "b"], "tabular", folds=5, seed=0, fit_rows=200)
    assert "fitted on 200 sampled rows" in how
    assert {0, 1, 600, 601} <= set(found["position"].head(8))
