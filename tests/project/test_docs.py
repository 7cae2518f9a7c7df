"""The README's and docs' commands and paths exist: make targets, modules, `millrace` subcommands, files."""

import importlib.util
import re

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
DOCS = {path.name: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
EVERY = {"README.md": README, **DOCS, "examples/README.md": (ROOT / "examples" / "README.md").read_text()}
MAKEFILE = (ROOT / "Makefile").read_text()


def test_the_readme_is_a_guide_not_a_diary():
    assert len(README.splitlines()) <= 300
    for name in ("ARCHITECTURE.md", "BENCHMARKS.md", "RELIABILITY.md"):
        assert name in DOCS and f"docs/{name}" in README, name
    assert not re.search(r"(?i)\b(session|this change)\b", README + "".join(DOCS.values()))


@pytest.mark.parametrize("name", list(EVERY))
def test_make_targets_exist(name):
    targets = set(re.findall(r"^([a-z][\w-]*):", MAKEFILE, flags=re.MULTILINE))
    assert set(re.findall(r"\bmake ([a-z][\w-]*)", EVERY[name])) <= targets


@pytest.mark.parametrize("name", list(EVERY))
def test_python_modules_exist(name):
    modules = {m.rstrip(".") for m in re.findall(r"python -m ([\w.]+)", EVERY[name])} - {"stages"}
    for module in modules:
        if module.startswith(("stages", "flows", "millrace", "bench")):
            assert importlib.util.find_spec(module) is not None, module


def test_the_readme_names_the_everyday_commands():
    assert "python -m flows.pipeline" in README
    assert {"serve", "summary", "predict"} <= set(re.findall(r"(?:^|`)millrace ([\w-]+)", README, flags=re.MULTILINE))


@pytest.mark.parametrize("name", list(EVERY))
def test_millrace_subcommands_exist(name):
    from millrace.cli import main

    text = EVERY[name]
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL))  # commands at a line's start
    commands = set(re.findall(r"^millrace ([a-z][\w-]*)", code, flags=re.MULTILINE))
    commands |= set(re.findall(r"`millrace ([a-z][\w-]*)", text))
    for command in commands:
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0, command


@pytest.mark.parametrize("name", list(EVERY))
def test_every_project_path_named_exists(name):
    """A path into the project's own code in backticks or a link: it moved, the words must move with it."""
    named = re.findall(r"[`(]((?:stages|millrace|flows|tests|bench|docs|examples|gx)/[\w./<>-]*[\w>])", EVERY[name])
    base = ROOT / "examples" if name.startswith("examples/") else ROOT
    written = ("gx/uncommitted/",)  # what a run writes
    missing = sorted({p for p in named if "<" not in p and not p.startswith(written) and not (ROOT / p).exists()})
    missing = [path for path in missing if not (base / path).exists()]
    assert missing == []


def test_the_architecture_maps_everyday_tasks_to_paths_that_exist():
    table = DOCS["ARCHITECTURE.md"].split("## Where to change what", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith(("| to ", "|---"))]
    assert len(rows) >= 15
    for row in rows:
        paths = re.findall(r"`([\w./-]+/[\w./-]*)`", row)
        assert paths, row
        assert all((ROOT / path).exists() for path in paths), row
