"""The webhook tells a refused deployment apart from a failed run."""

from __future__ import annotations

from types import SimpleNamespace

from flows import notify


def test_the_webhook_names_a_refused_deployment_apart_from_a_failure(tmp_path, monkeypatch):
    run = SimpleNamespace(name="nightly-otter", id="5d0c")
    refused = notify.payload("millrace-retrain", run, "stage 'deploy' failed: refusing to deploy: worse", tmp_path)
    failed = notify.payload("millrace-pipeline", run, "stage 'label' failed: gate 'labels' failed", tmp_path)
    assert refused["event"] == "deployment_refused" and "refused to deploy the model" in refused["text"]
    assert failed["event"] == "run_failed" and failed["flow_run"] == "nightly-otter"
    data = "data: {source: {kind: builtin, name: penguins}, target: species}\n"
    (tmp_path / "params.yaml").write_text(data + "flows:\n  webhook_env: MILLRACE_TEST_HOOK\n")
    monkeypatch.delenv("MILLRACE_TEST_HOOK", raising=False)
    assert notify.webhook_url(tmp_path) is None
    monkeypatch.setenv("MILLRACE_TEST_HOOK", "http://127.0.0.1:9/hook")
    assert notify.webhook_url(tmp_path) == "http://127.0.0.1:9/hook"
