"""Hostile archives and misbehaving URL servers: refused with a message naming the source, nothing
created outside the extraction folder, nothing partial at a final path, retries only when they help."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from millrace.errors import MillraceError
from millrace.sources import archives
from stages.acquire import run
from tests.helpers import loopback
from tests.helpers.params import parse


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def tar_with(path: Path, *members: tarfile.TarInfo, data: bytes = b"a,b\n1,2\n") -> Path:
    with tarfile.open(path, "w:gz") as handle:
        for member in members:
            handle.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 8) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, size if kind == tarfile.REGTYPE else 0
    return info


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """(where archives are made, the extraction folder); the test checks nothing else appears."""
    made, target = tmp_path / "made", tmp_path / "box" / "target"
    made.mkdir()
    return made, target


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../escaped.csv", "points outside the extraction folder"),
        ("ok/../../escaped.csv", "points outside the extraction folder"),
        ("/tmp/absolute-escape.csv", "has an absolute path"),
        ("C:/windows/escaped.csv", "has an absolute path"),
    ],
)
def test_zip_entries_that_escape_are_refused(sandbox, name, reason):
    made, target = sandbox
    archive = made / "evil.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("fine.csv", "a,b\n1,2\n")
        handle.writestr(name, "a,b\n6,6\n")
    with pytest.raises(archives.ArchiveRefused, match=f"evil.zip.*{reason}"):
        archives.extract(archive, target, where="evil.zip")
    assert not target.exists() and files_under(made.parent) == {"made", "made/evil.zip", "box"}
    assert not Path("/tmp/absolute-escape.csv").exists()


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (member("link.csv", tarfile.SYMTYPE, "/etc/passwd"), "is a symbolic link to '/etc/passwd'"),
        (member("inside/link", tarfile.SYMTYPE, "../../.."), "is a symbolic link"),
        (member("hard.csv", tarfile.LNKTYPE, "/etc/passwd"), "is a hard link"),
        (member("dev/null", tarfile.CHRTYPE), "is a device, FIFO or other special file"),
        (member("dev/sda", tarfile.BLKTYPE), "is a device, FIFO or other special file"),
        (member("pipe", tarfile.FIFOTYPE), "is a device, FIFO or other special file"),
        (member("../up.csv"), "points outside"),
        (member("/abs.csv"), "has an absolute path"),
    ],
)
def test_tar_links_devices_and_escapes_are_refused(sandbox, entry, reason):
    made, target = sandbox
    archive = tar_with(made / "evil.tar.gz", member("fine.csv"), entry)
    with pytest.raises(archives.ArchiveRefused, match=reason):
        archives.extract(archive, target, where="evil.tar.gz")
    assert not target.exists() and files_under(made.parent) == {"made", "made/evil.tar.gz", "box"}


def test_a_zip_symlink_is_refused(sandbox):
    made, target = sandbox
    archive = made / "link.zip"
    info = zipfile.ZipInfo("link.csv")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr(info, "/etc/passwd")
    with pytest.raises(archives.ArchiveRefused, match="'link.csv' is a symbolic link"):
        archives.extract(archive, target, where="link.zip")


def test_zip_bombs_are_stopped_by_ratio_size_and_count(sandbox):
    made, target = sandbox
    bomb = made / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("zeros.csv", b"0" * (64 << 20))  # 64 MiB that deflates to ~64 KiB
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(archives.ArchiveRefused, match="expands more than 200× its compressed size"):
        archives.extract(bomb, target, where="bomb.zip")
    many = made / "many.zip"
    with zipfile.ZipFile(many, "w") as handle:
        for i in range(20):
            handle.writestr(f"part-{i}.csv", "a\n1\n")
    with pytest.raises(archives.ArchiveRefused, match="more than 10 entries"):
        archives.extract(many, target, where="many.zip", max_members=10)
    with pytest.raises(archives.ArchiveRefused, match="expands past 30 bytes"):
        archives.extract(many, target, where="many.zip", max_bytes=30)
    assert not target.exists()


def test_a_corrupt_archive_is_named_as_a_source_error(tmp_path):
    archive = tmp_path / "rows.zip"
    archive.write_bytes(b"PK\x03\x04 this is not really a zip")
    data = parse({"data": {"source": {"kind": "file", "path": str(archive)}, "features": None}}).data
    with pytest.raises(MillraceError, match="data.source.path .*rows.zip.*not a readable archive"):
        run(data)


def acquire_url(url: str, **options) -> None:
    source = {"kind": "url", "url": url, "backoff_seconds": 0, "retries": 2, **options}
    run(parse({"data": {"source": source, "features": None}}).data)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def nothing_landed(workdir: Path) -> bool:
    return not [p for p in workdir.rglob("*") if p.is_file()]


SHA = "ab" * 32


def test_a_body_cut_short_is_retried_and_never_lands(workdir):
    with loopback.serve({"/cut.csv": loopback.body(b"a,b\n1,2\n", length=1000)}) as (base, calls):
        with pytest.raises(MillraceError, match=r"cut.csv'.*expected 1000.*after 3 attempts"):
            acquire_url(f"{base}/cut.csv", sha256=SHA)
    assert calls["/cut.csv"] == 3 and nothing_landed(workdir)


def test_a_body_cut_short_then_whole_is_read(workdir):
    whole = loopback.body(b"a,b\n1,2\n")
    with loopback.serve({"/cut.csv": loopback.fails_then(1, whole)}) as (base, calls):
        acquire_url(f"{base}/cut.csv")
    assert calls["/cut.csv"] == 2


def test_a_body_over_the_cap_is_refused_without_retrying(workdir):
    routes = {"/big.csv": loopback.body(b"x" * 5000), "/endless.csv": loopback.endless()}
    with loopback.serve(routes) as (base, calls):
        with pytest.raises(MillraceError, match="the body is 5000 bytes, over the cap of 1000"):
            acquire_url(f"{base}/big.csv", max_bytes=1000, sha256=SHA)
        with pytest.raises(MillraceError, match="the body passed the cap of 100000 bytes"):
            acquire_url(f"{base}/endless.csv", max_bytes=100_000, sha256=SHA)
    assert calls == {"/big.csv": 1, "/endless.csv": 1} and nothing_landed(workdir)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("file:///etc/passwd", "only http and https URLs are fetched, not 'file'"),
        ("http://169.254.169.254/latest/meta-data/", "resolves to 169.254.169.254, a link-local"),
        ("http://[fe80::1]/x.csv", "a link-local or reserved address"),
        ("http://0.0.0.0:9/x.csv", "a link-local or reserved address"),
    ],
)
def test_redirects_off_the_web_are_refused(workdir, location, reason):
    with loopback.serve({"/go.csv": loopback.redirect(location)}) as (base, calls):
        with pytest.raises(MillraceError, match=reason):
            acquire_url(f"{base}/go.csv")
    assert calls["/go.csv"] == 1 and nothing_landed(workdir)


def test_a_client_error_is_not_retried(workdir):
    with loopback.serve({}) as (base, calls):
        with pytest.raises(MillraceError, match=r"missing.csv': HTTP 404 Not Found$"):
            acquire_url(f"{base}/missing.csv")
    assert calls["/missing.csv"] == 1


def test_a_refused_connection_is_retried_then_named(workdir):
    from millrace.ops.http_ready import free_port

    with pytest.raises(MillraceError, match=r"connection failed.*\(after 3 attempts\)"):
        acquire_url(f"http://127.0.0.1:{free_port()}/rows.csv")
