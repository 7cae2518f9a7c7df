"""`python -m stages.train`: read params and inputs, train, and swap the outputs in atomically."""

from __future__ import annotations

from pathlib import Path

import stages.train
from stages.cli import stage_main
from stages.io import atomic_dir, read_json
from stages.params import load_params


def main() -> None:
    from stages.train import run

    params = load_params()
    selection = read_json(params.paths.selection)
    with (
        atomic_dir(params.paths.train) as out,
        atomic_dir(Path(params.paths.reports) / "train") as live_dir,
    ):
        run(Path(params.paths.label), selection, params, out, live_dir)


if __name__ == "__main__":
    stage_main(main, stages.train.__doc__)
