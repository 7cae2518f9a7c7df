"""Every params.yaml key a stage reads is one of its params deps in dvc.yaml.

A key a stage reads but does not list can change its outputs while `dvc repro` says "up to date".
Each stage's `main()` runs in-process in a copy of the finished workspace with every read of the
params recorded (tests/params_reads.py). `paths.*` are not params deps: dvc.yaml interpolates them
into the stages' deps and outs. The default pipeline's code paths only: a key read only for images
or text is not seen here.
"""

import json
import sys

import pytest
import yaml

from tests.harness import sh

pytestmark = pytest.mark.slow

STAGES = ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"]


def unlisted(reads: list[str], listed: list[str]) -> list[str]:
    """The keys read that no listed param (a key, or a section above it) covers."""
    covered = lambda key: any(key == param or key.startswith(f"{param}.") for param in listed)  # noqa: E731
    return [key for key in reads if not key.startswith("paths.") and not covered(key)]


def test_a_key_is_covered_by_itself_or_a_section_above_it_only():
    listed = ["data.image", "train", "seed"]
    reads = ["train.lr", "data.image.size", "data.imageset", "seed", "seeds", "paths.train", "data.target"]
    assert unlisted(reads, listed) == ["data.imageset", "seeds", "data.target"]


def test_every_param_a_stage_reads_is_one_of_its_params_deps(workspace):
    ran = sh(workspace, sys.executable, "-m", "tests.params_reads", ",".join(STAGES))
    reads = json.loads(ran.stdout.strip().splitlines()[-1])
    stages = yaml.safe_load((workspace / "dvc.yaml").read_text())["stages"]
    # The recorder sees what it should: a read in the stage, in a helper, and through a whole-section dump.
    assert "train.lr" in reads["train"] and "clean.outliers.method" in reads["clean"]
    assert "evaluate.thresholds" in reads["evaluate"] and "deploy.variants" in reads["deploy"]
    missing = {name: unlisted(reads[name], stages[name].get("params", [])) for name in STAGES}
    assert missing == {name: [] for name in STAGES}, f"read but not params deps in dvc.yaml: {missing}"
