"""`python -m stages.train`: read params and inputs, train, and swap the outputs in atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import stages.train
from stages.cli import stage_main
from stages.io import atomic_dir, read_json
from stages.params import load_params


def ddp_worker() -> bool:
    """This process is a DDP rank other than 0, started by Lightning's launcher (or torchrun, SLURM)."""
    ranks = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
    return any(int(os.environ.get(name) or 0) != 0 for name in ranks)


def main() -> None:
    from stages.train import run

    params = load_params()
    selection = read_json(params.paths.selection)
    if ddp_worker():  # it trains its share of each batch; only rank 0 writes the outputs
        with tempfile.TemporaryDirectory(prefix="millrace-rank-") as scratch:
            run(Path(params.paths.label), selection, params, Path(scratch) / "model", Path(scratch) / "live")
        return
    with (
        atomic_dir(params.paths.train) as out,
        atomic_dir(Path(params.paths.reports) / "train") as live_dir,
    ):
        run(Path(params.paths.label), selection, params, out, live_dir)


if __name__ == "__main__":
    stage_main(main, stages.train.__doc__)
