"""requirements.lock pins exactly what pyproject.toml's ranges allow, and everything the project installs."""

from __future__ import annotations

import platform
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT


def locked() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line!r}: the lock pins exact versions"
        pins[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]]


def test_every_declared_range_is_satisfied_by_the_locked_version():
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {name}=={pins[name]}, outside pyproject.toml's {requirement}: run `make lock`"
        )


LOCKED_PLATFORM = sys.version_info[:2] == (3, 11) and sys.platform == "linux" and platform.machine() == "x86_64"


@pytest.mark.skipif(not LOCKED_PLATFORM, reason="make install uses the lock on CPython 3.11, linux x86-64 only")
def test_the_lock_covers_every_distribution_the_project_pulls_in_at_the_installed_version():
    """Walks the installed metadata from pyproject.toml's requirements: a transitive dependency missing from the
    lock would be resolved afresh on the next machine."""
    pins, seen = locked(), set()
    pending = [(requirement, frozenset()) for requirement in declared()]
    while pending:
        requirement, extras = pending.pop()
        if requirement.marker and not any(requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""})):
            continue
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        assert name in pins, f"{name} is installed for {requirement} but not pinned in requirements.lock"
        installed = Version(metadata.version(name))
        assert installed == pins[name], f"{name} {installed} is installed, the lock says {pins[name]}: make install"
        for text in metadata.requires(name) or []:
            pending.append((Requirement(text), frozenset(requirement.extras)))
    assert len({name for name, _ in seen}) > 50  # the walk reached the transitive dependencies
