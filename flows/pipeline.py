"""The pipeline as a Prefect flow: each DVC stage is a Prefect task, in dvc.yaml's order.

Each task runs `dvc repro --single-item <stage>` (flows/stage_task.py), so DVC still decides what
is up to date and Prefect shows per-stage state, duration and logs; stages that `dvc status` finds
up to date, and that no earlier stage of the run changed, are not handed to DVC at all. `overrides` are `dvc exp run
-S` overrides (`["train.lr=0.003"]`), applied to params.yaml by DVC's own code; every successful
run is then saved as a DVC experiment named after the Prefect run (`dvc exp save`), so `dvc exp
show` and `millrace compare` list it beside `dvc exp run`'s. The workspace is left as the run left
it, as `dvc exp run` does; a failed run puts params.yaml back as it was, and the run after a killed one
does it for that one.

One flow run at a time per workspace (flows/lock.py). Transient failures are retried with
backoff, nothing else is. A finished run publishes a markdown summary and the experiment table;
a failed one (a refused deployment included) can post to a webhook (flows/notify.py).
The flow holds no ML logic and re-declares no deps or outs: stage names come from dvc.yaml.
Run: `python -m flows.pipeline [--set train.lr=0.003] [--until select]` (an ephemeral Prefect
server unless PREFECT_API_URL is set).
"""

from __future__ import annotations

if __name__ == "__main__":  # run as a command: settings first, before Prefect is imported (flows/__init__.py)
    from flows import prepare_command

    prepare_command()

import argparse
import gc
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.context import SyncClientContext
from prefect.runtime import flow_run

from flows import artifacts, notify, run_by_hand
from flows.ephemeral import use_temporary_server
from flows.lock import ensure_free, workspace_lock
from flows.overrides import overridden, restore_after_killed_run
from flows.stage_task import recorded_outputs, run_stage, stage_options, stale_stages
from millrace.config.params import Flows, Params, load_params
from millrace.entry import skip_final_collection
from millrace.environment import QUIET_ENV
from millrace.ops.dvc import dvc_command


def stage_names(repo: Path) -> list[str]:
    """The stages in the order dvc.yaml declares them (which is the pipeline's order)."""
    return list(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])


def stages_to_run(root: Path, until: str | None) -> list[str]:
    names = stage_names(root)
    if until is None:
        return names
    if until not in names:
        raise ValueError(f"until={until!r}: not a stage of dvc.yaml ({', '.join(names)})")
    return names[: names.index(until) + 1]


def workspace_state(root: Path) -> tuple[bytes | None, ...]:
    """What an experiment records that a run can change: the params and, through dvc.lock, every output."""
    return tuple((root / name).read_bytes() if (root / name).exists() else None for name in ("params.yaml", "dvc.lock"))


def save_experiment(root: Path, name: str) -> None:
    result = subprocess.run(
        dvc_command("exp", "save", "--force", "--name", name),
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET_ENV},
    )
    if result.returncode != 0:
        raise RuntimeError(f"the run finished but `dvc exp save` failed: {result.stderr.strip()[-500:]}")


def run_stages(
    root: Path, names: list[str], settings: Flows, refresh_data: bool, logger: logging.LoggerAdapter
) -> None:
    """Each stage as a Prefect task, in order; a stage runs when `dvc status` found it stale, it is forced, or
    an earlier stage of this run changed its recorded outputs (DVC's status is read once, in this process,
    instead of a `dvc repro` process per up-to-date stage)."""
    stale, upstream_changed = stale_stages(root, logger), False
    # One Prefect client for all the tasks: each would otherwise make its own, and with it an SSL context from
    # certifi's bundle (~30 ms each), whatever the API's scheme.
    with SyncClientContext.get_or_create():
        for at, stage in enumerate(names):
            forced = refresh_data and stage == names[0]
            needed = stale is None or forced or upstream_changed or stage in stale
            # Whether the stage changes its outputs matters only to a later stage that would not run otherwise
            # (reading dvc.lock before and after: ~45 ms); once one has changed, every later stage runs.
            decides_a_later_stage = stale is not None and any(later not in stale for later in names[at + 1 :])
            check_outputs = needed and not upstream_changed and decides_a_later_stage
            before = recorded_outputs(root, stage) if check_outputs else None
            options = stage_options(stage, settings.retries, settings.retry_backoff_seconds)
            run_stage.with_options(**options)(
                stage,
                str(root),
                force=forced,
                timeout_seconds=settings.stage_timeout_seconds,
                up_to_date=not needed,
            )
            upstream_changed = upstream_changed or (check_outputs and recorded_outputs(root, stage) != before)


async def publish(root: Path, params: Params, experiment: str | None) -> None:
    markdown = artifacts.summary_markdown(root, params, experiment)
    await acreate_markdown_artifact(
        key="millrace-run", markdown=markdown, description="metrics, gates, delivery decision"
    )
    if experiment:
        rows = artifacts.experiment_rows(root)
        await acreate_table_artifact(key="millrace-experiments", table=rows, description="experiments, best first")


# Async only for what Prefect does around the run: at the end of a sync flow run Prefect waits for its
# heartbeat thread to wake from a one-second sleep (up to 1 s of every run); an async one it does not wait
# for. The body is the same blocking code, and the tasks run one at a time as in a sync flow.
@flow(name="millrace-pipeline", log_prints=True, on_failure=[notify.on_failure])
async def pipeline(
    repo: str = ".",
    overrides: list[str] | None = None,
    until: str | None = None,
    refresh_data: bool = False,
    save: bool = True,
) -> dict[str, Any]:
    """Run the stages in order (up to `until`), with `overrides` applied; save the run as an experiment.

    refresh_data: acquire runs even if DVC sees no change (a URL without sha256, a database).
    save: record a successful run that changed params.yaml or dvc.lock with `dvc exp save` (needs a git commit
    to hang it on); a run that changed nothing saves no new experiment.
    """
    logger = get_run_logger()
    root = Path(repo).resolve()
    names = stages_to_run(root, until)
    with workspace_lock(root, f"flow run {flow_run.get_name()!r}"):
        restored = restore_after_killed_run(root)
        if restored:
            logger.warning(restored)
        before = workspace_state(root)
        with overridden(root, overrides or []):
            if overrides:
                logger.info("params.yaml with %s", ", ".join(overrides))
            params = load_params(root / "params.yaml")  # with the overrides, as the run leaves it
            run_stages(root, names, params.flows, refresh_data, logger)
        experiment = None
        if save and until is None:
            if not (root / ".git").exists():
                logger.warning("not saved as a DVC experiment: %s is not a git repository", root)
            elif workspace_state(root) == before:
                logger.info("nothing changed (params.yaml and dvc.lock as they were): no new DVC experiment")
            else:
                experiment = flow_run.get_name()
                save_experiment(root, experiment)
                logger.info("saved as DVC experiment %r (dvc exp show, millrace compare)", experiment)
    await publish(root, params, experiment)
    return {"experiment": experiment, "stages": names, "evaluation": artifacts.evaluation(root, params)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.pipeline", description=__doc__)
    parser.add_argument("--set", "-S", dest="overrides", action="append", default=[], help="key=value (dvc exp run -S)")
    parser.add_argument("--until", help="stop after this stage")
    parser.add_argument("--refresh-data", action="store_true", help="run acquire even if DVC sees no change")
    parser.add_argument("--no-save", dest="save", action="store_false", help="do not save the run as a DVC experiment")
    args = parser.parse_args(argv)
    gc.freeze()  # what Prefect's import made lives to the end: the collector need not walk it during the run
    try:
        ensure_free(Path.cwd())  # say so before starting Prefect's server; the flow itself holds the lock
        use_temporary_server()  # unless PREFECT_API_URL is set
        run_by_hand(
            pipeline(overrides=args.overrides, until=args.until, refresh_data=args.refresh_data, save=args.save)
        )
    except Exception as exc:  # Prefect has logged it with its traceback; the shell gets the message
        sys.exit(f"error: {exc}")
    finally:
        skip_final_collection()  # the temporary server is still stopped, by an exit handler


if __name__ == "__main__":
    main()
