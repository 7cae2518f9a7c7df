import pandas as pd
import pytest

from stages.acquire import canonical, load_builtin, profile, run
from stages.errors import MillraceError
from stages.params import BuiltinSource, Data, FileSource


def test_penguins_ship_with_their_missing_values(penguins):
    assert len(penguins) == 344
    assert penguins["sex"].isna().sum() > 0
    assert set(penguins["species"]) == {"Adelie", "Chinstrap", "Gentoo"}


def test_sklearn_builtin_gets_readable_class_names():
    iris = load_builtin("iris")
    assert set(iris["target"]) == {"setosa", "versicolor", "virginica"}


@pytest.mark.parametrize("suffix", ["csv", "parquet", "jsonl"])
def test_every_file_format_gives_the_same_table(tmp_path, penguins, suffix):
    path = tmp_path / f"penguins.{suffix}"
    if suffix == "csv":
        penguins.to_csv(path, index=False)
    elif suffix == "parquet":
        penguins.to_parquet(path)
    else:
        penguins.to_json(path, orient="records", lines=True)
    frame = run(Data(source=FileSource(kind="file", path=str(path))))
    assert list(frame.columns) == list(penguins.columns)
    assert len(frame) == len(penguins)
    pd.testing.assert_series_equal(frame["bill_length_mm"], penguins["bill_length_mm"])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MillraceError, match="no such file"):
        run(Data(source=FileSource(kind="file", path=str(tmp_path / "nope.csv"))))


def test_unknown_suffix_asks_for_a_format(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(MillraceError, match="data.source.format"):
        run(Data(source=FileSource(kind="file", path=str(path))))


def test_duplicate_columns_are_refused():
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(MillraceError, match="duplicate column"):
        canonical(frame)


def test_profile_counts_nulls_and_records_provenance(tmp_path, penguins):
    path = tmp_path / "p.csv"
    penguins.to_csv(path, index=False)
    info = profile(penguins, FileSource(kind="file", path=str(path)))
    assert info["rows"] == 344
    assert info["nulls"]["sex"] == 11
    assert len(info["source"]["sha256"]) == 64
    assert profile(penguins, BuiltinSource())["source"] == {"kind": "builtin", "name": "penguins"}
