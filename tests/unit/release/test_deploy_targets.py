"""The cloud target's image holds exactly the library modules the server imports."""

from millrace.release.deploy_targets import SERVING_MODULES
from tests.helpers.imports import ROOT, modules_used


def test_the_image_copies_every_module_the_server_imports_and_no_other():
    used = modules_used("millrace.serving.app", skip_bare_packages=False)
    assert {str(path) for path in used} == set(SERVING_MODULES)
    assert all((ROOT / path).is_file() for path in SERVING_MODULES)
    assert not any(path.startswith(("stages/", "flows/")) for path in SERVING_MODULES)
