"""The README's commands exist: make targets, `python -m` modules and `millrace` subcommands."""

import importlib.util
import re

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def test_make_targets_exist():
    targets = set(re.findall(r"^([a-z][\w-]*):", MAKEFILE, flags=re.MULTILINE))
    mentioned = set(re.findall(r"\bmake ([a-z][\w-]*)", README))
    assert mentioned and mentioned <= targets


def test_python_modules_exist():
    modules = {m.rstrip(".") for m in re.findall(r"python -m ([\w.]+)", README)} - {"stages"}
    assert {"flows.pipeline", "stages.serve"} <= modules
    for module in modules:
        if module.startswith(("stages", "flows")):
            assert importlib.util.find_spec(module) is not None, module


def test_millrace_subcommands_exist():
    from stages.cli import main

    commands = set(re.findall(r"(?:^|`)millrace ([\w-]+)", README, flags=re.MULTILINE))
    assert {"serve", "summary"} <= commands
    for command in commands:
        try:
            main([command, "--help"])
        except SystemExit as exit_:
            assert exit_.code == 0, command
