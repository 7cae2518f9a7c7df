"""Extract a .zip or .tar(.gz|.bz2|.xz) archive safely, or refuse it whole with the entry that is wrong.

Refused: an entry whose path is absolute or climbs out of the target (`..`), a symbolic or hard
link, a device file or FIFO, more than `MAX_MEMBERS` entries, more than `MAX_BYTES` in total, or
an entry that expands more than `MAX_RATIO` times its compressed size (a zip bomb). Sizes are
counted as bytes are written, not taken from the headers, which a hostile archive can fake.
Extraction goes into a folder the caller owns; on refusal nothing outside it was ever created.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from millrace.errors import MillraceError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
MAX_MEMBERS = 10_000
MAX_BYTES = 4 << 30
MAX_RATIO = 200


class ArchiveRefused(MillraceError):
    """The archive holds an entry millrace will not extract."""


def is_archive(path: Path | str) -> bool:
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def _safe_name(name: str, where: str) -> PurePosixPath:
    relative = PurePosixPath(name.replace("\\", "/"))
    if relative.is_absolute() or name.startswith(("/", "\\")) or (relative.parts and ":" in relative.parts[0]):
        raise ArchiveRefused(f"{where}: entry {name!r} has an absolute path")
    if ".." in relative.parts:
        raise ArchiveRefused(f"{where}: entry {name!r} points outside the extraction folder")
    return relative


class _Budget:
    """Counts entries and bytes across the archive; raises as soon as a cap is passed."""

    def __init__(self, where: str, max_members: int, max_bytes: int) -> None:
        self.where, self.max_members, self.max_bytes = where, max_members, max_bytes
        self.members = self.bytes = 0

    def entry(self) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise ArchiveRefused(f"{self.where}: more than {self.max_members} entries")

    def copy(self, source: IO[bytes], target: Path, name: str, compressed: int) -> None:
        written = 0
        limit = max(compressed, 1) * MAX_RATIO
        with target.open("wb") as out:
            for block in iter(lambda: source.read(1 << 20), b""):
                written += len(block)
                self.bytes += len(block)
                if self.bytes > self.max_bytes:
                    raise ArchiveRefused(f"{self.where}: expands past {self.max_bytes} bytes (at entry {name!r})")
                if written > limit and written > 1 << 20:
                    raise ArchiveRefused(
                        f"{self.where}: entry {name!r} expands more than {MAX_RATIO}× its compressed size"
                    )
                out.write(block)


def _place(destination: Path, is_dir: bool, opener, budget: _Budget, name: str, compressed: int) -> None:
    """Create a checked entry: a folder, or a file whose bytes are counted against the caps."""
    if is_dir:
        destination.mkdir(parents=True, exist_ok=True)
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    with opener() as source:
        budget.copy(source, destination, name, compressed)


def _extract_zip(archive: Path, target: Path, budget: _Budget, where: str) -> None:
    with zipfile.ZipFile(archive) as handle:
        for info in handle.infolist():
            budget.entry()
            relative = _safe_name(info.filename, where)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArchiveRefused(f"{where}: entry {info.filename!r} is a symbolic link")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: written without Unix modes
                raise ArchiveRefused(f"{where}: entry {info.filename!r} is not a regular file")
            opener = partial(handle.open, info)
            _place(target / relative, info.is_dir(), opener, budget, info.filename, info.compress_size)


def _extract_tar(archive: Path, target: Path, budget: _Budget, where: str) -> None:
    compressed_share = archive.stat().st_size  # tar compresses the stream, not each entry
    with tarfile.open(archive) as handle:
        for member in handle:
            budget.entry()
            relative = _safe_name(member.name, where)
            if member.issym() or member.islnk():
                kind = "symbolic" if member.issym() else "hard"
                raise ArchiveRefused(f"{where}: entry {member.name!r} is a {kind} link to {member.linkname!r}")
            if not (member.isfile() or member.isdir()):
                raise ArchiveRefused(f"{where}: entry {member.name!r} is a device, FIFO or other special file")
            opener = partial(handle.extractfile, member)
            _place(target / relative, member.isdir(), opener, budget, member.name, compressed_share)


def extract(
    archive: Path | str, target: Path | str, *, where: str, max_members: int = MAX_MEMBERS, max_bytes: int = MAX_BYTES
) -> list[Path]:
    """Extract into `target` (created, must be empty); return the regular files, sorted.

    On refusal or a corrupt archive `target` is removed and ArchiveRefused / MillraceError raised.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    budget = _Budget(where, max_members, max_bytes)
    try:
        if str(archive).lower().endswith(".zip"):
            _extract_zip(archive, target, budget, where)
        else:
            _extract_tar(archive, target, budget, where)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise MillraceError(f"{where}: not a readable archive: {exc}") from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return sorted(p for p in target.rglob("*") if p.is_file())
