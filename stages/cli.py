"""The thin edge every stage shares: run `main()`, turn a user's mistake into one clear message.

`millrace` is also the project's command: `millrace serve` starts the HTTP server,
`millrace predict INPUT OUTPUT` predicts a file in chunks, and `millrace summary` prints the
results of the last run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from stages.errors import MillraceError


def run_stage(main: Callable[[], object]) -> None:
    """Call a stage's `main()`; a MillraceError exits 1 with its message and no traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("stages").setLevel(logging.INFO)
    try:
        main()
    except MillraceError as exc:
        from rich.console import Console

        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        sys.exit(1)


def stage_main(main: Callable[[], object], doc: str | None) -> None:
    """`python -m stages.<name>`: `--help` says what the stage reads and writes; no other arguments."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    prog = f"python -m {spec.name.removesuffix('.__main__')}" if spec else None
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=formatter, epilog="Settings: params.yaml"
    )
    parser.parse_args()
    run_stage(main)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="millrace", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the deployed bundle over HTTP")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("summary", help="print gate results, test metrics and artefact paths")
    sub.add_parser("predict", help="batch prediction over a file (see millrace predict --help)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "predict":
        from stages import predict

        run_stage(lambda: predict.main(rest))
        return
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "serve":
        from stages import serve as serve_stage

        run_stage(lambda: serve_stage.main(host=args.host, port=args.port))
    else:
        from stages import summary

        run_stage(summary.main)
