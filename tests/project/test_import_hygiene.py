"""Importing any module of stages, millrace or flows does nothing but define it, and no import cycle exists.

Each module is imported in turn by one fresh interpreter whose environment lacks every setting the entry points
put in place; after each import the probe compares the environment and the threads with what they were, and
an audit hook reports any process started, socket connected or file opened outside the interpreter's and the
libraries' own (source files excepted). The libraries the modules import at their top are imported first:
what they do on import (Lightning and scikit-learn set variables, torch reads /proc) is theirs, not ours.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

from millrace.environment import PROCESS_ENV
from tests.helpers.imports import ROOT, imported_names, product_modules, source_file, tree

PROBE = r"""
import importlib, json, os, sys, threading

modules, libraries = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for library in libraries:
    try:
        importlib.import_module(library)
    except ImportError:  # `from a import b` where b is a name, not a module
        pass
prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path[1:]} - {"", os.getcwd()})
events = []

def audit(event, args):
    if event in ("subprocess.Popen", "os.fork", "os.forkpty", "os.system", "os.posix_spawn", "socket.connect"):
        events.append(f"{event} {args[:2]!r}")
    elif event == "open" and isinstance(args[0], str | bytes):
        path = os.path.abspath(os.fsdecode(args[0]))
        if not path.endswith((".py", ".pyc", ".so", ".pth")) and not path.startswith(prefixes):
            events.append(f"open {path}")

sys.addaudithook(audit)
found = {}
for module in modules:
    environ, threads = dict(os.environ), {t.ident for t in threading.enumerate()}
    del events[:]
    importlib.import_module(module)
    changed = sorted(k for k in {*environ, *os.environ} if environ.get(k) != os.environ.get(k))
    started = sorted(t.name for t in threading.enumerate() if t.ident not in threads)
    if changed or started or events:
        found[module] = {"environment": changed, "threads": started, "events": sorted(set(events))}
print(json.dumps(found))
"""


def test_importing_any_module_changes_nothing_starts_nothing_and_reads_no_file(tmp_path):
    modules = product_modules()
    assert {"stages.train", "millrace.serving.app", "flows.pipeline", "millrace.cli"} <= set(modules)
    env = {key: value for key, value in os.environ.items() if key not in PROCESS_ENV and key != "PREFECT_API_URL"}
    env["PYTHONPATH"] = str(ROOT)
    probe = subprocess.run(  # from an empty folder: a module reading params.yaml or dvc.yaml would fail here
        [sys.executable, "-c", PROBE, json.dumps(modules), json.dumps(sorted(_libraries()))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert json.loads(probe.stdout.splitlines()[-1]) == {}


def _libraries() -> set[str]:
    """The modules of other distributions that product modules import when they are imported."""
    names = set()
    for module in product_modules():
        for node in tree(source_file(module)).body:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] not in ("millrace", "stages", "flows", "__future__")}


def _import_graph() -> dict[str, set[str]]:
    """Each product module's imports of other product modules, at the top or inside a function."""
    graph = {}
    for module in product_modules():
        path = source_file(module)
        names = {name for name in imported_names(path, module) if source_file(name) is not None}
        graph[module] = {name for name in names if name != module and not module.startswith(f"{name}.")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph, as the modules along it; empty if there is none."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_product_code_has_no_import_cycle():
    assert _cycle(_import_graph()) == [], "an import cycle"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_library_and_the_flows_never_import_a_stage():
    graph = _import_graph()
    reaching = {m: sorted(n for n in names if n.startswith("stages.")) for m, names in graph.items()}
    assert {m: n for m, n in reaching.items() if n and not m.startswith("stages.")} == {}


def test_parsing_params_imports_neither_torch_nor_lightning():
    probe = "import sys; from millrace.config.params import load_params; load_params(); print(' '.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert not {"torch", "lightning"} & set(loaded.stdout.split())
