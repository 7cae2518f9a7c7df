"""A dataset's short name, from its source: a built-in's name, a file's or URL's stem, a query's table.

It names the dataset's gate suites (`gx/expectations/<dataset>_raw.json`) and, with the target, its model
in the release registry.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

WILDCARDS = set("*?[")


def _stem(path: str) -> str:
    """A file or folder's name without its suffixes, from the last part that is not a glob."""
    parts = [part for part in PurePosixPath(path.replace("\\", "/")).parts if not WILDCARDS & set(part)]
    return parts[-1].split(".")[0] if parts else ""


def dataset_name(source: dict[str, Any]) -> str:
    """The short name, lower case, in letters, digits, `.`, `_` and `-` (empty when the source says none)."""
    return slug(_raw_name(source)) if _raw_name(source) else ""


def _raw_name(source: dict[str, Any]) -> str:
    kind = source.get("kind")
    if kind == "builtin":
        return str(source["name"])
    if kind == "url":
        return _stem(urlparse(source["url"]).path)
    if kind == "sql":
        table = re.search(r"\bfrom\s+([A-Za-z_][\w.]*)", source.get("query", ""), re.IGNORECASE)
        return table.group(1).split(".")[-1] if table else "sql"
    return _stem(str(source.get("path", "")))


def slug(text: str) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:64].rstrip("-._")
    return name or "model"
