"""Great Expectations gates: validate frames against GE suites, report, and stop bad data loudly.

A gate validates one or more frames (each a `Check`) through GE's own validation API in the
file-backed context under `gx/`, stores the results there, rebuilds Data Docs, writes
`reports/gates/<gate>.json` (a short summary, also a DVC metric) and `<gate>.ge.json` (GE's
full results), and prints a table of what did not pass. An expectation's GE-native `severity`
decides what a failure does: `critical` (the default) stops the pipeline with `GateFailed`, whose
message names each failed expectation, its column, the observed value and a few offending
examples; `warning` and `info` failures are recorded and shown, and the data goes on.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.errors import MillraceError
from millrace.files import write_json
from millrace.quality.offline_docs import make_offline

log = logging.getLogger(__name__)

EXAMPLES = 5
STORED_RESULTS_KEPT = 5  # per gate and frame, in gx/uncommitted/validations (see _keep_newest_results)
# From this many cells, GE's copies of a frame cost more than a Validator of one column (~6 ms; see _run):
# about even at 2e5 rows of penguins' 8 columns, 6 ms lost at 1e4 rows, 30 ms gained at 1e6.
NARROW_FROM_CELLS = 1_000_000


class GateFailed(MillraceError):
    """Data failed a gate; the message is the human summary."""


@dataclass(frozen=True)
class Check:
    """One frame and the expectations (GE-native dicts: type, kwargs, meta) it must meet."""

    name: str
    frame: pd.DataFrame
    expectations: list[dict[str, Any]]
    index_columns: list[str] = field(default_factory=list)  # identify offending rows by these


def expectation(type_: str, *, set_by: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """A GE-native expectation configuration, as it appears in a suite's JSON. `set_by` names the params key
    (and its value) that sets the bound, so a failure says what to change."""
    return {"type": type_, "kwargs": kwargs, "meta": {"set_by": set_by} if set_by else {}}


def _context(gx_dir: Path):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # GE quiet and offline wherever a gate runs
    import great_expectations as gx

    if gx_dir.name != "gx":
        raise MillraceError(f"paths.gx must name a folder called 'gx', got {gx_dir}")
    return gx.get_context(mode="file", project_root_dir=str(gx_dir.resolve().parent))


def suite_for(gx_dir: Path | str, setting: str | None, dataset: str, gate: str) -> tuple[str | None, str]:
    """The suite a gate runs (None: generic checks only) and a line saying which. `auto` is the dataset's own,
    `gx/expectations/<dataset>_<gate>.json`, when there is one."""
    key = f"gates.{gate}.suite"
    if setting != "auto":
        return setting, f"{key}: {setting}" if setting else f"{key}: null: generic checks only"
    name = f"{dataset}_{gate}"
    if (Path(gx_dir) / "expectations" / f"{name}.json").is_file():
        return name, f"{key}: auto: {name} (gx/expectations/{name}.json)"
    hint = " (`millrace suggest-expectations` writes one from your data)" if gate == "raw" else ""
    return None, f"{key}: auto: no gx/expectations/{name}.json, generic checks only{hint}"


def load_suite(gx_dir: Path | str, name: str, key: str | None = None) -> list[dict[str, Any]]:
    """The expectations of a committed GE suite (gx/expectations/<name>.json); `key` is the params key that
    names the suite, which a failure then names."""
    path = Path(gx_dir) / "expectations" / f"{name}.json"
    if not path.exists():
        available = sorted(p.stem for p in path.parent.glob("*.json"))
        raise MillraceError(f"GE suite {name!r} not found at {path}; available: {available}")
    try:
        suite = json.loads(path.read_text())
        named = {"set_by": f"{key}: {name} (gx/expectations/{name}.json)"} if key else {}
        return [
            {"type": e["type"], "kwargs": e.get("kwargs", {}), "meta": (e.get("meta") or {}) | named}
            | ({"severity": e["severity"]} if e.get("severity") else {})
            for e in suite["expectations"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise MillraceError(f"GE suite {path} is not a valid suite: {exc}") from None


def _batch_definition(context, asset_name: str):
    datasource = next(
        (ds for ds in context.data_sources.all().values() if ds.name == "millrace"), None
    ) or context.data_sources.add_pandas("millrace")
    try:
        asset = datasource.get_asset(asset_name)
    except LookupError:
        asset = datasource.add_dataframe_asset(asset_name)
    try:
        return asset.get_batch_definition(asset_name)
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe(asset_name)


def _validate(context, gate: str, check: Check):
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    asset = f"{gate}.{check.name}"
    try:
        suite = gx.ExpectationSuite(name=asset, expectations=check.expectations)
    except Exception as exc:  # GE raises its own and pydantic's errors for a bad configuration
        message = " ".join(str(exc).split())
        raise MillraceError(f"gate {gate!r}: an expectation in the suite is invalid: {message}") from None
    if len(suite.expectations) != len(check.expectations):  # GE logs an unknown type and drops it
        known = {e.expectation_type for e in suite.expectations}
        unknown = sorted({e["type"] for e in check.expectations} - known)
        raise MillraceError(f"gate {gate!r}: unknown expectation types {unknown} (not found in GE)")
    # GE's Validator over the batch definition, as ValidationDefinition.run builds it: going through
    # `get_batch(...).validate` loads the frame twice.
    batch_definition = _batch_definition(context, asset)
    result = _run(batch_definition, check, suite, {"result_format": "BASIC"})
    if not result.success:
        result = _detail_failures(batch_definition, check, suite, result)
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=asset),
        run_id=RunIdentifier(run_name=f"gate-{gate}"),
        batch_identifier=asset,
    )
    context.validation_results_store.set(key, result)
    _keep_newest_results(context.validation_results_store, asset)
    return result, key


@contextmanager
def _without_batch_fingerprint() -> Iterator[None]:
    """Stop GE hashing every cell of a frame before validating it: a third of a gate at 1e6 rows.

    GE's pandas engine fingerprints each batch smaller than its `HASH_THRESHOLD` (1 GB) into the
    result's batch markers. Every table a gate passes becomes a stage output whose content DVC already
    hashes into dvc.lock, so the fingerprint repeats that at the cost of a full pass over the data.
    The threshold is GE's only switch for it; it is restored afterwards for anything else using GE.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    threshold = pandas_execution_engine.HASH_THRESHOLD
    pandas_execution_engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        pandas_execution_engine.HASH_THRESHOLD = threshold


def _keep_newest_results(store, asset: str) -> None:
    """Drop all but the newest STORED_RESULTS_KEPT results of `asset` from GE's local store (gx/uncommitted).

    GE's Data Docs index reads every stored result on every build, so a gate got slower, and the folder
    bigger, with every run: after 21 runs of the pipeline's six frames a gate took ~178 ms keeping 20 each,
    ~100 ms keeping 5 (~70 ms with none). Each run's full result also stays in reports/gates/<gate>.ge.json,
    which DVC records with the run; the Data Docs pages of dropped results go at the next build.
    """
    keys = [key for key in store.list_keys() if key.expectation_suite_identifier.name == asset]
    for key in sorted(keys, key=lambda k: k.run_id.run_time, reverse=True)[STORED_RESULTS_KEPT:]:
        store.remove_key(key)


def _run(batch_definition, check: Check, suite, result_format: dict[str, Any]):
    """GE's Validator over the check's frame; a column-map expectation on a column with nulls sees that column only.

    GE checks a column-map expectation (in a set, between, matching a regex...) on the rows where its column
    is not null, and finds them by filtering the whole frame: every column of it is copied, twice per such
    expectation (for the condition, then for the offending values), whatever the expectation looks at. Those
    expectations are validated on a frame of their column (and the check's index columns) instead, one
    Validator per column: the same values, rows and index, without copying the rest. The results come back
    as one, in the suite's order, with GE's statistics recomputed. A frame under NARROW_FROM_CELLS is
    validated whole: copying it costs less than another Validator.
    """
    import great_expectations as gx
    from great_expectations.validator.v1_validator import Validator
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    configs = suite.expectation_configurations
    groups = _by_frame(check, configs)
    with _without_batch_fingerprint():
        result = Validator(batch_definition, result_format, {"dataframe": check.frame}).validate_expectation_suite(
            suite if len(groups) == 1 else _suite(gx, suite.name, groups[None])
        )
        for column, group in groups.items():
            if column is not None:
                index = [name for name in check.index_columns if name in check.frame.columns and name != column]
                frame = check.frame[[column, *dict.fromkeys(index)]]
                validator = Validator(batch_definition, result_format, {"dataframe": frame})
                result.results += validator.validate_expectation_suite(_suite(gx, suite.name, group)).results
    if len(groups) > 1:
        position: dict[str, int] = {}
        for rank, config in enumerate(configs):
            position.setdefault(_config_key(config), rank)
        result.results.sort(key=lambda r: position.get(_config_key(r.expectation_config), len(configs)))
        statistics = calc_validation_statistics(result.results)
        result.success = statistics.success
        result.statistics = {
            "evaluated_expectations": statistics.evaluated_expectations,
            "successful_expectations": statistics.successful_expectations,
            "unsuccessful_expectations": statistics.unsuccessful_expectations,
            "success_percent": statistics.success_percent,
        }
    return result


def _by_frame(check: Check, configs: list) -> dict[str | None, list]:
    """The configurations to validate on the whole frame (key None) and, by column, those to validate on one column."""
    if check.frame.size < NARROW_FROM_CELLS:
        return {None: list(configs)}

    def on_its_column(config) -> str | None:
        column = config.kwargs.get("column")
        if not isinstance(column, str) or column not in check.frame.columns or config.kwargs.get("row_condition"):
            return None  # a row condition may name other columns
        return column if _filters_nulls(config.type) else None

    columns = [on_its_column(config) for config in configs]
    with_nulls = {column for column in set(columns) - {None} if check.frame[column].isna().any()}
    groups: dict[str | None, list] = {None: []}
    for config, column in zip(configs, columns, strict=True):
        groups.setdefault(column if column in with_nulls else None, []).append(config)
    return groups


def _filters_nulls(expectation_type: str) -> bool:
    """Whether GE validates this column-map expectation on the rows where its column is not null.

    That is its metric's own switch (`filter_column_isnull`): on for most, off for the null checks themselves.
    """
    from great_expectations.exceptions import MetricProviderError
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.registry import get_expectation_impl, get_metric_provider

    kind = get_expectation_impl(expectation_type)
    if not issubclass(kind, ColumnMapExpectation) or not getattr(kind, "map_metric", None):
        return False
    try:
        metric, _ = get_metric_provider(f"{kind.map_metric}.condition", PandasExecutionEngine())
    except MetricProviderError:  # GE reports the missing implementation when it validates
        return False
    return bool(getattr(metric, "filter_column_isnull", True))


def _suite(gx, name: str, configs: list):
    return gx.ExpectationSuite(name=name, expectations=[config.to_json_dict() for config in configs])


def _detail_failures(batch_definition, check: Check, suite, result):
    """Validate the failed expectations again with the detail a person needs to find the rows.

    A passing gate asks GE only for counts and a few offending values ("BASIC"); "SUMMARY" with the
    check's index columns also finds the offending rows by index and the values' counts, which costs
    a third more at 1e6 rows, so only a failure pays for it.
    """
    import great_expectations as gx

    failed = [r.expectation_config for r in result.results if not r.success]
    result_format: dict[str, Any] = {"result_format": "SUMMARY"}
    if check.index_columns:
        result_format["unexpected_index_column_names"] = check.index_columns
    detailed = _run(batch_definition, check, _suite(gx, suite.name, failed), result_format)
    by_config = {_config_key(r.expectation_config): r for r in detailed.results}
    result.results = [by_config.get(_config_key(r.expectation_config), r) for r in result.results]
    return result


def _config_key(config) -> str:
    """An expectation's identity in a suite and in its results (where GE adds the batch's id to the kwargs)."""
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return json.dumps({"type": config.type, "kwargs": kwargs}, sort_keys=True, default=str)


def _failure(check: Check, res) -> dict[str, Any]:
    cfg = res.expectation_config
    kwargs = cfg.kwargs
    found = res.result or {}
    # With index columns, GE names the offending rows by them; otherwise show offending values.
    key = "partial_unexpected_index_list" if check.index_columns else "partial_unexpected_list"
    examples = found.get(key)
    message = None
    if res.exception_info and res.exception_info.get("raised_exception"):
        message = str(res.exception_info.get("exception_message", "")).splitlines()[0]
    severity = getattr(cfg.severity, "value", cfg.severity) or "critical"
    return {
        "check": check.name,
        "severity": str(severity),
        "expectation": cfg.type,
        "column": kwargs.get("column") or kwargs.get("column_list") or kwargs.get("column_set"),
        "expected": {k: v for k, v in kwargs.items() if k not in ("column", "batch_id")},
        "observed": found.get("observed_value"),
        "unexpected_count": found.get("unexpected_count"),
        "unexpected_percent": found.get("unexpected_percent"),
        "examples": _plain(examples[:EXAMPLES]) if examples else [],
        "error": message,
        "set_by": (cfg.meta or {}).get("set_by"),
    }


def _plain(values: list[Any]) -> list[Any]:
    """Make examples JSON-friendly and readable: numpy scalars as numbers, floats rounded, NaN as null."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if hasattr(value, "item") and not isinstance(value, (bytes, str)):  # a numpy scalar
            value = value.item()
        if isinstance(value, float):
            return None if value != value else round(value, 4)
        return value

    return [plain(v) for v in values]


def _line(f: dict[str, Any]) -> str:
    where = f" on {f['column']!r}" if f["column"] is not None else ""
    parts = [f"{f['expectation']}{where} [{f['check']}]"]
    if f["error"]:
        parts.append(f"error: {f['error']}")
    if f["unexpected_count"] is not None:
        parts.append(f"{f['unexpected_count']} unexpected ({f['unexpected_percent']:.1f}%)")
    elif f["observed"] is not None:
        parts.append(f"observed {f['observed']!r}")
    if f["examples"]:
        parts.append(f"e.g. {f['examples']}")
    if f.get("set_by"):
        parts.append(f"set by {f['set_by']}")
    return " — ".join(parts)


def run_gate(gate: str, checks: list[Check], *, gx_dir: Path | str, reports_dir: Path | str) -> dict:
    """Validate every check; write the reports; raise GateFailed if any expectation failed."""
    gx_dir, out = Path(gx_dir), Path(reports_dir) / "gates"
    context = _context(gx_dir)
    validated = {check.name: (check, *_validate(context, gate, check)) for check in checks}
    results = {name: (check, result) for name, (check, result, _) in validated.items()}
    # Render this gate's new results only (and the index): the store keeps every past run, and
    # re-rendering all of them would make each gate slower with every run.
    keys = [key for _, _, key in validated.values()]
    docs = context.build_data_docs(resource_identifiers=keys).get("local_site", "")
    if docs:
        make_offline(Path(docs.removeprefix("file://")).parent, gx_dir)
    found = [_failure(check, r) for check, result in results.values() for r in result.results if not r.success]
    failures = [f for f in found if f["severity"] == "critical"]
    warnings = [f for f in found if f["severity"] != "critical"]
    evaluated = sum(len(result.results) for _, result in results.values())
    summary = {
        "gate": gate,
        "success": not failures,
        "evaluated": evaluated,
        "failed": len(failures),
        "warned": len(warnings),
        "failures": failures,
        "warnings": warnings,
        "data_docs": os.path.relpath(docs.removeprefix("file://")) if docs else None,
    }
    write_json(out / f"{gate}.ge.json", {n: _without_load_time(r.to_json_dict()) for n, (_, r) in results.items()})
    write_json(out / f"{gate}.json", summary)
    _print_table(gate, evaluated, found)
    if failures:
        lines = "\n".join(f"  - {_line(f)}" for f in failures)
        raise GateFailed(
            f"gate {gate!r} failed {len(failures)} of {evaluated} expectations:\n{lines}\n"
            f"full report: {out / f'{gate}.json'}; Data Docs: {summary['data_docs']}"
        )
    log.info("gate %s passed: %d/%d expectations", gate, evaluated - len(warnings), evaluated)
    return summary


def _without_load_time(result: dict[str, Any]) -> dict[str, Any]:
    """GE's result without the moment the batch was loaded: the tracked report says what was checked, not when
    (GE's own store, under gx/uncommitted, keeps the time)."""
    result.get("meta", {}).get("batch_markers", {}).pop("ge_load_time", None)
    return result


def _print_table(gate: str, evaluated: int, found: list[dict[str, Any]]) -> None:
    """What did not pass, one row per expectation, on stderr beside DVC's own output."""
    if not found:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"gate {gate}: {evaluated - len(found)} of {evaluated} expectations passed")
    for heading in ("severity", "expectation", "column", "check", "found"):
        table.add_column(heading)
    for f in found:
        style = "red" if f["severity"] == "critical" else "yellow"
        detail = _line(f).split(" — ", 1)[1] if " — " in _line(f) else ""
        column = "" if f["column"] is None else str(f["column"])
        table.add_row(f"[{style}]{f['severity']}[/]", f["expectation"], column, f["check"], detail)
    Console(stderr=True, width=160).print(table)
