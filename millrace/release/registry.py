"""Releases: every bundle that passed deploy, kept by model and version under `paths.releases`.

Each named model (`deploy.model_name`, or `<dataset>-<target>`: see naming.py) has a home,
`<root>/<model>/`, like a registered model with a "champion" alias: `<version>/` (the bundle: ONNX,
TorchScript, manifest with its lineage, MODEL_CARD.md), `ACTIVE` (the active version's name),
`registered.jsonl` (each version and when it was registered: a version names the bundle's content, so the
registry keeps the times) and `history.jsonl` (each promotion and rollback: when, from, to, why). The
functions below that take `home` work on one model's home; a model never touches another's. The deploy
stage registers each new bundle and, with `deploy.promote: auto`, promotes it; `millrace releases` lists
them, `millrace promote VERSION` and `millrace rollback` move a model's active version. The pointer is
replaced atomically, so a reader (the server reloading) sees the old version or the new one, never half of
either. Releases live outside DVC's outputs: DVC rebuilds `models/deploy`, releases accumulate.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from millrace.errors import MillraceError
from millrace.files import atomic_dir, read_json, write_text
from millrace.serving.bundle import verify

ACTIVE, HISTORY, MANIFEST, REGISTERED = "ACTIVE", "history.jsonl", "manifest.json", "registered.jsonl"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def registered_at(root: Path | str) -> dict[str, str]:
    """When each version was registered (its first registration)."""
    found: dict[str, str] = {}
    for entry in _lines(Path(root) / REGISTERED):
        found.setdefault(entry["version"], entry["at"])
    return found


def versions(root: Path | str) -> list[str]:
    """Registered versions, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    # A hidden folder is a copy still being made (or one a killed deploy left half made), never a release.
    found = {p.name for p in root.iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file()}
    order = [version for version in registered_at(root) if version in found]
    return sorted(found - set(order)) + order  # releases older than the record (named by time) first


def active(root: Path | str) -> str | None:
    pointer = Path(root) / ACTIVE
    if not pointer.is_file():
        return None
    version = pointer.read_text().strip()
    if not (Path(root) / version / MANIFEST).is_file():
        raise MillraceError(f"{pointer} names {version!r}, which is not a release in {root}; `millrace promote` one")
    return version


def active_dir(root: Path | str) -> Path | None:
    version = active(root)
    return None if version is None else Path(root) / version


def register(bundle: Path | str, root: Path | str, finish: Callable[[Path], None] | None = None) -> str:
    """Copy a deployed bundle into a model's home as a release, once: the same weights with the same files
    (graphs, variants) are the same release. `finish` completes the copy (its lineage) before it appears."""
    bundle, root = Path(bundle), Path(root)
    manifest = read_json(bundle / MANIFEST)
    for partial in root.glob(".*.tmp"):  # what a killed deploy was copying in (DVC runs one deploy at a time)
        if partial.is_dir() and not partial.is_symlink():
            shutil.rmtree(partial, ignore_errors=True)
    for existing in versions(root):
        known = read_json(root / existing / MANIFEST)
        if known.get("weights_sha256") == manifest["weights_sha256"] and set(known["files"]) == set(manifest["files"]):
            return existing
    with atomic_dir(root / manifest["version"]) as target:
        for path in bundle.iterdir():
            if path.is_dir():
                shutil.copytree(path, target / path.name)
            else:
                shutil.copy2(path, target / path.name)
        if finish is not None:
            finish(target)
    with (root / REGISTERED).open("a") as lines:
        lines.write(json.dumps({"version": manifest["version"], "at": datetime.now(UTC).isoformat()}) + "\n")
    return manifest["version"]


def promote(root: Path | str, version: str, reason: str) -> str | None:
    """Make `version` active; return the version it replaced."""
    root = Path(root)
    if version not in versions(root):
        raise MillraceError(f"no release {version!r} in {root}; releases: {versions(root) or 'none'}")
    verify(root / version)  # a damaged release never becomes the active one
    previous = active(root)
    # The history first, then the pointer: a promotion killed in between is recorded but not made, and the
    # next promotion of the same version completes it rather than recording it twice.
    last = history(root)[-1:]
    if not (last and last[0]["from"] == previous and last[0]["to"] == version):
        entry = {"at": datetime.now(UTC).isoformat(), "from": previous, "to": version, "reason": reason}
        with (root / HISTORY).open("a") as lines:
            lines.write(json.dumps(entry) + "\n")
    write_text(root / ACTIVE, version + "\n")
    return previous


def history(root: Path | str) -> list[dict[str, Any]]:
    return _lines(Path(root) / HISTORY)


def rollback(root: Path | str) -> str:
    """Return to the version that was active before the current one; return it."""
    current = active(root)
    earlier = next((h["from"] for h in reversed(history(root)) if h["to"] == current and h["from"]), None)
    if current is None or earlier is None:
        raise MillraceError(f"nothing to roll back to in {root}: the active version {current!r} replaced none")
    promote(root, earlier, f"rollback from {current}")
    return earlier


def listing(root: Path | str) -> list[dict[str, Any]]:
    current, times = active(root), registered_at(root)
    rows = []
    for version in versions(root):
        manifest = read_json(Path(root) / version / MANIFEST)
        test = manifest.get("metrics", {}).get("test", {})
        primary = {"regression": "r2", "sft": "perplexity", "pretraining": "perplexity"}.get(
            manifest.get("task"), "accuracy"
        )
        rows.append(
            {
                "version": version,
                "active": version == current,
                "family": manifest.get("family"),
                primary: None if test.get(primary) is None else round(test[primary], 4),
                "registered": times.get(version, str(manifest.get("created_at", "")))[:19],
            }
        )
    return rows


def models(root: Path | str) -> list[str]:
    """The named models with a home under `root`."""
    root = Path(root)
    if not root.is_dir():
        return []
    homes = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and not (p / MANIFEST).exists()]
    return sorted(p.name for p in homes if (p / ACTIVE).is_file() or versions(p))


def owner(root: Path | str, version: str) -> str | None:
    """The model whose release `version` is, if any."""
    return next((name for name in models(root) if version in versions(Path(root) / name)), None)


def adopt_flat_layout(root: Path | str, name_of: Callable[[dict[str, Any]], str]) -> str | None:
    """Move releases kept in the layout before named models (versions and ACTIVE directly under `root`) into the
    home of the model they belong to (`name_of` their active, else newest, manifest); return that name."""
    root = Path(root)
    flat = versions(root)
    if not flat and not (root / ACTIVE).is_file():
        return None
    leading = active(root) if (root / ACTIVE).is_file() else None
    name = name_of(read_json(root / (leading or flat[-1]) / MANIFEST))
    home = root / name
    home.mkdir(parents=True, exist_ok=True)
    for version in flat:
        (root / version).rename(home / version)
    for record in (REGISTERED, HISTORY, ACTIVE):  # the pointer last: it must name a version already moved
        if (root / record).is_file():
            (root / record).rename(home / record)
    return name
