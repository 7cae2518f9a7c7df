"""Baselines beside every model: the strongest simple scikit-learn models for the task and data kind.

Trained on the same training split, scored on the same test split, so the evaluate report shows
whether the deep model earned its keep. Tables use the model's own encoded features; images
their standardised pixels; text TF-IDF of its words.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from millrace.evaluation.metrics import PRIMARY, quick


def models(kind: str, task: str, seed: int) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    regression = task == "regression"
    linear = Ridge() if regression else LogisticRegression(max_iter=2000)
    if kind == "text":
        return {"tfidf_" + ("ridge" if regression else "logistic_regression"): make_pipeline(TfidfVectorizer(), linear)}
    if kind == "image":
        return {"ridge_on_pixels": Ridge()} if regression else {"svc_on_pixels": SVC()}
    boosting = (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(random_state=seed)
    return {("ridge" if regression else "logistic_regression"): linear, "hist_gradient_boosting": boosting}


def inputs(plan, frame: pd.DataFrame):
    """What a scikit-learn model sees: encoded features, flattened pixels, or the raw texts."""
    if plan.kind == "text":
        return frame[plan.column].astype("str").tolist()
    encoded = plan.encode(frame)[plan.input_names[0]]
    return encoded.reshape(len(frame), -1)


def run(plan, train: pd.DataFrame, test: pd.DataFrame, task: str, seed: int) -> dict[str, Any]:
    """Each baseline's test metrics, and which one is best on the task's primary metric."""
    x_train, x_test = inputs(plan, train), inputs(plan, test)
    y_train, y_test = train["label"].to_numpy(), test["label"].to_numpy()
    results = {}
    for name, model in models(plan.kind, task, seed).items():
        model.fit(x_train, y_train)
        results[name] = quick(task, y_test, np.asarray(model.predict(x_test)))
    primary = PRIMARY[task]
    best = max(results, key=lambda name: results[name][primary])
    return {"models": results, "best": {"name": best, "metric": primary, "value": results[best][primary]}}
