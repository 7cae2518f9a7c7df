"""Which labels a person should look at again, and which unlabelled rows they should label next.

Both use a quick probabilistic model of the data kind (logistic regression on TF-IDF for text, on
the encoded features or pixels otherwise). Label review is confident learning (cleanlab) on
out-of-fold probabilities: a row whose given label the held-out model finds unlikely, ranked by
that label's probability, with the class the model suspects instead. Active learning ranks the
unlabelled rows by how unsure a model trained on every labelled row is about them (margin between
the two likeliest classes, least confidence or entropy) and writes the top N as a Label Studio
import (tasks with the model's suggestion as a pre-annotation) and as CSV.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from millrace.config.params import Params

REVIEW_COLUMNS = ["position", "given", "given_probability", "suspected", "suspected_probability"]
LABEL_STUDIO_FROM = "label"  # the Choices control's name in the labelling config written beside the tasks


def model(kind: str, seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    linear = LogisticRegression(max_iter=2000, random_state=seed)
    return make_pipeline(TfidfVectorizer(), linear) if kind == "text" else linear


def _rows(x, positions: np.ndarray):
    """Rows of the model's input: an array's rows, or a list's items (texts)."""
    return x[positions] if isinstance(x, np.ndarray) else [x[i] for i in positions]


def out_of_fold_probabilities(x, y: np.ndarray, classes: int, kind: str, folds: int, seed: int, fit_rows: int):
    """Each row's class probabilities from a model that never saw it; each fold's model fits on at
    most `fit_rows` of the other rows (a random sample), so the cost stops growing with the fit."""
    from sklearn.model_selection import StratifiedKFold

    probabilities = np.zeros((len(y), classes))
    rng = np.random.default_rng(seed)
    for fit, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        if len(fit) > fit_rows:
            fit = np.sort(rng.choice(fit, fit_rows, replace=False))
        fitted = model(kind, seed).fit(_rows(x, fit), y[fit])
        probabilities[np.ix_(held_out, fitted.classes_)] = fitted.predict_proba(_rows(x, held_out))
    return probabilities


def suspects(
    x, y: np.ndarray, classes: list[str], kind: str, folds: int, seed: int, fit_rows: int = 100_000
) -> tuple[pd.DataFrame, str]:
    """Rows (positions into x) whose label looks wrong, most suspicious first; and how it was judged."""
    from cleanlab.filter import find_label_issues

    folds = min(folds, int(np.bincount(y, minlength=len(classes)).min()))
    if folds < 2:
        return pd.DataFrame(columns=REVIEW_COLUMNS), "skipped: a class has fewer than 2 labelled rows"
    probabilities = out_of_fold_probabilities(x, y, len(classes), kind, folds, seed, fit_rows)
    ranked = find_label_issues(y, probabilities, return_indices_ranked_by="self_confidence")
    given = probabilities[ranked, y[ranked]]
    suspected = probabilities[ranked].argmax(axis=1)
    frame = pd.DataFrame(
        {
            "position": ranked,
            "given": [classes[i] for i in y[ranked]],
            "given_probability": given.round(4),
            "suspected": [classes[i] for i in suspected],
            "suspected_probability": probabilities[ranked, suspected].round(4),
        }
    )
    how = f"confident learning on {folds}-fold out-of-fold probabilities"
    if len(y) * (folds - 1) / folds > fit_rows:
        how += f", each fold's model fitted on {fit_rows:,} sampled rows"
    return frame, how


def informativeness(probabilities: np.ndarray, strategy: str) -> np.ndarray:
    """Higher is more worth labelling."""
    ordered = np.sort(probabilities, axis=1)
    if strategy == "margin":
        return 1 - (ordered[:, -1] - (ordered[:, -2] if probabilities.shape[1] > 1 else 0))
    if strategy == "uncertainty":
        return 1 - ordered[:, -1]
    return -(probabilities * np.log(np.clip(probabilities, 1e-12, 1))).sum(axis=1)


def most_informative(x_labelled, y, x_pool, kind: str, strategy: str, n: int, seed: int):
    """Positions into the pool of the `n` rows to label next, their scores and the model's probabilities."""
    fitted = model(kind, seed).fit(x_labelled, y)
    probabilities = fitted.predict_proba(x_pool)
    scores = informativeness(probabilities, strategy)
    chosen = np.argsort(-scores, kind="stable")[:n]
    return chosen, scores[chosen], probabilities[chosen], fitted.classes_


def label_studio_tasks(
    pool: pd.DataFrame, display: pd.Series, probabilities: np.ndarray, classes: list[str], model_classes
) -> list[dict[str, Any]]:
    """Label Studio's import format: task data plus the model's guess as a pre-annotation."""
    tasks = []
    for (_, row), text, probs in zip(pool.iterrows(), display, probabilities, strict=True):
        best = int(np.argmax(probs))
        data = {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v)) for k, v in row.items()}
        tasks.append(
            {
                "data": data | {"text": text},
                "predictions": [
                    {
                        "model_version": "millrace-label",
                        "score": round(float(probs[best]), 4),
                        "result": [
                            {
                                "from_name": LABEL_STUDIO_FROM,
                                "to_name": "text",
                                "type": "choices",
                                "value": {"choices": [classes[int(model_classes[best])]]},
                            }
                        ],
                    }
                ],
            }
        )
    return tasks


def label_config(classes: list[str]) -> str:
    """A Label Studio labelling config whose names match the tasks and what `annotations` reads back."""
    choices = "\n".join(f'    <Choice value="{c}"/>' for c in classes)
    return (
        '<View>\n  <Text name="text" value="$text"/>\n'
        f'  <Choices name="{LABEL_STUDIO_FROM}" toName="text" choice="single">\n{choices}\n  </Choices>\n</View>\n'
    )


def write_tasks(directory: Path, tasks: list[dict[str, Any]], table: pd.DataFrame, classes: list[str]) -> None:
    (directory / "to_label.json").write_text(json.dumps(tasks, indent=1, default=str) + "\n")
    table.to_csv(directory / "to_label.csv", index=False)
    (directory / "label_config.xml").write_text(label_config(classes))


def curate(labelled, ids, source, pool, pool_ids, task, params: Params, out: Path) -> dict[str, Any]:
    """Label review and the active-learning export (classification only)."""
    from millrace.evaluation import baselines
    from millrace.inputs import plans
    from millrace.labelling.targets import class_ids, label_map

    review, active = params.label.review, params.label.active_learning
    if task != "classification":
        return {"review": "classification only", "active_learning": "classification only"}
    # Encodings only (no labels are used), so the unlabelled pool counts too; no copy when there is none.
    plan = plans.fit(pd.concat([labelled, pool]) if len(pool) else labelled, params)
    classes = label_map(labelled[params.data.target])
    y = class_ids(labelled[params.data.target], classes)
    x = baselines.inputs(plan, labelled)
    report: dict[str, Any] = {}
    if review.enabled:
        flagged, how = suspects(x, y, classes, plan.kind, review.folds, params.seed, review.fit_rows)
        flagged = flagged.head(review.max_rows)
        positions = flagged.pop("position").to_numpy().astype(int)
        flagged.insert(0, "row_id", ids.iloc[positions].to_numpy())
        flagged.insert(1, "label_source", source.iloc[positions].to_numpy())
        flagged["row"] = _display(labelled.iloc[positions].drop(columns=[params.data.target]), plan).to_numpy()
        flagged.to_csv(out / "label_review.csv", index=False)
        report["review"] = {"method": how, "flagged": len(flagged)}
    if active.batch and len(pool) and len(classes) > 1:
        chosen, scores, probabilities, model_classes = most_informative(
            x, y, baselines.inputs(plan, pool), plan.kind, active.strategy, active.batch, params.seed
        )
        picked = pool.iloc[chosen].drop(columns=[params.data.target]).assign(row_id=pool_ids.iloc[chosen].to_numpy())
        display = _display(picked, plan)
        tasks = label_studio_tasks(picked, display, probabilities, classes, model_classes)
        suggested = [classes[int(model_classes[i])] for i in probabilities.argmax(axis=1)]
        table = picked.assign(suggested=suggested, informativeness=scores.round(4))
        write_tasks(out, tasks, table, classes)
        report["active_learning"] = {"strategy": active.strategy, "pool": len(pool), "exported": len(picked)}
    return report


def _display(rows: pd.DataFrame, plan) -> pd.Series:
    """What a labeller reads: the text itself, or the row's values as `name: value` pairs."""
    if plan.kind == "text":
        return rows[plan.column].astype("str")
    shown = rows.drop(columns=["row_id"], errors="ignore")
    return shown.apply(lambda r: "; ".join(f"{k}: {v}" for k, v in r.items() if not isinstance(v, bytes)), axis=1)
