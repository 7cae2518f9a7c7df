"""acquire: built-in data, the raw gate's checks, and every source kind on real files the tests write."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import tarfile
import zipfile

import pandas as pd
import pytest

from millrace.config.params import BuiltinSource, Data, FileSource
from millrace.errors import MillraceError
from millrace.files import sha256
from millrace.sources.builtin import load_builtin
from millrace.sources.read import canonical
from stages.acquire import profile, run
from tests.helpers import loopback
from tests.helpers.params import data, parse


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
    frame, _ = run(data(source=FileSource(kind="file", path=str(path))))
    assert list(frame.columns) == list(penguins.columns)
    assert len(frame) == len(penguins)
    pd.testing.assert_series_equal(frame["bill_length_mm"], penguins["bill_length_mm"])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MillraceError, match="no such file"):
        run(data(source=FileSource(kind="file", path=str(tmp_path / "nope.csv"))))


def test_unknown_suffix_asks_for_a_format(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(MillraceError, match="data.source.format"):
        run(data(source=FileSource(kind="file", path=str(path))))


def test_duplicate_columns_are_refused():
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(MillraceError, match="duplicate column"):
        canonical(frame)


def test_profile_counts_nulls_and_records_provenance(tmp_path, penguins):
    path = tmp_path / "p.csv"
    penguins.to_csv(path, index=False)
    source = FileSource(kind="file", path=str(path))
    frame, read = run(data(source=source))
    info = profile(frame, source, read)
    assert info["rows"] == info["rows_in"] == 344 and info["rows_quarantined"] == 0
    assert info["nulls"]["sex"] == 11
    assert info["source"]["files"][0]["sha256"] == sha256(path) and info["source"]["files"][0]["rows"] == 344
    assert profile(penguins, BuiltinSource(name="penguins"))["source"] == {"kind": "builtin", "name": "penguins"}


def test_digits_arrive_as_images_not_loose_pixels():
    from millrace.inputs.images import open_image

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
    from millrace.config.params import ImageFolderSource

    root = tmp_path / "pets"
    _png(root / "cat" / "a.png", 10)
    _png(root / "cat" / "b.PNG", 20)
    _png(root / "dog" / "c.jpg", 200, mode="RGB")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "dog" / ".DS_Store").write_bytes(b"junk")
    frame, read = run(data(source=ImageFolderSource(kind="image_folder", path=str(root)), target="animal"))
    assert sorted(frame["animal"]) == ["cat", "cat", "dog"]
    assert isinstance(frame["image"].iloc[0], bytes)
    excluded = {e["file"]: e["reason"] for e in read["excluded"]}
    assert set(excluded) == {"dog/broken.png", "dog/notes.txt"}
    assert "not a readable image" in excluded["dog/broken.png"]
    assert "dog/broken.png" in capsys.readouterr().out
    assert read["files"] == 5


def test_an_image_folder_without_class_folders_is_explained(tmp_path):
    from millrace.config.params import ImageFolderSource

    with pytest.raises(MillraceError, match="one sub-folder of images per class"):
        run(data(source=ImageFolderSource(kind="image_folder", path=str(tmp_path)), target="y"))


def test_text_folder_reads_utf8_and_reports_the_rest(tmp_path):
    from millrace.config.params import TextSource

    root = tmp_path / "mail"
    (root / "spam").mkdir(parents=True)
    (root / "ham").mkdir()
    (root / "spam" / "1.txt").write_text("Win a prize now\n", encoding="utf-8")
    (root / "ham" / "2.txt").write_bytes("\ufeffLunch at noon? Café".encode())
    (root / "ham" / "3.txt").write_bytes(b"caf\xe9 latin-1")
    (root / "ham" / "4.txt").write_text("   ")
    frame, read = run(data(source=TextSource(kind="text", path=str(root)), target="label_name"))
    assert dict(zip(frame["label_name"], frame["text"], strict=True)) == {
        "ham": "Lunch at noon? Café",
        "spam": "Win a prize now",
    }
    reasons = {e["file"]: e["reason"] for e in read["excluded"]}
    assert reasons["ham/3.txt"].startswith("not UTF-8") and reasons["ham/4.txt"] == "empty"


def test_a_corpus_folder_is_every_txt_file_under_it_one_document_each(tmp_path):
    from millrace.config.params import TextSource

    root = tmp_path / "corpus"
    (root / "2024" / "may").mkdir(parents=True)
    (root / "a.txt").write_text("The first document.\n")
    (root / "2024" / "may" / "b.txt").write_text("A second one, deeper down.")
    (root / "2024" / "notes.md").write_text("not text for the corpus")
    source = TextSource(kind="text", path=str(root))
    frame, read = run(Data(source=source, task="pretraining"))
    assert frame.to_dict("list") == {
        "text": ["A second one, deeper down.", "The first document."],
        "file": ["2024/may/b.txt", "a.txt"],
    }
    assert read["excluded"] == [{"file": "2024/notes.md", "reason": "not a .txt file (.md)"}]
    (root / "a.txt").unlink()
    (root / "2024" / "may" / "b.txt").unlink()
    with pytest.raises(MillraceError, match="no readable .txt file in it"):
        run(Data(source=source, task="pretraining"))


def test_text_file_must_have_the_declared_column(tmp_path):
    from millrace.config.params import TextSource

    path = tmp_path / "messages.csv"
    pd.DataFrame({"body": ["hello there"], "y": ["a"]}).to_csv(path, index=False)
    with pytest.raises(MillraceError, match="text_column 'text' is not a column"):
        run(data(source=TextSource(kind="text", path=str(path)), target="y"))
    frame, _ = run(data(source=TextSource(kind="text", path=str(path), text_column="body"), target="y"))
    assert list(frame.columns) == ["body", "y"]


"""acquire's sources on real files the tests write: formats, encodings, globs, archives, URLs, SQL."""

ROWS = pd.DataFrame({"name": ["Zoë", "café", "naïve"], "size": [1.5, 2.0, 3.25], "kind": ["a", "b", "a"]})


def acquire(source: dict, target: str = "kind") -> tuple[pd.DataFrame, dict]:
    data: Data = parse({"data": {"source": source, "target": target, "features": None}}).data
    return run(data)


@pytest.mark.parametrize(
    ("suffix", "write"),
    [
        ("tsv", lambda f, p: f.to_csv(p, sep="\t", index=False)),
        ("json", lambda f, p: f.to_json(p, orient="records", force_ascii=False)),
        ("xlsx", lambda f, p: f.to_excel(p, index=False)),
    ],
)
def test_more_formats_read_to_the_same_table(tmp_path, suffix, write):
    path = tmp_path / f"rows.{suffix}"
    write(ROWS, path)
    frame, read = acquire({"kind": "file", "path": str(path)})
    pd.testing.assert_frame_equal(frame, ROWS, check_dtype=False)
    assert read["files"][0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_utf8_with_bom_is_read_without_the_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ROWS.to_csv(index=False).encode())
    frame, read = acquire({"kind": "file", "path": str(path)})
    assert list(frame.columns) == ["name", "size", "kind"] and frame["name"][0] == "Zoë"


def test_latin1_is_refused_with_a_suggestion_then_read_once_declared(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(ROWS.to_csv(index=False).encode("latin-1"))
    with pytest.raises(
        MillraceError, match=r"latin\.csv.*not UTF-8 \(invalid byte 0xeb at byte \d+\).*encoding"
    ) as refused:
        acquire({"kind": "file", "path": str(path)})
    # the offending line, decoded by each likely encoding: the user sees which one reads right
    assert "latin-1: Zoë,1.5,a" in str(refused.value) and "cp1250: " in str(refused.value)
    frame, read = acquire({"kind": "file", "path": str(path), "encoding": "latin-1"})
    assert list(frame["name"]) == ["Zoë", "café", "naïve"]
    assert read["files"][0]["encoding"] == "iso8859-1"


def test_an_unknown_encoding_is_named(tmp_path):
    path = tmp_path / "rows.csv"
    ROWS.to_csv(path, index=False)
    with pytest.raises(MillraceError, match="unknown encoding 'klingon'"):
        acquire({"kind": "file", "path": str(path), "encoding": "klingon"})


def test_bad_csv_records_are_quarantined_not_dropped_or_padded(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_bytes(b'a,b,c\r\n1,2,3\n4,5\r\n6,7,8,9\n"x,y",1,2\n10,11,12\n')
    frame, read = acquire({"kind": "file", "path": str(path)}, target="a")
    assert frame["a"].astype(str).tolist() == ["1", "x,y", "10"]
    lines = {q["line"]: q["reason"] for q in read["quarantined"]}
    assert lines == {3: "2 fields where the header has 3", 4: "4 fields where the header has 3"}
    info = profile(frame, parse({"data": {"source": {"kind": "file", "path": str(path)}}}).data.source, read)
    assert info["rows_in"] == info["rows"] + info["rows_quarantined"] == 5


def test_bad_json_lines_are_quarantined(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1, "kind": "x"}\n{"a": 2, "kind": \n[1, 2]\n\n{"a": 3, "kind": "y"}\n')
    frame, read = acquire({"kind": "file", "path": str(path)})
    assert frame["a"].tolist() == [1, 3]
    assert [q["line"] for q in read["quarantined"]] == [2, 3]


def test_empty_and_truncated_files_are_named(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(MillraceError, match="empty.csv.*the file is empty"):
        acquire({"kind": "file", "path": str(empty)})
    truncated = tmp_path / "cut.parquet"
    ROWS.to_parquet(truncated)
    truncated.write_bytes(truncated.read_bytes()[:40])
    with pytest.raises(MillraceError, match="cut.parquet.*cannot read as parquet"):
        acquire({"kind": "file", "path": str(truncated)})


def test_a_glob_concatenates_files_and_records_each(tmp_path):
    for i in range(3):
        ROWS.iloc[[i]].to_csv(tmp_path / f"part-{i}.csv", index=False)
    frame, read = acquire({"kind": "file", "path": str(tmp_path / "part-*.csv")})
    assert frame["name"].tolist() == ROWS["name"].tolist()
    assert [f["rows"] for f in read["files"]] == [1, 1, 1]


def test_a_glob_of_files_that_disagree_names_the_odd_one(tmp_path):
    ROWS.to_csv(tmp_path / "a.csv", index=False)
    ROWS.rename(columns={"size": "weight"}).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(MillraceError, match=r"b\.csv: columns .*'weight'.* differ"):
        acquire({"kind": "file", "path": str(tmp_path / "*.csv")})
    with pytest.raises(MillraceError, match="matched no files"):
        acquire({"kind": "file", "path": str(tmp_path / "*.parquet")})


@pytest.mark.parametrize("suffix", ["zip", "tar.gz"])
def test_an_archive_of_tables_is_extracted_and_read(tmp_path, suffix):
    archive = tmp_path / f"rows.{suffix}"
    parts = {f"export/part-{i}.csv": ROWS.iloc[[i]].to_csv(index=False).encode() for i in range(3)}
    parts["export/README.md"] = b"not a table"
    if suffix == "zip":
        with zipfile.ZipFile(archive, "w") as z:
            for name, data in parts.items():
                z.writestr(name, data)
    else:
        with tarfile.open(archive, "w:gz") as t:
            for name, data in parts.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    frame, read = acquire({"kind": "file", "path": str(archive)})
    assert frame["name"].tolist() == ROWS["name"].tolist()
    assert read["files"][0]["members"] == [f"export/part-{i}.csv" for i in range(3)]
    one, _ = acquire({"kind": "file", "path": str(archive), "members": "export/part-1.csv"})
    assert one["name"].tolist() == ["café"]


def test_a_url_source_is_downloaded_verified_and_provenanced(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = ROWS.to_csv(index=False).encode()
    digest = hashlib.sha256(payload).hexdigest()
    with loopback.serve({"/rows.csv": loopback.body(payload)}) as (base, calls):
        source = {"kind": "url", "url": f"{base}/rows.csv", "sha256": digest}
        frame, read = acquire(source)
        again, read_again = acquire(source)
    pd.testing.assert_frame_equal(frame, ROWS, check_dtype=False)
    assert read["download"]["sha256"] == digest and read["download"]["bytes"] == len(payload)
    assert calls["/rows.csv"] == 1 and read_again["download"]["cached"]  # a pinned download is fetched once


def test_a_url_that_fails_twice_is_retried_then_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = ROWS.to_csv(index=False).encode()
    with loopback.serve({"/rows.csv": loopback.fails_then(2, loopback.body(payload))}) as (base, calls):
        frame, read = acquire({"kind": "url", "url": f"{base}/rows.csv", "backoff_seconds": 0.01})
    assert len(frame) == 3 and calls["/rows.csv"] == 3 and read["download"]["attempts"] == 3


def test_a_url_that_never_answers_times_out_after_its_retries(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with loopback.serve({"/slow.csv": loopback.silent(3)}) as (base, calls):
        source = {"kind": "url", "url": f"{base}/slow.csv", "timeout_seconds": 0.3, "retries": 1, "backoff_seconds": 0}
        expected = r"data.source.url .*slow.csv.*no answer within 0.3 s \(after 2 attempts\)"
        with pytest.raises(MillraceError, match=expected):
            acquire(source)
    assert calls["/slow.csv"] == 2


def test_a_checksum_mismatch_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with loopback.serve({"/rows.csv": loopback.body(b"a,b\n1,2\n")}) as (base, calls):
        expected = "sha256 mismatch: expected 0{64}, got [0-9a-f]{64}; nothing was written"
        with pytest.raises(MillraceError, match=expected):
            acquire({"kind": "url", "url": f"{base}/rows.csv", "sha256": "0" * 64})
    assert calls["/rows.csv"] == 1  # not transient: not retried
    assert not [p for p in (tmp_path / ".millrace").rglob("*") if p.is_file()]


def test_a_sql_query_is_read_and_its_database_left_untouched(tmp_path):
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        ROWS.to_sql("items", connection, index=False)
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    frame, read = acquire({"kind": "sql", "url": f"sqlite:///{database}", "query": "SELECT * FROM items ORDER BY size"})
    pd.testing.assert_frame_equal(frame, ROWS)
    assert read["query"]["sha256"] == before == hashlib.sha256(database.read_bytes()).hexdigest()


def test_a_failing_query_names_the_source_and_the_database_error(tmp_path, monkeypatch):
    database = tmp_path / "shop.db"
    sqlite3.connect(database).close()
    monkeypatch.setenv("SHOP_DB", f"sqlite:///{database}")
    expected = r"data.source: the query failed on sqlite:///.*shop.db: no such table: items"
    with pytest.raises(MillraceError, match=expected):
        acquire({"kind": "sql", "url_env": "SHOP_DB", "query": "SELECT * FROM items"})
    with pytest.raises(MillraceError, match="SQLite database .*nope.db' does not exist"):
        acquire({"kind": "sql", "url": f"sqlite:///{tmp_path / 'nope.db'}", "query": "SELECT 1"})
    monkeypatch.delenv("SHOP_DB")
    with pytest.raises(MillraceError, match="url_env: the environment variable 'SHOP_DB' is not set"):
        acquire({"kind": "sql", "url_env": "SHOP_DB", "query": "SELECT 1"})


def test_a_text_folder_in_an_archive_and_a_declared_encoding(tmp_path):
    archive = tmp_path / "mail.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("mail/spam/1.txt", "Gagnez un prix dès maintenant".encode("latin-1"))
        z.writestr("mail/ham/2.txt", "Déjeuner à midi ?".encode("latin-1"))
    frame, read = acquire({"kind": "text", "path": str(archive), "encoding": "latin-1"}, target="label")
    assert sorted(frame["text"]) == ["Déjeuner à midi ?", "Gagnez un prix dès maintenant"]
    assert read["files"] == 2 and not read["excluded"]


@pytest.mark.parametrize(
    ("tail", "line"),
    [(b"7,8", 4), (b'7,"eight', 4), (b'7,"8\n9', 4)],
    ids=["cut mid-row", "cut inside quotes", "quote never closed"],
)
def test_a_truncated_csv_keeps_every_whole_row_and_quarantines_the_cut_one(tmp_path, tail, line):
    path = tmp_path / "cut.csv"
    path.write_bytes(b"a,b,c\n1,2,3\n4,5,6\n" + tail)
    frame, read = acquire({"kind": "file", "path": str(path)}, target="a")
    assert frame["a"].tolist() == [1, 4]
    assert [(q["line"], q["file"]) for q in read["quarantined"]] == [(line, f"data.source.path {str(path)!r}")]


def test_a_semicolon_csv_with_decimal_commas_is_sniffed_and_read_as_numbers(tmp_path, capsys):
    from stages.acquire import main  # noqa: F401  (the sniffed dialect is said by run)

    path = tmp_path / "european.csv"
    path.write_text("name;size;price;kind\nZoë;1,5;1.234,50;a\ncafé;2,25;99,00;b\nnaïve;3,0;7,10;a\n")
    frame, read = acquire({"kind": "file", "path": str(path), "thousands": "."})
    assert list(frame.columns) == ["name", "size", "price", "kind"]
    assert frame["size"].tolist() == [1.5, 2.25, 3.0] and frame["price"].tolist() == [1234.5, 99.0, 7.1]
    assert read["files"][0]["dialect"] == {"delimiter": ";", "decimal": ",", "sniffed": True}
    assert "delimiter ';', decimal mark ',' (sniffed" in capsys.readouterr().out


def test_a_declared_delimiter_that_reads_one_column_names_the_one_the_file_uses(tmp_path):
    path = tmp_path / "european.csv"
    path.write_text("name;size;kind\nZoë;1,5;a\ncafé;2,25;b\n")
    with pytest.raises(
        MillraceError,
        match=r"read into one column with delimiter ',', but every line holds ';': "
        r"set data.source.delimiter: ';'",
    ):
        acquire({"kind": "file", "path": str(path), "delimiter": ","})


def test_comment_lines_are_skipped_and_quarantined_rows_keep_the_files_line_numbers(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text("# exported 2026-12-01\n# units: mm\nname;size\nZoë;1,5\n  # a note\nbad;1;2\ncafé;2,25\n")
    frame, read = acquire({"kind": "file", "path": str(path), "comment": "#", "delimiter": ";"}, target="name")
    assert frame["name"].tolist() == ["Zoë", "café"] and frame["size"].tolist() == [1.5, 2.25]
    assert [q["line"] for q in read["quarantined"]] == [6]  # bad;1;2 is the file's sixth line
    assert read["files"][0]["dialect"]["comment_lines"] == 3
    assert "skipped 3 comment lines (data.source.comment)" in capsys.readouterr().out
    path.write_text("# exported 2026-12-01\nname;size\nZoë;1,5\ncafé;2,25\n")  # the dialect is sniffed past them
    frame, read = acquire({"kind": "file", "path": str(path), "comment": "#"}, target="name")
    assert frame["size"].tolist() == [1.5, 2.25] and read["files"][0]["dialect"]["delimiter"] == ";"


def test_a_file_without_a_header_gets_numbered_columns(tmp_path):
    path = tmp_path / "bare.csv"
    path.write_text("1.5,a\n2.5,b\n")
    frame, _ = acquire({"kind": "file", "path": str(path), "header": False}, target="column_2")
    assert list(frame.columns) == ["column_1", "column_2"] and frame["column_1"].tolist() == [1.5, 2.5]


def test_many_quarantined_records_are_summarised_in_a_few_lines():
    from stages.acquire import quarantine_summary

    bad = [{"file": "f.csv", "line": i, "reason": "4 fields where the header has 3", "text": "x"} for i in range(500)]
    bad += [{"file": "f.csv", "line": 900, "reason": "2 fields where the header has 3", "text": "y"}]
    lines = quarantine_summary(bad, "data/acquire/quarantine.csv")
    assert len(lines) == 3 and "501 records" in lines[0] and "data/acquire/quarantine.csv" in lines[0]
    assert lines[1] == "  500 × 4 fields where the header has 3: f.csv line 0, f.csv line 1, f.csv line 2 and 497 more"
