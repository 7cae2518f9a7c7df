"""Data Docs views that compile Great Expectations' page templates once per machine, not per gate.

GE's Jinja views make a new Jinja environment per view object, so every process that builds Data
Docs (each gate's stage) compiled the same ~36 templates again: ~60 ms of every gate. These views
are GE's own with a Jinja bytecode cache (in Jinja's per-user cache folder; a template whose source
changed is compiled afresh). `gx/great_expectations.yml` names them as its Data Docs site's views.
"""

from __future__ import annotations

from functools import cache

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache, FileSystemBytecodeCache


@cache
def bytecode_cache() -> BytecodeCache:
    return FileSystemBytecodeCache(pattern="millrace-gx-%s.cache")


class _BytecodeCached:
    """Mixed in before one of GE's Jinja views: its environment loads compiled templates from the cache."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = bytecode_cache()


class CachedPageView(_BytecodeCached, DefaultJinjaPageView):
    """A Data Docs page (a suite, a validation result), as GE renders it."""


class CachedIndexPageView(_BytecodeCached, DefaultJinjaIndexPageView):
    """The Data Docs index page, as GE renders it."""
