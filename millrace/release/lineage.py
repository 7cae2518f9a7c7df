"""Where a release came from: the code (git commit, and what differed from it), the data (the same md5 hashes
DVC records in dvc.lock), the environment (the dependency lock's hash and what was installed), the params
and metrics (in the manifest already) and the release it followed.

Deploy records the part that is the same wherever the commit is run (the model's name, the data hashes) in
the bundle's manifest, which DVC tracks; the part that names a moment and a machine (commit, dirty tree,
environment, parent release, when and by what it was registered) is stamped into the release when the
registry takes it in, with a Lineage section added to that release's model card.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from millrace.files import read_json, sha256, write_json

LOCK = Path("requirements.lock")
PACKAGES = ("millrace", "torch", "lightning", "onnxruntime", "scikit-learn", "numpy", "pandas", "dvc")
SHOWN_FILES = 10  # changed files named in a lineage record; the count is always complete
HEADLINE = ("accuracy", "f1_macro", "r2", "mae", "rmse", "perplexity", "rouge_l", "exact_match")  # what a lineage shows


def dvc_md5(path: Path | str) -> str:
    """The hash DVC 3 records for an output: a file's md5, or a folder's `<md5>.dir` over its files' md5s."""
    path = Path(path)
    if path.is_file():
        return _md5(path)
    files = sorted((p.relative_to(path).as_posix(), _md5(p)) for p in path.rglob("*") if p.is_file())
    listing = [{"md5": digest, "relpath": name} for name, digest in files]
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"


def _md5(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def data_hashes(*paths: Path | str) -> dict[str, str]:
    return {str(path): dvc_md5(path) for path in paths}


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def checkout(repo: Path, pipeline_writes: list[str]) -> dict[str, Any]:
    """The commit and whether the tree differed from it, leaving out what the pipeline itself writes
    (dvc.lock, the stages' outputs), which differs during every `dvc repro`."""
    commit = _git(repo, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "why": f"{repo.resolve()} is not a git checkout with a commit"}
    status = _git(repo, "status", "--porcelain", "--untracked-files=normal") or ""
    written = [Path(w).as_posix().rstrip("/") for w in [*pipeline_writes, "dvc.lock"]]
    changed = []
    for line in status.splitlines():
        name = line[3:].split(" -> ")[-1].strip('"').rstrip("/")
        if not any(name == w or name.startswith(w + "/") for w in written):
            changed.append(name)
    return {"commit": commit.strip(), "dirty": bool(changed), "changed": len(changed), "files": changed[:SHOWN_FILES]}


def environment() -> dict[str, Any]:
    """The dependency lock's hash, and whether the installed distributions are the versions it pins."""
    installed = {_canonical(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}
    found: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "packages": {name: installed.get(name) for name in PACKAGES if name in installed},
    }
    if not LOCK.is_file():
        return found | {"requirements_lock_sha256": None}
    pins = dict(
        line.split("==", 1) for line in LOCK.read_text().splitlines() if "==" in line and not line.startswith("#")
    )
    differs = sorted(
        f"{name}=={pin} (installed: {installed.get(_canonical(name)) or 'none'})"
        for name, pin in pins.items()
        if installed.get(_canonical(name)) != pin.strip()
    )
    return found | {"requirements_lock_sha256": sha256(LOCK), "differs_from_lock": differs}


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def stamp(release: Path, record: dict[str, Any]) -> None:
    """Add the moment's lineage to a release being registered: into its manifest, and as its card's last section
    (the manifest's hash of the card follows, so the release still verifies)."""
    manifest = read_json(release / "manifest.json")
    manifest["lineage"] = (manifest.get("lineage") or {}) | record
    card = release / "MODEL_CARD.md"
    if card.is_file():
        card.write_text(card.read_text().rstrip("\n") + "\n\n## Lineage\n\n" + "\n".join(lines(manifest)) + "\n")
        manifest["files"]["MODEL_CARD.md"] = sha256(card)
    write_json(release / "manifest.json", manifest)


def record(repo: Path, pipeline_writes: list[str], parent: str | None, by: str) -> dict[str, Any]:
    return {
        "parent": parent,
        "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "registered_by": by,
        "git": checkout(repo, pipeline_writes),
        "environment": environment(),
    }


def lines(manifest: dict[str, Any]) -> list[str]:
    """The lineage as markdown bullets (the model card's section; `millrace releases show`)."""
    found = manifest.get("lineage") or {}
    if "git" not in found:
        return ["- No lineage recorded: this release was registered before millrace kept it."]
    git, env = found["git"], found["environment"]
    if git["commit"] is None:
        code = f"no commit ({git['why']})"
    elif git["dirty"]:
        shown = ", ".join(git["files"]) + (" …" if git["changed"] > len(git["files"]) else "")
        code = f"`{git['commit']}` with {git['changed']} uncommitted change(s): {shown}"
    else:
        code = f"`{git['commit']}` (clean)"
    lock = env.get("requirements_lock_sha256")
    if lock is None:
        installed = "no requirements.lock"
    elif env["differs_from_lock"]:
        installed = f"requirements.lock `{lock[:16]}…`; installed differs: {', '.join(env['differs_from_lock'][:5])}"
    else:
        installed = f"requirements.lock `{lock[:16]}…`, installed exactly"
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items())
    metrics = manifest.get("metrics") or {}
    scores = "; ".join(
        f"{split}: " + ", ".join(f"{k} {values[k]:.4f}" for k in HEADLINE if isinstance(values.get(k), float))
        for split, values in metrics.items()
    )
    return [
        f"- Model: `{manifest.get('model_name', '?')}`; parent release: `{found.get('parent') or 'none'}`",
        f"- Registered: {found['registered_at']} by {found['registered_by']}",
        f"- Code: {code}",
        "- Data (md5 as in dvc.lock): " + ", ".join(f"{p} `{h}`" for p, h in (found.get("data") or {}).items()),
        f"- Environment: Python {env['python']} on {env['platform']}; {installed}; {packages}",
        f"- Params: {', '.join(manifest.get('params') or {})} (in manifest.json)",
        f"- Metrics: {scores or 'none'}",
    ]


def register(params, home: Path, by: str) -> str:
    """Register `<paths.deploy>/` as a release of the model at `home`, stamped with this moment's lineage."""
    from millrace.release import registry

    writes = [str(v) for k, v in params.paths.model_dump().items() if k not in ("inputs", "gx")]
    found = record(Path("."), writes, registry.active(home), by)
    return registry.register(params.paths.deploy, home, lambda release: stamp(release, found))
