"""The project's import graph, read from the source: every import, at the top of a module or inside a function.

`modules_used(entry)` is every project source file `python -m <entry>` can run, as far as imports say, plus the
model families the catalogue imports by name (a module that calls a family's `build(plan, …)`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("millrace", "stages", "flows")


def only_a_docstring(path: Path) -> bool:
    """A package's `__init__.py` that says what the package is for and runs nothing."""
    body = tree(path).body
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


def source_file(module: str) -> Path | None:
    path = ROOT / Path(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    relative = path.resolve().relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def product_modules() -> list[str]:
    """Every module of the product's packages, by name."""
    return sorted(module_name(path) for package in PRODUCT_PACKAGES for path in (ROOT / package).rglob("*.py"))


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name an import statement in the file could load (`from a import b` may be a.b)."""
    return _names(ast.walk(tree(path)), path, module)


def _names(nodes: Iterable[ast.AST], path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def builds_a_family(path: Path) -> bool:
    """The module calls a family's `build(plan, outputs, spec)`, which imports the family's module by name."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "build"
        and node.args[:1]
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "plan"
        for node in ast.walk(tree(path))
    )


def family_modules() -> set[str]:
    from millrace.models.catalogue import FAMILIES

    return {family.builder.split(":")[0] for family in FAMILIES.values()}


def modules_used(entry: str, stop_at: Iterable[str] = (), skip_bare_packages: bool = True) -> set[Path]:
    """The project's source files `python -m <entry>` can run, as far as imports say; the search neither
    enters nor lists the modules in `stop_at`, nor (with skip_bare_packages) `__init__.py`s that hold only a
    docstring."""
    stop, found = set(stop_at), {}
    pending = [entry, f"{entry}.__main__"]  # `python -m` runs a package's __main__
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            module = ".".join(parts[:depth])
            path = source_file(module)
            if path is None or module in found or module in stop:
                continue
            if skip_bare_packages and path.name == "__init__.py" and only_a_docstring(path):
                continue
            found[module] = path
            pending.extend(imported_names(path, module))
            if builds_a_family(path):
                pending.extend(family_modules())
    return {path.relative_to(ROOT) for path in found.values()}
