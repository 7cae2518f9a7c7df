"""Named models in the registry, end to end: a model for another dataset gets releases of its own and never
replaces the first's active version; after the first's outputs are restored from DVC's cache (`git checkout`,
`dvc checkout`: the stages do not run), `millrace serve`, `millrace predict` and the summary name the same
version; a restored bundle that was never registered is said to be so, and `millrace promote` registers it
with its lineage."""

import json
import shutil
import subprocess
import time

import httpx
import pandas as pd
import pytest

from millrace.release import registry
from tests.e2e.test_serve import PENGUIN, start
from tests.helpers.harness import RELEASES, sh, tool_env

pytestmark = pytest.mark.slow


def wide(repo, *args: str) -> str:
    """A command's output with rich's tables wide enough not to wrap."""
    env = tool_env(repo) | {"COLUMNS": "400"}
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=True)
    return done.stdout + done.stderr


def served(repo) -> tuple[str, str, str]:
    """What the real server says at start, and the version and model `/ready` and `/metadata` report."""
    process, url = start(repo)
    try:
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/ready", timeout=5).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        version = httpx.get(f"{url}/ready", timeout=5).json()["version"]
        return "".join(process.output), version, httpx.get(f"{url}/metadata", timeout=5).json()["model_name"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_two_models_side_by_side_and_serve_predict_summary_agree_after_a_restore(workspace, tmp_path):
    home = workspace / RELEASES
    penguins = registry.active(home)

    sh(workspace, "millrace", "preset", "examples/iris.yaml")
    sh(workspace, "dvc", "repro")
    iris_home = workspace / "models/releases/iris-target"
    iris = registry.active(iris_home)
    assert iris and iris != penguins and registry.active(home) == penguins  # not replaced by another target
    assert registry.models(workspace / "models/releases") == ["iris-target", "penguins-species"]
    listed = wide(workspace, "millrace", "releases")
    assert "model iris-target" in listed and "model penguins-species" in listed

    sh(workspace, "git", "checkout", "--", ".")  # params.yaml, dvc.lock and the reports of the penguins run
    sh(workspace, "dvc", "checkout")  # its data, model and bundle, from DVC's cache
    assert "up to date" in sh(workspace, "dvc", "status").stdout  # nothing to run: restored, not rebuilt
    deployed = json.loads((workspace / "models/deploy/manifest.json").read_text())["version"]
    assert deployed == penguins

    summary = wide(workspace, "millrace", "summary")
    assert f"model penguins-species, version {penguins}: the active release" in summary
    pd.DataFrame([PENGUIN]).to_csv(tmp_path / "one.csv", index=False)
    predicted = wide(workspace, "millrace", "predict", str(tmp_path / "one.csv"), str(tmp_path / "out.csv"))
    assert f"predicting with model penguins-species, version {penguins}: the active release" in predicted
    said, version, model = served(workspace)
    assert (version, model) == (penguins, "penguins-species")
    assert f"serving model penguins-species, version {penguins}: the active release" in said

    # As when a restore brings back a bundle no deploy registered (`dvc exp apply`): said, then registered.
    shutil.rmtree(home)
    summary = wide(workspace, "millrace", "summary")
    assert f"version {penguins}: models/deploy: model penguins-species has no release yet" in summary
    assert "never registered" in summary and f"millrace promote {penguins}" in summary
    promoted = wide(workspace, "millrace", "promote", penguins)
    assert f"active release of penguins-species: {penguins} (was None)" in promoted
    assert registry.active(home) == penguins and registry.active(iris_home) == iris
    shown = wide(workspace, "millrace", "releases", "show", penguins)
    commit = sh(workspace, "git", "rev-parse", "HEAD").stdout.strip()
    assert f"release {penguins} of model penguins-species (active)" in shown
    assert "by millrace promote" in shown and f"Code: `{commit}`" in shown
    assert "- Params it was made with:" in shown and "target: species" in shown
    lock = [line for line in (workspace / "dvc.lock").read_text().splitlines() if "md5:" in line]
    label_md5 = json.loads((home / penguins / "manifest.json").read_text())["lineage"]["data"]["data/label"]
    assert any(label_md5 in line for line in lock) and f"data/label `{label_md5}`" in shown
    assert "## Lineage" in (home / penguins / "MODEL_CARD.md").read_text()
