"""Every params.yaml key a stage reads is one of its params deps in dvc.yaml.

A key a stage reads but does not list can change its outputs while `dvc repro` says "up to date".
Each stage's `main()` runs in-process in a copy of the finished workspace with every read of the
params recorded (tests/helpers/params_reads.py). The default pipeline's code paths here; the text and image
presets are checked the same way in tests/e2e/test_examples.py.
"""

import pytest

from tests.helpers.params_reads import not_listed, stage_reads, unlisted

pytestmark = pytest.mark.slow


def test_a_key_is_covered_by_itself_or_a_section_above_it_only():
    listed = ["data.image", "train", "seed"]
    reads = ["train.lr", "data.image.size", "data.imageset", "seed", "seeds", "paths.train", "data.target"]
    assert unlisted(reads, listed) == ["data.imageset", "seeds", "data.target"]


def test_every_param_a_stage_reads_is_one_of_its_params_deps(workspace):
    reads = stage_reads(workspace)
    # The recorder sees reads in a stage, in the helpers it calls, and through a whole-section dump.
    assert "train.lr" in reads["train"] and "clean.outliers.method" in reads["clean"]
    assert "evaluate.thresholds" in reads["evaluate"] and "train.lr" in reads["deploy"]  # the manifest
    missing = not_listed(workspace, reads)
    assert missing == {name: [] for name in reads}, f"read but not params deps in dvc.yaml: {missing}"

    dvc_yaml = workspace / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("      - seed\n      - evaluate\n", "      - evaluate\n"))
    assert not_listed(workspace, reads)["evaluate"] == ["seed"]
