"""One answer to "which bundle is used": serve, predict, drift and the summary all ask `served.resolve`."""

import json
import shutil

import pytest

from millrace.errors import MillraceError
from millrace.files import sha256
from millrace.release import registry, served
from tests.helpers.params import parse


def deployed(tmp_path, weights: str, model: str = "penguins-species"):
    """Write a bundle into the deploy folder, as the deploy stage would."""
    folder = tmp_path / "deploy"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "model.onnx").write_bytes(weights.encode())
    version = f"{weights[:8]}-v"
    manifest = {"version": version, "model_name": model, "weights_sha256": weights}
    manifest["files"] = {"model.onnx": sha256(folder / "model.onnx")}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return version


@pytest.fixture
def params(tmp_path):
    return parse({"paths": {"deploy": str(tmp_path / "deploy"), "releases": str(tmp_path / "releases")}})


def test_nothing_deployed_is_said(params):
    with pytest.raises(MillraceError, match="nothing to serve: model penguins-species has no active release"):
        served.resolve(params)


def test_a_bundle_never_registered_is_served_from_the_deploy_folder_and_said(tmp_path, params):
    version = deployed(tmp_path, "a" * 64)
    used = served.resolve(params)
    assert used.directory == tmp_path / "deploy" and used.version == version and used.note is None
    assert "never registered" in used.why and f"millrace promote {version}" in used.why


def test_the_active_release_of_this_model_is_served_and_another_models_never(tmp_path, params):
    releases = tmp_path / "releases"
    other = deployed(tmp_path, "c" * 64, model="wine-class")
    registry.promote(releases / "wine-class", registry.register(tmp_path / "deploy", releases / "wine-class"), "x")
    version = deployed(tmp_path, "a" * 64)
    assert served.resolve(params).directory == tmp_path / "deploy"  # wine's release is not this model's
    registry.promote(
        releases / "penguins-species", registry.register(tmp_path / "deploy", releases / "penguins-species"), "x"
    )
    used = served.resolve(params)
    assert (used.directory, used.model, used.version, used.note) == (
        releases / "penguins-species" / version,
        "penguins-species",
        version,
        None,
    )
    assert registry.active(releases / "wine-class") == other


def test_a_deploy_folder_that_differs_from_the_active_release_is_explained(tmp_path, params):
    home = tmp_path / "releases/penguins-species"
    first = deployed(tmp_path, "a" * 64)
    registry.promote(home, registry.register(tmp_path / "deploy", home), "deploy")
    second = deployed(tmp_path, "b" * 64)
    registry.promote(home, registry.register(tmp_path / "deploy", home), "deploy")
    registry.rollback(home)
    used = served.resolve(params)
    assert used.version == first and used.directory == home / first
    assert f"holds {second}, a release of penguins-species that is not active" in used.note
    assert f"rollback from {second}" in used.note and f"millrace promote {second}" in used.note
    restored = deployed(tmp_path, "d" * 64)  # as `dvc exp apply` restores a bundle deploy never registered
    note = served.resolve(params).note
    assert f"holds {restored}, which was never registered" in note and "dvc exp apply" in note
    assert served.resolve(params).describe().startswith(f"model penguins-species, version {first}: the active release")


def test_a_bundle_of_another_model_than_params_names_is_said_to_be_so(tmp_path, params):
    home = tmp_path / "releases/penguins-species"
    ours = deployed(tmp_path, "a" * 64)
    registry.promote(home, registry.register(tmp_path / "deploy", home), "deploy")
    deployed(tmp_path, "e" * 64, model="wine-class")  # params.yaml edited back to penguins, repro not run yet
    used = served.resolve(params)
    assert used.version == ours and "holds version eeeeeeee-v of model wine-class, not of penguins-species" in used.note
    shutil.rmtree(home)
    used = served.resolve(params)
    assert used.model == "wine-class" and used.directory == tmp_path / "deploy"
    assert "params.yaml names model penguins-species" in used.why and "`dvc repro` deploys that" in used.why
