"""The thin edge every stage shares: run `main()`, turn a user's mistake into one clear message.

`millrace` is also the project's command: `millrace serve` starts the HTTP server,
`millrace predict INPUT OUTPUT` predicts a file in chunks, `millrace suggest-expectations`
writes a starting data contract (a GE suite) from a reference table, `millrace drift` compares
logged requests with the training data, `millrace releases` lists the deployed versions,
`millrace promote VERSION` and `millrace rollback` change the active one, `millrace compare` ranks
the experiments, `millrace sweep` runs params.yaml's sweep.grid as queued DVC experiments, and
`millrace summary` prints the results of the last run.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import os
import sys
from collections.abc import Callable

from stages.errors import TRANSIENT_EXIT, MillraceError
from stages.memory import return_freed_memory

FULL_DISK = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def _disk_full(exc: OSError) -> bool:
    """The disk (or a quota, or `ulimit -f`) ran out; pyarrow reports it only in the message."""
    return exc.errno in FULL_DISK or any(os.strerror(code) in str(exc) for code in FULL_DISK)


def _fail(message: str, status: int = 1) -> None:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    sys.exit(status)


def skip_final_collection() -> None:
    """Let the interpreter exit without its last garbage collection, which walks every object the process
    made: 1.1 s at the exit of a cold train, 0.7 s of a cold evaluate (torch, Lightning, GE), 0.2 s of a
    flow. Nothing waits on it: exit handlers still run (Prefect sends its last logs) and modules are still
    torn down. A stage forked by the warm worker ends with `os._exit` and never ran it either."""
    gc.freeze()


def run_stage(main: Callable[[], object]) -> None:
    """Call a stage's `main()`; a user's mistake or a full disk exits 1 with a message and no traceback.

    A transient failure (the network) exits TRANSIENT_EXIT, which the Prefect flows retry."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("stages").setLevel(logging.INFO)
    try:
        main()
    except MillraceError as exc:
        _fail(str(exc), TRANSIENT_EXIT if exc.transient else 1)
    except OSError as exc:
        if not _disk_full(exc):
            raise
        where = f" writing {exc.filename}" if exc.filename else ""
        reason = exc.strerror or str(exc)
        _fail(f"out of disk space{where} ({reason}); outputs are written atomically: the previous ones are intact")
    finally:
        skip_final_collection()


def stage_main(main: Callable[[], object], doc: str | None, *, release_freed_memory: bool = False) -> None:
    """`python -m stages.<name>`: `--help` says what the stage reads and writes; no other arguments.

    `release_freed_memory`: blocks the stage frees go back to the system at once (stages/memory.py)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    prog = f"python -m {spec.name.removesuffix('.__main__')}" if spec else None
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=formatter, epilog="Settings: params.yaml"
    )
    parser.parse_args()
    if release_freed_memory:
        return_freed_memory()
    run_stage(main)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="millrace", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the deployed bundle over HTTP")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("summary", help="print gate results, test metrics and artefact paths")
    sub.add_parser("predict", help="batch prediction over a file (see millrace predict --help)", add_help=False)
    sub.add_parser("suggest-expectations", help="profile a table into a GE suite to edit and commit", add_help=False)
    sub.add_parser("releases", help="list the deployed versions; the active one is marked")
    sub.add_parser("compare", help="experiments best first, curves against the baseline", add_help=False)
    sub.add_parser("sweep", help="sweep.grid as queued DVC experiments, then compare them", add_help=False)
    sub.add_parser(
        "drift", help="compare logged requests with the training data (see millrace drift --help)", add_help=False
    )
    promote = sub.add_parser("promote", help="make a release the active one (a running server reloads it)")
    promote.add_argument("version")
    sub.add_parser("rollback", help="make the previously active release active again")
    args, rest = parser.parse_known_args(argv)
    if args.command == "predict":
        from stages import predict

        run_stage(lambda: predict.main(rest))
        return
    if args.command == "compare":
        from stages import compare

        run_stage(lambda: compare.main(rest))
        return
    if args.command == "sweep":
        from stages import sweep

        run_stage(lambda: sweep.main(rest))
        return
    if args.command == "drift":
        from stages import drift

        run_stage(lambda: sys.exit(drift.main(rest)))
        return
    if args.command == "suggest-expectations":
        from stages import suggest

        run_stage(lambda: suggest.main(rest))
        return
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command in ("releases", "promote", "rollback"):
        run_stage(lambda: _releases(args))
        return
    if args.command == "serve":
        from stages import serve as serve_stage

        run_stage(lambda: serve_stage.main(host=args.host, port=args.port))
    else:
        from stages import summary

        run_stage(summary.main)


def _releases(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from stages import releases
    from stages.params import load_params

    root = load_params().paths.releases
    console = Console()
    if args.command == "promote":
        previous = releases.promote(root, args.version, "millrace promote")
        console.print(f"active release: {args.version} (was {previous})")
    elif args.command == "rollback":
        console.print(f"rolled back: the active release is {releases.rollback(root)} again")
    rows = releases.listing(root)
    if not rows:
        raise MillraceError(f"no releases in {root} yet; `dvc repro` deploys the first")
    table = Table(title=f"releases in {root}", min_width=100)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*("●" if v is True else "" if v is False else str(v) for v in row.values()))
    console.print(table)
