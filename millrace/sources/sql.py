"""Read the result of one SQL query through SQLAlchemy (SQLite works out of the box).

The connection URL comes from params or, to keep a password out of git, from an environment
variable; passwords never appear in errors or in the profile. A SQLite file must exist (SQLite
would otherwise create an empty database and the query would fail confusingly) and is opened
read-only, so acquiring data can never change it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.errors import MillraceError


def connection_url(url: str | None, url_env: str | None, where: str) -> tuple[Any, str]:
    """The URL to connect with (a SQLite file opened read-only) and how to show it (no password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if url_env:
        url = os.environ.get(url_env)
        if not url:
            raise MillraceError(f"{where}.url_env: the environment variable {url_env!r} is not set")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise MillraceError(f"{where}.url: not a SQLAlchemy URL: {exc}") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_file():
            raise MillraceError(f"{where}.url: SQLite database {parsed.database!r} does not exist")
        parsed = parsed.set(database=f"file:{path}?mode=ro", query={"uri": "true"})
    return parsed, shown


def read_query(url: str | None, url_env: str | None, query: str, where: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The query's rows as a frame, and provenance (URL without password, query, database file hash)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    parsed, shown = connection_url(url, url_env, where)
    engine = create_engine(parsed)
    try:
        with engine.connect() as connection:
            frame = pd.read_sql_query(text(query), connection)
    except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, SQLAlchemyError) else exc
        reason = " ".join(str(getattr(cause, "orig", None) or cause).split())[:300]
        raise MillraceError(f"{where}: the query failed on {shown}: {reason}") from None
    finally:
        engine.dispose()
    provenance: dict[str, Any] = {"url": shown, "query": query}
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        from millrace.files import sha256

        path = Path(parsed.database.removeprefix("file:").split("?")[0])
        provenance |= {"file": str(path), "bytes": path.stat().st_size, "sha256": sha256(path)}
    return frame, provenance
