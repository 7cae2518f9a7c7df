"""The invariants every injected fault must leave intact, checked the same way after each one.

1. `dvc.lock` parses, and every output it names exists with the recorded hash, or is gone and
   restorable from the cache with `dvc checkout` (a stage removes its outputs before it runs); the
   failed stage's outputs may also have been rewritten (an uncached gate report saying why it failed)
   as long as the recorded versions are restorable.
2. No temporary or partial file sits at or beside a final path (`millrace.files` writes `.<name>.*.tmp`
   and renames it into place).
3. The served model is the last release that passed the delivery standard: the active release
   exists, its bundle is whole (every file with its manifest's sha256) and it passed; with
   automatic promotion no later release passed.

Read from the files themselves (not through DVC's code), so a bug in how DVC is driven cannot
hide a broken workspace.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from millrace.config.params import load_params
from millrace.files import folder_sha256, sha256
from millrace.release import registry

TEMPORARY = ("*.tmp", "*.partial", "*.part")


def _md5(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def _cached(repo: Path, md5: str) -> Path:
    return repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]


def _restorable(repo: Path, md5: str) -> bool:
    """The recorded version is in the cache, whole: `dvc checkout` brings it back."""
    if not md5.endswith(".dir"):
        return _cached(repo, md5).is_file()
    listing = _cached(repo, md5)
    return listing.is_file() and all(_cached(repo, i["md5"]).is_file() for i in json.loads(listing.read_text()))


def _as_recorded(repo: Path, path: Path, out: dict) -> bool:
    md5 = out["md5"]
    if not md5.endswith(".dir"):
        return path.is_file() and _md5(path) == md5
    if not path.is_dir():
        return False
    present = {str(p.relative_to(path)): p for p in path.rglob("*") if p.is_file()}
    listing = _cached(repo, md5)
    if not listing.is_file():  # an uncached directory (cache: false): only its file count is recorded
        return len(present) == out.get("nfiles")
    files = {item["relpath"]: item["md5"] for item in json.loads(listing.read_text())}
    return set(present) == set(files) and all(_md5(present[name]) == digest for name, digest in files.items())


def _lock_problems(repo: Path, failed: str | None) -> list[str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())  # must parse
    problems = []
    for stage, entry in lock.get("stages", {}).items():
        for out in entry.get("outs", []):
            path = repo / out["path"]
            if _as_recorded(repo, path, out):
                continue
            restorable = _restorable(repo, out["md5"])
            uncached = not _cached(repo, out["md5"]).is_file()  # cache: false, e.g. a gate's own report
            if stage == failed and (restorable or uncached):
                continue  # DVC removed it or the failing stage rewrote it; `dvc checkout` restores the recorded one
            if not path.exists() and restorable:
                continue
            problems.append(
                f"dvc.lock: {stage} -> {out['path']}: not as recorded" + ", not restorable" * (not restorable)
            )
    return problems


def _temporaries(repo: Path) -> list[str]:
    found = []
    for top in ("data", "models", "reports"):
        for pattern in TEMPORARY:
            found += [str(p.relative_to(repo)) for p in (repo / top).rglob(pattern)]
    return sorted(found)


def _digest(path: Path) -> str | None:
    if path.is_dir():
        return folder_sha256(path)
    return sha256(path) if path.is_file() else None


def _serving_problems(repo: Path) -> list[str]:
    params = load_params(repo / "params.yaml")
    root = repo / params.paths.releases
    return [problem for name in registry.models(root) for problem in _model_problems(root / name, params)]


def _model_problems(home: Path, params) -> list[str]:
    active = registry.active(home)
    if active is None:
        return [f"{home}: releases but none active"]
    manifest = json.loads((home / active / "manifest.json").read_text())
    bundle = home / active
    problems = [
        f"active release {active}: {name} damaged or missing"
        for name, digest in manifest["files"].items()
        if _digest(bundle / name) != digest
    ]
    if not manifest["delivery"]["passed"]:
        problems.append(f"active release {active} did not pass the delivery standard")
    if params.deploy.promote == "auto":
        passed = [
            v
            for v in registry.versions(home)
            if json.loads((home / v / "manifest.json").read_text())["delivery"]["passed"]
        ]
        if passed and passed[-1] != active:
            problems.append(f"active release is {active}, but the last that passed is {passed[-1]}")
    return problems


def assert_invariants(repo: Path, failed: str | None = None) -> None:
    """All three invariants hold in `repo`, or one assertion lists every way they do not. `failed`
    names the stage the fault made fail: its outputs may be gone or describe the failure, as long
    as the recorded ones are restorable."""
    problems = (
        _lock_problems(repo, failed) + [f"temporary left: {t}" for t in _temporaries(repo)] + _serving_problems(repo)
    )
    assert problems == [], "\n".join(problems)
