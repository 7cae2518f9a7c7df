"""Cheap checks on the source: no unsafe loading anywhere in product code, no credentials."""

import re
import subprocess

import pytest

from tests.conftest import ROOT

UNSAFE = {
    r"yaml\.load\(": "use yaml.safe_load",
    r"yaml\.unsafe_load|yaml\.full_load": "use yaml.safe_load",
    r"pickle\.loads?\(": "never unpickle data a user might bring",
    r"weights_only\s*=\s*False": "torch.load must use weights_only=True",
    r"\.extractall\(": "archives go through a path-filtering extractor",
}


def tracked(*patterns: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("pattern", list(UNSAFE))
def test_no_unsafe_loading_in_product_code(pattern):
    hits = [
        f"{name}:{number}: {line.strip()}"
        for name in tracked("stages/*.py", "stages/**/*.py", "flows/*.py", "bench/*.py")
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not hits, f"{UNSAFE[pattern]}:\n" + "\n".join(hits)


def test_every_torch_load_is_weights_only():
    for name in tracked("stages/*.py", "stages/**/*.py", "flows/*.py"):
        for call in re.findall(r"torch\.load\([^)]*\)", (ROOT / name).read_text()):
            assert "weights_only=True" in call, f"{name}: {call}"


def test_no_credentials_in_tracked_config():
    secret = re.compile(r"(password|passwd|secret|api[_-]?key|token)\s*[:=]\s*['\"]?[A-Za-z0-9/+_\-]{8,}", re.I)
    for name in tracked("*.yaml", "*.yml", "*.toml", "*.cfg", "*.ini", ".dvc/config", "*.json"):
        lines = (ROOT / name).read_text(errors="replace").splitlines()
        if not name.endswith(".json"):
            lines = [line.split("#", 1)[0] for line in lines]  # comments may name variables, not hold values
        hits = [line for line in lines if secret.search(line)]
        assert not hits, f"{name} looks like it holds a credential: {hits}"
