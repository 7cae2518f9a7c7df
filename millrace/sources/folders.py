"""Folder sources for acquire: one sub-folder per class, holding images or .txt files; or, for continued
pretraining, a corpus: every .txt file under a folder, one document each.

A file that cannot be read (a corrupt image, text that is not UTF-8, an empty file) is excluded
and reported by name with the reason; it never stops the stage. Hidden files are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from millrace.errors import MillraceError
from millrace.inputs.images import open_image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})


@dataclass
class FolderRead:
    frame: pd.DataFrame
    files: int = 0
    excluded: list[dict[str, str]] = field(default_factory=list)  # {"file": …, "reason": …}


def _class_folders(root: Path, what: str) -> list[Path]:
    if not root.is_dir():
        raise MillraceError(f"data.source.path {str(root)!r}: no such folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise MillraceError(f"data.source.path {str(root)!r}: expected one sub-folder of {what} per class, found none")
    return folders


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _image(path: Path) -> bytes:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"not a PNG or JPEG file ({path.suffix or 'no suffix'})")
    data = path.read_bytes()
    open_image(data)  # raises ValueError naming why it cannot be read
    return data


def _text(path: Path, encoding: str = "auto") -> str:
    if path.suffix.lower() != ".txt":
        raise ValueError(f"not a .txt file ({path.suffix or 'no suffix'})")
    codec = "utf-8-sig" if encoding == "auto" else encoding
    try:
        text = path.read_bytes().decode(codec).strip()
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding == "auto" else encoding
        raise ValueError(f"not {name} text ({exc.reason} at byte {exc.start})") from None
    if not text:
        raise ValueError("empty")
    return text


def _read(root: Path | str, what: str, column: str, target: str, read: Callable[[Path], object]) -> FolderRead:
    root = Path(root)
    rows, excluded, files = [], [], 0
    for folder in _class_folders(root, what):
        for path in _files(folder):
            files += 1
            try:
                rows.append({column: read(path), target: folder.name})
            except ValueError as exc:
                excluded.append({"file": str(path.relative_to(root)), "reason": str(exc)})
    return FolderRead(pd.DataFrame(rows, columns=[column, target]), files, excluded)


def read_images(root: Path | str, column: str, target: str) -> FolderRead:
    return _read(root, "images", column, target, _image)


def read_texts(root: Path | str, column: str, target: str, encoding: str = "auto") -> FolderRead:
    """`encoding` auto: UTF-8 (a BOM allowed), a file that is not being excluded, never guessed at; else
    a codec name, which params.yaml's validation has already checked."""
    return _read(root, ".txt files", column, target, lambda path: _text(path, encoding))


def read_corpus(root: Path | str, column: str, encoding: str = "auto") -> FolderRead:
    """Every .txt file under `root` (sub-folders too, in path order) as one document, its path beside it."""
    root = Path(root)
    if not root.is_dir():
        raise MillraceError(f"data.source.path {str(root)!r}: no such folder")
    rows, excluded, paths = [], [], _files(root)
    for path in paths:
        try:
            rows.append({column: _text(path, encoding), "file": str(path.relative_to(root))})
        except ValueError as exc:
            excluded.append({"file": str(path.relative_to(root)), "reason": str(exc)})
    if not rows:
        raise MillraceError(f"data.source.path {str(root)!r}: no readable .txt file in it ({len(paths)} files)")
    return FolderRead(pd.DataFrame(rows, columns=[column, "file"]), len(paths), excluded)
