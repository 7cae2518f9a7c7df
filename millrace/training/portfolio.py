"""A portfolio: several families' fixed configurations fitted and judged on held-out data, the best chosen.

How a candidate (a family and one configuration of its `search_space`) is judged:

- below `CV_ROWS` rows of training plus validation data, by `FOLDS`-fold cross-validation on their union. A row's
  fold comes from the hash of its values, so it is the same on every run and machine and equal rows share a fold
  (no row is judged by a model that trained on its copy);
- from `CV_ROWS` rows on, fitted on the training split and judged on the validation split.

Each fit is the train stage's own run (the input plan fitted on the fit's training rows only); a tenth of those
rows, chosen by hash too, is its validation split: it stops the rounds or epochs, and is never scored. The score is
the task's primary metric (accuracy; R²), ties broken by log loss (RMSE); under cross-validation its standard
error is the folds' standard deviation over √folds.

Candidates run in rounds: every family's first configuration (cheapest family first), then every family's
second, and so on, so a tight budget still compares the families' defaults. A candidate the time left cannot
cover is not tried: its expected time is `MARGIN` × its family's slowest candidate so far (the catalogue's
estimate for a family's first), and should it win, its own final fit must fit too. Kept back for the train stage
and the export that follows it: `MARGIN` × (the slowest single fit + the slowest export), or with
`model.ensemble: k` the k slowest families' (a blend trains and exports one member per family); each family's
export is timed once, on its first candidate's first fold, as deploy writes it (ONNX, and TorchScript for a
network). A network's final fit trains at most as many epochs as its longest judged fit ran (`stop_after_epochs`
in its selection): early stopping on the real validation split may otherwise run it longer than the fit the
reserve was planned on.
Each candidate's result is cached under `.millrace/cache/portfolio/` by the data, its configuration, the params it
depends on and the fitting code: changing one family's settings refits only it.

scikit-learn's baselines (millrace/evaluation/baselines.py: logistic or ridge regression, histogram gradient
boosting, on the same encoded features) are judged on the same rows for reference: the leaderboard shows whether
the winner beats them there, not only on the test split's few rows. They are never chosen.

With `model.ensemble: k`, the best candidate of each of the best k families is also blended (`blend`; two
configurations of one family err alike): weights chosen greedily, with replacement, to lower the log loss
(squared error) of the weighted average of their held-out outputs (Caruana et al., 2004, as AutoGluon's weighted
ensemble does). The blend joins the leaderboard as one more candidate, scored on the same held-out rows, and is
chosen only if it beats every single candidate there; the weights were fitted on those rows, so its score is a
little optimistic, as AutoGluon's is. A blend whose members' final fits and exports (`MARGIN` × theirs) would
not fit the time left is not built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FOLDS = 5
CV_ROWS = 10_000  # from this many rows of train + validation on, the validation split judges instead
STOP_SHARE = 10  # 1 in this many of a fit's training rows stops its rounds
CACHE = Path(".millrace/cache/portfolio")
CACHE_FORMAT = 3
LATENCY_CALLS = 20
CACHED = ("score", "error", "loss", "fit_seconds", "size", "latency_ms", "export_seconds", "epochs", "held_out")
BLEND_ROUNDS = 25  # greedy steps: weights are multiples of 1/25
# A family's next configuration is expected to take up to this many times its slowest so far (deeper trees, a
# larger network), and the winner's final fit this many times the slowest single fit.
MARGIN = 1.5
# What a candidate's result depends on besides its data and configuration: the code that fits and judges it.
CODE = (
    "millrace/training/portfolio.py",
    "millrace/training/dispatch.py",
    "millrace/training/estimator_run.py",
    "millrace/training/lightning_run.py",
    "millrace/training/fit.py",
    "millrace/training/system.py",
    "millrace/training/datamodule.py",
    "millrace/models/trained_model.py",
    "millrace/models/engines.py",
    "millrace/models/estimators.py",
    "millrace/models/network.py",
    "millrace/models/trees.py",
    "millrace/models/category_codes.py",
    "millrace/models/linear.py",
    "millrace/models/families/tabular_mlp.py",
    "millrace/inputs/plans.py",
    "millrace/inputs/table_transform.py",
    "millrace/inputs/tabular.py",
    "millrace/inputs/roles.py",
)


ENSEMBLE = "ensemble"
BASELINE = "baseline"  # scikit-learn's baselines, judged on the same rows for reference, never deployed


@dataclass(frozen=True)
class Candidate:
    family: str
    index: int  # position in the family's search space, 0 being its default
    config: dict[str, Any]

    @property
    def name(self) -> str:
        if self.family == BASELINE:
            return f"{self.config['model']} (baseline)"
        return ENSEMBLE if self.family == ENSEMBLE else f"{self.family}#{self.index + 1}"

    def selection(self, family) -> dict[str, Any]:
        """What the train stage reads from models/selection.json to fit this candidate."""
        if self.family == ENSEMBLE:
            members = self.config["members"]
            return {"family": ENSEMBLE, "strategy": ENSEMBLE, "size": f"{len(members)} members", "members": members}
        options = {k: v for k, v in self.config.items() if k != "size"}
        size = self.config.get("size") or next(iter(family.sizes))
        return {"family": self.family, "strategy": "full", "size": size} | ({"options": options} if options else {})


@dataclass
class Result:
    candidate: Candidate
    score: float | None = None  # the primary metric, mean over folds
    error: float | None = None  # its standard error under cross-validation
    loss: float | None = None  # log loss or RMSE: the tie-breaker
    fit_seconds: float = 0.0  # per fit (mean over folds)
    size: int = 0  # parameters, nodes or coefficients
    latency_ms: float = 0.0  # one row through the plan and the model, in process
    export_seconds: float | None = None  # the deployed graphs written once (each family's first candidate only)
    epochs: int | None = None  # a network's longest judged fit, in epochs: its final fit's cap
    cached: bool = False
    skipped: str | None = None  # why it was not tried
    held_out: list = field(default_factory=list)  # outputs for every judged row (out-of-fold under CV)

    def final_selection(self, family) -> dict[str, Any]:
        """What the train stage fits for this candidate: its selection, and for a network the epochs it may run."""
        return self.candidate.selection(family) | ({"stop_after_epochs": self.epochs} if self.epochs else {})

    def row(self) -> dict[str, Any]:
        keys = ("score", "error", "loss", "fit_seconds", "size", "latency_ms", "export_seconds", "cached", "skipped")
        return {"candidate": self.candidate.name, "family": self.candidate.family, "config": self.candidate.config} | {
            k: getattr(self, k) for k in keys
        }


def order(families: list[Any], params) -> list[Candidate]:
    """Round-robin over the families (cheapest to judge first within a round), each's search space in its order."""
    by_cost = sorted(families, key=lambda f: _estimate_seconds(f, 1, 1, params))
    rounds = max(len(f.search_space) for f in families)
    return [
        Candidate(f.name, i, dict(f.search_space[i])) for i in range(rounds) for f in by_cost if i < len(f.search_space)
    ]


def folds(frame: pd.DataFrame) -> np.ndarray:
    """Each row's fold in 0..FOLDS-1, from the hash of its values (not its position)."""
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return (hashes % np.uint64(FOLDS)).astype(np.int64)


def _stopping_rows(frame: pd.DataFrame) -> np.ndarray:
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return (hashes // np.uint64(FOLDS)) % np.uint64(STOP_SHARE) == 0


def splits(train: pd.DataFrame, val: pd.DataFrame) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """(fit, judged) pairs: the folds of train + validation below CV_ROWS rows, else training vs validation."""
    if len(train) + len(val) >= CV_ROWS:
        return [(train, val)]
    union = pd.concat([train, val], ignore_index=True)
    fold = folds(union)
    return [(union[fold != k].reset_index(drop=True), union[fold == k].reset_index(drop=True)) for k in range(FOLDS)]


def score(task: str, actual: np.ndarray, outputs: np.ndarray) -> tuple[float, float]:
    """(primary metric, tie-breaking loss) of outputs (probabilities or values) against the true labels."""
    from sklearn.metrics import mean_squared_error, r2_score

    if task == "classification":
        accuracy = float((outputs.argmax(axis=1) == actual).mean())
        return accuracy, _loss(task, actual, outputs)
    r2 = float(r2_score(actual, outputs)) if len(actual) > 1 and np.ptp(actual) > 0 else float("nan")
    return r2, float(np.sqrt(mean_squared_error(actual, outputs)))


def data_digest(train: pd.DataFrame, val: pd.DataFrame, labels: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(labels, sort_keys=True, default=str).encode())
    for frame in (train, val):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        digest.update(json.dumps(list(frame.columns)).encode())
    return digest.hexdigest()


def code_digest() -> str:
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for path in CODE:
        digest.update((root / path).read_bytes())
    return digest.hexdigest()


def cache_key(candidate: Candidate, family, params, data: str, code: str) -> str:
    """What a candidate's result depends on: data, configuration, seed, data and cleaning params, the code; for a
    network also the training params and the model's dropout and LoRA settings."""
    depends = {
        "format": CACHE_FORMAT,
        "data": data,
        "code": code,
        "family": candidate.family,
        "base": family.sizes,
        "config": candidate.config,
        "params": params.model_dump(mode="json", include={"seed", "data", "clean"}),
    }
    if family.engine == "lightning":
        depends["training"] = params.model_dump(mode="json", include={"train"}) | {
            "dropout": params.model.dropout,
            "lora": params.model.lora.model_dump(),
        }
    return hashlib.sha256(json.dumps(depends, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _fit_and_predict(selection, params, labels, fit_rows, judged, scratch: Path, latency: bool, export: bool):
    """One fit on `fit_rows` (a tenth of them stopping the rounds); the outputs for `judged`, seconds, size,
    (when asked) one row's latency in milliseconds and the seconds its export takes, and a network's epochs run."""
    from millrace.files import write_json
    from millrace.models import trained_model
    from millrace.training.dispatch import fit_selected

    stop = _stopping_rows(fit_rows)
    label_dir = scratch / "label"
    label_dir.mkdir(parents=True)
    (scratch / "model").mkdir()
    fit_rows[~stop].to_parquet(label_dir / "train.parquet")
    fit_rows[stop].to_parquet(label_dir / "val.parquet")
    write_json(label_dir / "label_map.json", labels)
    started = time.perf_counter()
    meta = fit_selected(label_dir, selection, params, scratch / "model", None, scratch / "checkpoints")
    seconds = time.perf_counter() - started
    trained = trained_model.load(scratch / "model")
    outputs = trained_model.predict(trained, judged).numpy()
    size = int(trained_model.model_size(trained, scratch / "model")["parameters"])
    milliseconds = 0.0
    if latency:
        one = judged.iloc[:1]
        timings = []
        for _ in range(LATENCY_CALLS):
            tick = time.perf_counter()
            trained_model.predict(trained, one)
            timings.append(time.perf_counter() - tick)
        milliseconds = float(np.median(timings) * 1000)
    exporting = export_seconds(trained, judged, scratch / "export") if export else None
    return outputs, seconds, size, milliseconds, exporting, meta.get("epochs_run")


def export_seconds(trained, rows: pd.DataFrame, out: Path) -> float:
    """Seconds to write the graphs deploy writes for this model (its first rows as the example)."""
    out.mkdir()
    inputs = trained.plan.encode(rows.iloc[:64])
    started = time.perf_counter()
    trained.engine.export(trained, inputs, out)
    return time.perf_counter() - started


def judge(candidate: Candidate, family, params, labels, pairs, scratch: Path, export: bool = False) -> Result:
    """Fit the candidate on every pair's fit rows and score it on the judged rows (`export`: and time the export
    of its first fold's model)."""
    task = labels.get("task", "classification")
    selection = candidate.selection(family)
    scores, losses, seconds, held_out = [], [], [], []
    size, latency, exporting, epochs = 0, 0.0, None, []
    for k, (fit_rows, judged) in enumerate(pairs):
        outputs, took, size, ms, exported, ran = _fit_and_predict(
            selection, params, labels, fit_rows, judged, scratch / f"fold{k}", latency=k == 0, export=export and k == 0
        )
        latency = latency or ms
        exporting = exported if exported is not None else exporting
        primary, loss = score(task, judged["label"].to_numpy(), outputs)
        scores.append(primary)
        losses.append(loss)
        seconds.append(took)
        held_out.append(outputs)
        epochs += [ran] if ran else []
    return summary(
        candidate,
        scores,
        losses,
        fit_seconds=round(float(np.mean(seconds)), 3),
        size=size,
        latency_ms=round(latency, 3),
        export_seconds=None if exporting is None else round(exporting, 3),
        epochs=max(epochs) if epochs else None,
        held_out=[o.tolist() for o in held_out],
    )


def summary(candidate: Candidate, scores: list[float], losses: list[float], **figures: Any) -> Result:
    """A judged candidate's Result: its scores' and losses' means over the folds, and the scores' standard error."""
    error = float(np.std(scores, ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else None
    return Result(
        candidate,
        score=round(float(np.mean(scores)), 6),
        error=None if error is None else round(error, 6),
        loss=round(float(np.mean(losses)), 6),
        **figures,
    )


def _read_cached(path: Path, candidate: Candidate) -> Result | None:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return Result(candidate, cached=True, **{k: found[k] for k in CACHED})


def _write_cached(path: Path, result: Result) -> None:
    from millrace.files import write_json

    write_json(path, {k: getattr(result, k) for k in CACHED})


def compare(
    families: list[Any],
    train: pd.DataFrame,
    val: pd.DataFrame,
    labels: dict[str, Any],
    params,
    budget_seconds: float,
    cache: Path = CACHE,
    clock=time.monotonic,
    ensemble: int = 0,
    baselines: bool = True,
) -> list[Result]:
    """Judge the families' candidates in order until the budget is spent; every candidate gets a Result, the
    ones not tried saying why. The baselines are judged first (inside the budget: they are quick), and with
    `ensemble` ≥ 2 the blend of the best that many comes after the candidates."""
    pairs = splits(train, val)
    data, code = data_digest(train, val, labels), code_digest()
    started = clock()
    reference = judge_baselines(pairs, labels, params) if baselines else []
    results: list[Result] = []
    slowest: dict[str, float] = {}  # family → seconds its slowest judged candidate took
    # Per family, its slowest single fit and its export: the final fit and export of the winner, or of a blend's
    # members (one per family), are kept back from the budget.
    fits: dict[str, float] = {}
    exports: dict[str, float] = {}
    members = max(ensemble, 1)

    def reserve(family: str | None = None, fit: float = 0.0) -> float:
        """Kept back for the final fits and exports; with `family` and `fit`, as if that fit were among them."""
        found = fits | ({family: max(fits.get(family, 0.0), fit)} if family else {})
        largest = sorted(found.values(), reverse=True)[:members] + sorted(exports.values(), reverse=True)[:members]
        return MARGIN * sum(largest)

    def keep(result: Result) -> None:
        family = result.candidate.family
        fits[family] = max(fits.get(family, 0.0), result.fit_seconds)
        exports[family] = max(exports.get(family, 0.0), result.export_seconds or 0.0)

    quiet = logging.getLogger("millrace.training")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # per-epoch lines of dozens of fits would bury what select says
    try:
        for candidate in order(families, params):
            family = next(f for f in families if f.name == candidate.family)
            path = cache / f"{cache_key(candidate, family, params, data, code)}.json"
            found = _read_cached(path, candidate)
            if found is not None:
                results.append(found)
                keep(found)
                continue
            estimate = _estimate_seconds(family, len(pairs), len(pairs[0][0]), params)
            expected = MARGIN * slowest[candidate.family] if candidate.family in slowest else estimate
            left = budget_seconds - (clock() - started)
            kept = reserve(candidate.family, expected / len(pairs))  # should it win, its own final fit too
            if expected + kept > left:
                why = f"not tried: about {expected:.0f} s to judge, {max(left - kept, 0):.0f} s of the budget left"
                results.append(Result(candidate, skipped=why))
                continue
            tick = clock()
            first = not any(r.candidate.family == candidate.family and r.skipped is None for r in results)
            with tempfile.TemporaryDirectory(prefix="millrace-portfolio-") as scratch:
                result = judge(candidate, family, params, labels, pairs, Path(scratch), export=first)
            slowest[candidate.family] = max(slowest.get(candidate.family, 0.0), clock() - tick)
            keep(result)
            _write_cached(path, result)
            results.append(result)
    finally:
        quiet.setLevel(level)
    if ensemble >= 2:
        labels_by_fold = [judged["label"].to_numpy() for _, judged in pairs]
        blended = blend(results, labels_by_fold, labels.get("task", "classification"), ensemble, families)
        if blended.skipped is None:  # its members' final fits and exports must fit the time left
            member_families = [m["family"] for m in blended.candidate.config["members"]]
            need = MARGIN * (blended.fit_seconds + sum(exports.get(f, 0.0) for f in member_families))
            left = budget_seconds - (clock() - started)
            if need > left:
                why = (
                    f"not built: its members' final fits and exports (about {need:.0f} s) exceed the {left:.0f} s left"
                )
                blended = Result(blended.candidate, skipped=why)
        results.append(blended)
    return results + reference


def judge_baselines(pairs, labels: dict[str, Any], params) -> list[Result]:
    """The evaluate stage's scikit-learn baselines, fitted and scored on the same pairs as the candidates."""
    from millrace.evaluation import baselines
    from millrace.inputs import plans

    task = labels.get("task", "classification")
    found: dict[str, list] = {}
    for fit_rows, judged in pairs:
        plan = plans.fit(fit_rows, params)
        x_fit, x_judged = baselines.inputs(plan, fit_rows), baselines.inputs(plan, judged)
        for name, model in baselines.models(plan.kind, task, params.seed).items():
            started = time.perf_counter()
            model.fit(x_fit, fit_rows["label"].to_numpy())
            seconds = time.perf_counter() - started
            if task == "classification":
                outputs = np.zeros((len(judged), len(labels["classes"])))
                outputs[:, model.classes_] = model.predict_proba(x_judged)
            else:
                outputs = np.asarray(model.predict(x_judged), dtype=np.float64)
            found.setdefault(name, []).append((score(task, judged["label"].to_numpy(), outputs), seconds))
    return [
        summary(
            Candidate(BASELINE, i, {"model": name}),
            [primary for (primary, _), _ in folds],
            [loss for (_, loss), _ in folds],
            fit_seconds=round(float(np.mean([seconds for _, seconds in folds])), 3),
        )
        for i, (name, folds) in enumerate(found.items())
    ]


def _loss(task: str, actual: np.ndarray, outputs: np.ndarray) -> float:
    """Log loss (the true class's probability, floored at 1e-7) or mean squared error."""
    if task == "classification":
        return float(-np.log(np.clip(outputs[np.arange(len(actual)), actual], 1e-7, 1)).mean())
    return float(((outputs - actual) ** 2).mean())


def blend(results: list[Result], labels_by_fold: list[np.ndarray], task: str, k: int, families) -> Result:
    """The weighted average of held-out outputs, weights chosen greedily, over the best candidate of each of the
    best `k` families: two configurations of one family make much the same errors, which a blend cannot cancel."""
    best_of_family: dict[str, Result] = {}
    for result in sorted(judged(results), key=lambda r: (-r.score, r.loss)):
        best_of_family.setdefault(result.candidate.family, result)
    top = list(best_of_family.values())[:k]
    candidate = Candidate(ENSEMBLE, 0, {"members": []})
    if len(top) < 2:
        return Result(candidate, skipped=f"not built: {len(top)} family judged, a blend needs 2")
    outputs = [[np.asarray(fold, dtype=np.float64) for fold in r.held_out] for r in top]
    stacked = [np.concatenate(folds) for folds in outputs]
    actual = np.concatenate(labels_by_fold)
    counts = np.zeros(len(top))
    current = np.zeros_like(stacked[0])
    for step in range(BLEND_ROUNDS):
        trials = [(current * step + candidate_outputs) / (step + 1) for candidate_outputs in stacked]
        pick = int(np.argmin([_loss(task, actual, trial) for trial in trials]))
        counts[pick] += 1
        current = trials[pick]
    used = [i for i in range(len(top)) if counts[i] > 0]
    if len(used) < 2:
        return Result(
            candidate,
            skipped=f"not built: the weights fitted on held-out outputs chose {top[used[0]].candidate.name} alone",
        )
    weights = {i: round(counts[i] / BLEND_ROUNDS, 4) for i in used}
    by_name = {f.name: f for f in families}
    members = [top[i].final_selection(by_name[top[i].candidate.family]) | {"weight": weights[i]} for i in used]
    described = {top[i].candidate.name: weights[i] for i in used}
    candidate = Candidate(ENSEMBLE, 0, {"members": members, "of": described})
    scores, losses, held_out = [], [], []
    for f, truth in enumerate(labels_by_fold):
        fold_outputs = sum(weights[i] * outputs[i][f] for i in used)
        primary, loss = score(task, truth, fold_outputs)
        scores.append(primary)
        losses.append(loss)
        held_out.append(fold_outputs.tolist())
    return summary(
        candidate,
        scores,
        losses,
        fit_seconds=round(sum(top[i].fit_seconds for i in used), 3),
        size=sum(top[i].size for i in used),
        latency_ms=round(sum(top[i].latency_ms for i in used), 3),
        held_out=held_out,
    )


def _estimate_seconds(family, fits: int, rows: int, params) -> float:
    """The catalogue's estimate for judging one candidate: its cost × rows × rounds (or epochs) × fits."""
    variant = family.variants[0]
    rounds = family.sizes[variant.size].get("n_estimators", params.train.max_epochs)
    if family.engine == "linear":
        rounds = 1
    return fits * variant.seconds(rows, rounds)


def judged(results: list[Result]) -> list[Result]:
    """The candidates that were judged and scored, baselines left out."""
    return [
        r
        for r in results
        if r.candidate.family != BASELINE and r.skipped is None and r.score is not None and not np.isnan(r.score)
    ]


def best_baseline(results: list[Result]) -> Result | None:
    found = [r for r in results if r.candidate.family == BASELINE and r.score is not None and not np.isnan(r.score)]
    return max(found, key=lambda r: (r.score, -r.loss)) if found else None


def winner(results: list[Result], task: str) -> Result:
    """The judged candidate with the best primary score, ties broken by the lower loss, then by the order tried."""
    judged_ones = judged(results)
    return max(judged_ones, key=lambda r: (r.score, -r.loss))


def why_lost(result: Result, best: Result, metric: str) -> str:
    if result.candidate.family == BASELINE:
        return "reference: a scikit-learn baseline on the same rows, never deployed"
    if result.skipped:
        return result.skipped
    if result.score is None or np.isnan(result.score):
        return f"{metric} undefined on the held-out rows"
    if result.score < best.score:
        return f"lower {metric}: {result.score:.4f} vs {best.score:.4f}"
    return f"same {metric}, higher loss: {result.loss:.4f} vs {best.loss:.4f}"
