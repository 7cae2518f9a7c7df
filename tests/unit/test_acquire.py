import pandas as pd
import pytest

from stages.acquire import canonical, load_builtin, profile, run
from stages.errors import MillraceError
from stages.io import sha256
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
    frame, _ = run(Data(source=FileSource(kind="file", path=str(path))))
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
    source = FileSource(kind="file", path=str(path))
    frame, read = run(Data(source=source))
    info = profile(frame, source, read)
    assert info["rows"] == info["rows_in"] == 344 and info["rows_quarantined"] == 0
    assert info["nulls"]["sex"] == 11
    assert info["source"]["files"][0]["sha256"] == sha256(path) and info["source"]["files"][0]["rows"] == 344
    assert profile(penguins, BuiltinSource())["source"] == {"kind": "builtin", "name": "penguins"}


def test_digits_arrive_as_images_not_loose_pixels():
    from stages.images import open_image

    digits = load_builtin("digits")
    assert list(digits.columns) == ["image", "target"] and len(digits) == 1797
    image = open_image(digits["image"].iloc[0])
    assert image.size == (8, 8) and image.mode == "L"
    assert set(digits["target"]) == {str(d) for d in range(10)}


def test_reviews_are_written_by_millrace_the_same_every_time():
    first, again = load_builtin("reviews"), load_builtin("reviews")
    pd.testing.assert_frame_equal(first, again)
    assert first["topic"].value_counts().to_dict() == {t: 200 for t in ("billing", "delivery", "quality", "support")}
    assert first["text"].str.len().mean() > 40  # long enough to count as free text


def _png(path, value, size=(6, 6), mode="L"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def test_image_folder_excludes_unreadable_files_by_name(tmp_path, capsys):
    from stages.params import ImageFolderSource

    root = tmp_path / "pets"
    _png(root / "cat" / "a.png", 10)
    _png(root / "cat" / "b.PNG", 20)
    _png(root / "dog" / "c.jpg", 200, mode="RGB")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "dog" / ".DS_Store").write_bytes(b"junk")
    frame, read = run(Data(source=ImageFolderSource(kind="image_folder", path=str(root)), target="animal"))
    assert sorted(frame["animal"]) == ["cat", "cat", "dog"]
    assert isinstance(frame["image"].iloc[0], bytes)
    excluded = {e["file"]: e["reason"] for e in read["excluded"]}
    assert set(excluded) == {"dog/broken.png", "dog/notes.txt"}
    assert "not a readable image" in excluded["dog/broken.png"]
    assert "dog/broken.png" in capsys.readouterr().out
    assert read["files"] == 5


def test_an_image_folder_without_class_folders_is_explained(tmp_path):
    from stages.params import ImageFolderSource

    with pytest.raises(MillraceError, match="one sub-folder of images per class"):
        run(Data(source=ImageFolderSource(kind="image_folder", path=str(tmp_path)), target="y"))


def test_text_folder_reads_utf8_and_reports_the_rest(tmp_path):
    from stages.params import TextSource

    root = tmp_path / "mail"
    (root / "spam").mkdir(parents=True)
    (root / "ham").mkdir()
    (root / "spam" / "1.txt").write_text("Win a prize now\n", encoding="utf-8")
    (root / "ham" / "2.txt").write_bytes("\ufeffLunch at noon? Café".encode())
    (root / "ham" / "3.txt").write_bytes(b"caf\xe9 latin-1")
    (root / "ham" / "4.txt").write_text("   ")
    frame, read = run(Data(source=TextSource(kind="text", path=str(root)), target="label_name"))
    assert dict(zip(frame["label_name"], frame["text"], strict=True)) == {
        "ham": "Lunch at noon? Café",
        "spam": "Win a prize now",
    }
    reasons = {e["file"]: e["reason"] for e in read["excluded"]}
    assert reasons["ham/3.txt"].startswith("not UTF-8") and reasons["ham/4.txt"] == "empty"


def test_text_file_must_have_the_declared_column(tmp_path):
    from stages.params import TextSource

    path = tmp_path / "messages.csv"
    pd.DataFrame({"body": ["hello there"], "y": ["a"]}).to_csv(path, index=False)
    with pytest.raises(MillraceError, match="text_column 'text' is not a column"):
        run(Data(source=TextSource(kind="text", path=str(path)), target="y"))
    frame, _ = run(Data(source=TextSource(kind="text", path=str(path), text_column="body"), target="y"))
    assert list(frame.columns) == ["body", "y"]
