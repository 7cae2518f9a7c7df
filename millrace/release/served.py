"""Which bundle `millrace serve`, `millrace predict`, `millrace drift` and the summary use: one answer for all.

It is the active release of the model params.yaml names (`deploy.model_name`, or `<dataset>-<target>`). Before
that model has one, it is `<paths.deploy>/`. When `<paths.deploy>/` holds another version than the one used
(`dvc checkout`, `dvc exp apply` or DVC's run cache restored it, the active release was rolled back or not
promoted), `note` says so, why, and the command that would serve it instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from millrace.errors import MillraceError
from millrace.files import read_json
from millrace.release import naming, registry

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Served:
    directory: Path
    model: str
    version: str
    why: str
    note: str | None = None

    def describe(self) -> str:
        said = f"model {self.model}, version {self.version}: {self.why}"
        return said if self.note is None else f"{said}\n{self.note}"


def resolve(params, base: Path = Path(".")) -> Served:
    name = naming.model_name(params)
    home = base / params.paths.releases / name
    deploy = base / params.paths.deploy
    deployed = read_json(deploy / MANIFEST) if (deploy / MANIFEST).is_file() else None
    current = registry.active(home)
    if current is not None:
        note = None
        if deployed is not None and deployed["version"] != current:
            note = _differs(deployed, deploy, home, name, current)
        return Served(home / current, name, current, f"the active release ({home}/ACTIVE)", note)
    if deployed is None:
        raise MillraceError(
            f"nothing to serve: model {name} has no active release in {home.parent} and {deploy} holds no bundle; "
            "run `dvc repro`"
        )
    version, other = deployed["version"], naming.of_manifest(deployed)
    if other != name:
        why = f"{deploy}: it holds model {other}'s bundle, and params.yaml names model {name}; `dvc repro` deploys that"
    elif version in registry.versions(home):
        why = f"{deploy}: model {name} has no active release (deploy.promote: manual); `millrace promote {version}`"
    else:
        why = (
            f"{deploy}: model {name} has no release yet (this bundle was never registered: an experiment built it, "
            f"and DVC restored it); `millrace promote {version}` registers it and makes it active"
        )
    return Served(deploy, other, version, why)


def _differs(deployed: dict, deploy: Path, home: Path, name: str, current: str) -> str:
    version, other = deployed["version"], naming.of_manifest(deployed)
    if other != name:
        return f"{deploy} holds version {version} of model {other}, not of {name} which params.yaml names"
    if version in registry.versions(home):
        made = next((h for h in reversed(registry.history(home)) if h["to"] == current), None)
        when = f" at {made['at'][:19]} ({made['reason']})" if made else ""
        return (
            f"{deploy} holds {version}, a release of {name} that is not active: {current} was made active{when}; "
            f"`millrace promote {version}` serves it instead"
        )
    return (
        f"{deploy} holds {version}, which was never registered (an experiment built it, and `dvc checkout`, "
        f"`dvc exp apply` or DVC's run cache restored it); `millrace promote {version}` registers it and serves it "
        "instead"
    )
