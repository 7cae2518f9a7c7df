"""Releases: a second model registered beside the first, promoted while the real server is under load
(no request fails, the server switches), rolled back; a challenger worse than the champion refused."""

import json
import shutil
import threading
import time

import httpx
import pytest

from millrace.release import registry
from tests.e2e.test_serve import PENGUIN, start
from tests.helpers.harness import RELEASES, set_param, sh

pytestmark = pytest.mark.slow


def ready_version(url: str) -> str | None:
    reply = httpx.get(f"{url}/ready", timeout=5)
    return reply.json().get("version") if reply.status_code == 200 else None


def test_a_promoted_release_is_served_without_dropping_a_request_and_rolls_back(workspace):
    root = workspace / RELEASES
    first = registry.active(root)
    assert first and (root / first / "MODEL_CARD.md").read_text().startswith("# Model card: tabular_mlp")
    # A second model, registered but not made active: promotion is a person's decision here.
    set_param(workspace, r"^  promote: auto.*$", "  promote: manual")
    set_param(workspace, r"^  max_epochs: .*$", "  max_epochs: 3")
    set_param(workspace, r"^  champion_tolerance: .*$", "  champion_tolerance: 1.0")
    set_param(workspace, r"^    accuracy: 0.9 .*$", "    accuracy: 0.3")
    set_param(workspace, r"^    f1_macro: 0.85$", "    f1_macro: 0.1")
    sh(workspace, "dvc", "repro")
    second = registry.versions(root)[-1]
    assert second != first and registry.active(root) == first
    deploy = json.loads((workspace / "reports/deploy.json").read_text())
    assert (
        deploy["release"] == {"model": "penguins-species", "version": second, "active": False}
        and deploy["champion"]["version"] == first
    )

    process, url = start(workspace)
    try:
        assert ready_version(url) == first
        statuses, served, stop = [], set(), threading.Event()

        def hammer() -> None:
            with httpx.Client(timeout=10) as client:
                while not stop.is_set():
                    reply = client.post(f"{url}/predict", json={"records": [PENGUIN]})
                    statuses.append(reply.status_code)
                    served.add(reply.json().get("model_version"))

        clients = [threading.Thread(target=hammer) for _ in range(4)]
        for client in clients:
            client.start()
        time.sleep(0.5)
        assert "active release of penguins-species: " + second in sh(workspace, "millrace", "promote", second).stdout
        deadline = time.monotonic() + 15
        while ready_version(url) != second and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        stop.set()
        for client in clients:
            client.join()
        assert ready_version(url) == second
        assert statuses and set(statuses) == {200} and served == {first, second}

        assert (
            f"the active release of penguins-species is {first} again" in sh(workspace, "millrace", "rollback").stdout
        )
        deadline = time.monotonic() + 15
        while ready_version(url) != first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready_version(url) == first

        # A damaged release: `millrace promote` refuses it, naming the file; made active behind its back (the
        # pointer edited by hand, the disk damaged after promotion), the server refuses it and keeps serving.
        broken = root / "20991231T000000Z-broken0"
        shutil.copytree(root / second, broken)
        manifest = json.loads((broken / "manifest.json").read_text()) | {"version": broken.name}
        (broken / "manifest.json").write_text(json.dumps(manifest))
        (broken / "model.onnx").write_bytes(b"not an onnx graph")
        refused = sh(workspace, "millrace", "promote", broken.name, check=False)
        assert refused.returncode == 1 and "damaged: model.onnx differs from the manifest" in refused.stderr
        assert registry.active(root) == first
        said = process.output
        (root / "ACTIVE").write_text(broken.name + "\n")
        deadline = time.monotonic() + 15
        while not any("release not reloaded" in line for line in said) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert any(f"{broken.name}" in line and "still serving the previous one" in line for line in said), said
        assert any("model.onnx differs from the manifest" in line for line in said), said
        assert ready_version(url) == first
        assert httpx.post(f"{url}/predict", json={"records": [PENGUIN]}, timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    moves = [(h["from"], h["to"]) for h in registry.history(root)]
    assert moves[-2:] == [(first, second), (second, first)]  # the refused promotion is not in the history


def test_a_challenger_worse_than_the_champion_is_refused(workspace):
    metrics = workspace / "reports/evaluate/metrics.json"
    evaluation = json.loads(metrics.read_text())
    champion = evaluation["validation"]["accuracy"]  # the same model: its validation score is the champion's
    evaluation["validation"]["accuracy"] = champion - 0.05  # as if the retrained model were this much worse
    metrics.write_text(json.dumps(evaluation))
    before = registry.listing(workspace / RELEASES)
    result = sh(workspace, "python", "-m", "stages.deploy", check=False)
    assert result.returncode == 1
    assert "worse than the active release" in result.stderr and f"{champion:.4f}" in result.stderr
    assert "on the same validation split" in result.stderr
    assert "deploy.champion_tolerance (0.02)" in result.stderr
    assert registry.listing(workspace / RELEASES) == before
