"""The `millrace` command: `millrace serve` starts the HTTP server,
`millrace predict INPUT OUTPUT` predicts a file in chunks, `millrace suggest-expectations`
writes a starting data contract (a GE suite) from a reference table, `millrace drift` compares
logged requests with the training data, `millrace releases` lists the deployed versions,
`millrace promote VERSION` and `millrace rollback` change the active one, `millrace compare` ranks
the experiments, `millrace sweep` runs params.yaml's sweep.grid as queued DVC experiments, and
`millrace summary` prints the results of the last run, and `millrace preset FILE` merges a preset for other
data into params.yaml.
"""

from __future__ import annotations

import argparse
import sys

from millrace.entry import run_stage
from millrace.errors import MillraceError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="millrace", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the deployed bundle over HTTP")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("summary", help="print gate results, test metrics and artefact paths")
    sub.add_parser("predict", help="batch prediction over a file (see millrace predict --help)", add_help=False)
    sub.add_parser("suggest-expectations", help="profile a table into a GE suite to edit and commit", add_help=False)
    sub.add_parser("preset", help="merge a preset (examples/*.yaml) into params.yaml", add_help=False)
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
        from millrace.serving import batch_predict

        run_stage(lambda: batch_predict.main(rest))
        return
    if args.command == "compare":
        from millrace.ops import compare

        run_stage(lambda: compare.main(rest))
        return
    if args.command == "sweep":
        from millrace.ops import sweep

        run_stage(lambda: sweep.main(rest))
        return
    if args.command == "drift":
        from millrace.ops import drift

        run_stage(lambda: sys.exit(drift.main(rest)))
        return
    if args.command == "preset":
        from millrace.config import presets

        run_stage(lambda: presets.main(rest))
        return
    if args.command == "suggest-expectations":
        from millrace.quality import contract_suggestion

        run_stage(lambda: contract_suggestion.main(rest))
        return
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command in ("releases", "promote", "rollback"):
        run_stage(lambda: _releases(args))
        return
    if args.command == "serve":
        from millrace.serving import app as serve_stage

        run_stage(lambda: serve_stage.main(host=args.host, port=args.port))
    else:
        from millrace.ops import summary

        run_stage(summary.main)


def _releases(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from millrace.config.params import load_params
    from millrace.release import registry

    root = load_params().paths.releases
    console = Console()
    if args.command == "promote":
        previous = registry.promote(root, args.version, "millrace promote")
        console.print(f"active release: {args.version} (was {previous})")
    elif args.command == "rollback":
        console.print(f"rolled back: the active release is {registry.rollback(root)} again")
    rows = registry.listing(root)
    if not rows:
        raise MillraceError(f"no releases in {root} yet; `dvc repro` deploys the first")
    table = Table(title=f"releases in {root}", min_width=100)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*("●" if v is True else "" if v is False else str(v) for v in row.values()))
    console.print(table)
