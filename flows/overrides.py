"""A flow run's `-S` overrides in params.yaml: applied with DVC's own code, taken back if the run fails.

A finished run leaves them, as `dvc exp run` does. A run killed outright (kill -9, the OOM killer)
cannot take them back itself, so it keeps a record (params.yaml before and after) and the next
run puts params.yaml back first, unless someone has edited it since: then it is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from millrace.config.params import ParamsError, load_params
from millrace.files import read_json, write_json, write_text

RECORD = ".millrace/flow/overrides.json"


def apply_overrides(root: Path, overrides: list[str]) -> None:
    """`dvc exp run -S`'s own code: the same syntax, the same errors, params.yaml checked after."""
    from dvc.exceptions import InvalidArgumentError
    from dvc.utils.hydra import apply_overrides as dvc_apply_overrides

    try:
        dvc_apply_overrides(root / "params.yaml", list(overrides))
    except InvalidArgumentError as exc:  # DVC's own message is only "Invalid `--set-param` value"
        raise ParamsError(f"overrides {', '.join(overrides)}: {exc.__cause__ or exc}") from None
    load_params(root / "params.yaml")  # a wrong key or value is named now, before any stage runs


@contextmanager
def overridden(root: Path, overrides: list[str]) -> Iterator[None]:
    """params.yaml with `overrides` for the body; as it was before if the body raises."""
    params, record = root / "params.yaml", root / RECORD
    before = params.read_text()
    try:
        if overrides:
            write_json(record, {"before": before, "after": None})  # a kill inside DVC's write: see restore
            apply_overrides(root, overrides)
            write_json(record, {"before": before, "after": params.read_text()})
        yield
    except BaseException:
        write_text(params, before)
        raise
    finally:
        record.unlink(missing_ok=True)


def restore_after_killed_run(root: Path) -> str | None:
    """Put back the params.yaml a killed run overrode; what was done, for the log, or None if nothing was left."""
    params, record = root / "params.yaml", root / RECORD
    if not record.exists():
        return None
    saved, now = read_json(record), params.read_text()
    record.unlink()
    if now == saved["before"]:
        return None
    if now == saved["after"]:
        write_text(params, saved["before"])
        return "params.yaml put back as it was before a killed flow run applied its overrides"
    return "a killed flow run left overrides in params.yaml, which has been edited since: left as it is"
