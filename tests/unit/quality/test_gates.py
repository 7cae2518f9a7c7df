"""The Great Expectations gates: reports, severities, the results store and Data Docs."""

import json
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from millrace.quality.gates import Check, GateFailed, expectation, load_suite, run_gate
from tests.conftest import ROOT


@pytest.fixture
def gx_dir(tmp_path):
    target = tmp_path / "gx"
    shutil.copytree(ROOT / "gx", target, ignore=shutil.ignore_patterns("uncommitted"))
    return target


def test_passing_gate_writes_its_report(tmp_path, gx_dir, penguins):
    suite = load_suite(gx_dir, "penguins_raw")
    summary = run_gate("raw", [Check("table", penguins, suite)], gx_dir=gx_dir, reports_dir=tmp_path / "r")
    assert summary["success"] and summary["evaluated"] == len(suite)
    written = json.loads((tmp_path / "r" / "gates" / "raw.json").read_text())
    assert written["success"] is True and written["failed"] == 0
    assert (tmp_path / "r" / "gates" / "raw.ge.json").exists()


def test_a_gate_leaves_fingerprinting_its_data_to_dvc(tmp_path, gx_dir, penguins):
    from great_expectations.execution_engine import pandas_execution_engine

    threshold = pandas_execution_engine.HASH_THRESHOLD
    run_gate("raw", [Check("table", penguins, [])], gx_dir=gx_dir, reports_dir=tmp_path)
    markers = json.loads((tmp_path / "gates" / "raw.ge.json").read_text())["table"]["meta"]["batch_markers"]
    assert "pandas_data_fingerprint" not in markers
    assert "ge_load_time" not in markers  # the tracked report says what was checked, not when
    assert pandas_execution_engine.HASH_THRESHOLD == threshold > 0  # GE's own setting, for anyone else


def test_failing_gate_names_expectation_column_and_examples(tmp_path, gx_dir, penguins):
    bad = penguins.copy()
    bad.loc[:9, "island"] = "Atlantis"
    bad.loc[20:29, "species"] = None
    with pytest.raises(GateFailed) as err:
        run_gate("raw", [Check("table", bad, load_suite(gx_dir, "penguins_raw"))], gx_dir=gx_dir, reports_dir=tmp_path)
    message = str(err.value)
    assert "expect_column_values_to_be_in_set on 'island'" in message
    assert "Atlantis" in message
    assert "expect_column_values_to_not_be_null on 'species'" in message
    report = json.loads((tmp_path / "gates" / "raw.json").read_text())
    assert report["success"] is False and report["failed"] == 2
    # GE's stored results keep every expectation of the suite; the failed ones carry the
    # value counts only a second, detailed validation asks for, the passing ones are not re-run.
    stored = json.loads((tmp_path / "gates" / "raw.ge.json").read_text())["table"]["results"]
    suite = load_suite(gx_dir, "penguins_raw")
    assert sorted(
        (r["expectation_config"]["type"], r["expectation_config"]["kwargs"].get("column") or "") for r in stored
    ) == sorted((e["type"], e["kwargs"].get("column") or "") for e in suite)
    detailed = {
        r["expectation_config"]["kwargs"].get("column") for r in stored if "partial_unexpected_counts" in r["result"]
    }
    assert detailed == {"island", "species"}
    assert [r["success"] for r in stored].count(False) == 2


def test_a_column_with_nulls_is_checked_alone_with_the_results_ge_gives_on_the_whole_frame(gx_dir, monkeypatch):
    import great_expectations as gx
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.validator.v1_validator import Validator

    from millrace.quality import gates

    colours = ["red", None, "blue", "green", None, "red", "mauve", "blue"]
    frame = pd.DataFrame({"id": range(8), "colour": colours, "size": [1.0, 2, None, 4, 5, 6, 70, 8]})
    frame["note"] = ["a", None, None, "b", "c", "d", "e", "f"]
    frame["unchecked"] = frame["size"] * 2  # a column no expectation names: GE copied it for each of them
    suite = [
        expectation("expect_table_row_count_to_be_between", min_value=1),
        expectation("expect_column_values_to_be_in_set", column="colour", value_set=["red", "blue", "green"]),
        expectation("expect_column_values_to_not_be_null", column="note", mostly=0.5),  # GE filters no rows here
        expectation("expect_column_values_to_be_between", column="size", min_value=0, max_value=10),
        expectation("expect_column_values_to_be_in_set", column="id", value_set=list(range(8))),  # no nulls
    ]
    result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": ["id"]}
    definition = gates._batch_definition(gates._context(gx_dir), "raw.table")
    whole = Validator(definition, result_format, {"dataframe": frame}).validate_expectation_suite(
        gx.ExpectationSuite(name="raw.table", expectations=suite)
    )

    widths = []
    get_domain_records = PandasExecutionEngine.get_domain_records

    def recording(self, domain_kwargs):
        records = get_domain_records(self, domain_kwargs)
        widths.append((domain_kwargs.get("column"), records.shape[1]))
        return records

    monkeypatch.setattr(PandasExecutionEngine, "get_domain_records", recording)
    check = Check("table", frame, suite, ["id"])
    gates._run(definition, check, gx.ExpectationSuite(name="raw.table", expectations=suite), result_format)
    assert {width for _, width in widths} == {5}  # a frame this small costs less to copy than another Validator
    widths.clear()
    monkeypatch.setattr(gates, "NARROW_FROM_CELLS", frame.size)
    ours = gates._run(definition, check, gx.ExpectationSuite(name="raw.table", expectations=suite), result_format)

    assert [r.to_json_dict() for r in ours.results] == [r.to_json_dict() for r in whole.results]
    assert (ours.success, ours.statistics) == (whole.success, whole.statistics) == (False, ours.statistics)
    assert ours.statistics["unsuccessful_expectations"] == 2  # mauve; 70
    assert {width for column, width in widths if column in ("colour", "size")} == {2}  # the column and id
    assert {width for column, width in widths if column in ("id", "note")} == {5}  # the whole frame, as before


def test_index_columns_identify_the_offending_rows(tmp_path, gx_dir):
    balance = pd.DataFrame({"split": ["train", "test"], "class": ["a", "b"], "rows": [5, 0]})
    check = Check(
        "balance",
        balance,
        [expectation("expect_column_values_to_be_between", column="rows", min_value=1)],
        ["split", "class"],
    )
    with pytest.raises(GateFailed, match="test") as err:
        run_gate("labels", [check], gx_dir=gx_dir, reports_dir=tmp_path)
    assert "'class': 'b'" in str(err.value)


def test_unknown_suite_lists_the_available_ones(gx_dir):
    from millrace.errors import MillraceError

    with pytest.raises(MillraceError, match="penguins_raw"):
        load_suite(gx_dir, "nope")


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (expectation("expect_colum_to_exist", column="a"), r"unknown expectation types \['expect_colum_to_exist'\]"),
        (expectation("expect_column_to_exist", colum="a"), "colum"),
    ],
)
def test_a_misspelt_expectation_is_a_clear_error(tmp_path, gx_dir, bad, says):
    from millrace.errors import MillraceError

    with pytest.raises(MillraceError, match=says):
        run_gate("raw", [Check("table", pd.DataFrame({"a": [1]}), [bad])], gx_dir=gx_dir, reports_dir=tmp_path)


def test_a_warning_is_recorded_and_shown_but_does_not_stop(tmp_path, gx_dir, capsys):
    frame = pd.DataFrame({"a": [1.0, 2.0, None], "b": ["x", "y", "z"]})
    soft = expectation("expect_column_values_to_not_be_null", column="a") | {"severity": "warning"}
    hard = expectation("expect_column_values_to_be_in_set", column="b", value_set=["x", "y"])
    summary = run_gate("raw", [Check("table", frame, [soft])], gx_dir=gx_dir, reports_dir=tmp_path / "r")
    assert summary["success"] and summary["warned"] == 1 and summary["warnings"][0]["column"] == "a"
    assert "warning" in capsys.readouterr().err
    with pytest.raises(GateFailed) as err:
        run_gate("raw", [Check("table", frame, [soft, hard])], gx_dir=gx_dir, reports_dir=tmp_path / "r")
    assert "'b'" in str(err.value) and "'a'" not in str(err.value)  # the message lists what stopped it


def test_data_docs_compile_the_templates_once_and_then_load_them(tmp_path, gx_dir, penguins, monkeypatch):
    import jinja2

    from millrace.quality import data_docs

    (tmp_path / "cache").mkdir()
    monkeypatch.setattr(data_docs, "bytecode_cache", lambda: jinja2.FileSystemBytecodeCache(str(tmp_path / "cache")))
    suite = load_suite(gx_dir, "penguins_raw")
    first = run_gate("raw", [Check("table", penguins, suite)], gx_dir=gx_dir, reports_dir=tmp_path / "a")
    assert list((tmp_path / "cache").iterdir())  # the templates, compiled

    def no_compiling(*_args, **_kwargs):
        raise AssertionError("a template was compiled again")

    monkeypatch.setattr(jinja2.Environment, "compile", no_compiling)
    second = run_gate("raw", [Check("table", penguins, suite)], gx_dir=gx_dir, reports_dir=tmp_path / "b")
    index = Path(second["data_docs"])
    assert first["data_docs"] == second["data_docs"] and index.is_file()
    assert len(list(index.parent.glob("validations/**/*.html"))) == 2  # both runs' results, rendered


def test_the_store_keeps_the_newest_results_of_each_gate_and_data_docs_follow(tmp_path, gx_dir, penguins, monkeypatch):
    from millrace.quality import gates

    monkeypatch.setattr(gates, "STORED_RESULTS_KEPT", 2)
    suite = load_suite(gx_dir, "penguins_raw")
    other = [expectation("expect_column_to_exist", column="island")]
    for _ in range(4):
        summary = run_gate("raw", [Check("table", penguins, suite)], gx_dir=gx_dir, reports_dir=tmp_path / "r")
    run_gate("clean", [Check("table", penguins, other)], gx_dir=gx_dir, reports_dir=tmp_path / "r")

    stored = (gx_dir / "uncommitted" / "validations").rglob("*.json")  # <gate>/<frame>/<run name>/<time>/…
    assert Counter(path.relative_to(gx_dir / "uncommitted" / "validations").parts[0] for path in stored) == {
        "raw": 2,
        "clean": 1,
    }
    pages = list(Path(summary["data_docs"]).parent.glob("validations/**/*.html"))
    assert len(pages) == 3  # the pages of the dropped results are gone with them


def test_data_docs_load_nothing_from_the_network(tmp_path, gx_dir, penguins):
    import re

    from millrace.quality.offline_docs import SOURCES, addresses_in_templates

    assert addresses_in_templates() <= set(SOURCES)  # every CDN file the installed GE's pages load is vendored
    summary = run_gate("raw", [Check("table", penguins, load_suite(gx_dir, "penguins_raw"))], gx_dir=gx_dir,
                       reports_dir=tmp_path)  # fmt: skip
    site = Path(summary["data_docs"]).parent
    pages = [site / "index.html", *site.glob("validations/**/*.html")]
    assert len(pages) >= 2
    for page in pages:
        loaded = re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=[\"']([^\"']+)", page.read_text())
        assert loaded and not [url for url in loaded if re.match(r"(https?:)?//", url)], page
        # GE's own favicon link is a folder short on validation pages (its template's depth): GE's, left alone
        missing = [url for url in loaded if not (page.parent / url.split("?")[0]).exists() and "favicon" not in url]
        assert missing == [], page
