"""The `millrace` command: `millrace serve` starts the HTTP server,
`millrace predict INPUT OUTPUT` predicts a file in chunks, `millrace suggest-expectations`
writes a starting data contract (a GE suite) from a reference table, `millrace drift` compares
logged requests with the training data, `millrace releases` lists each model's deployed versions
(`millrace releases show VERSION` prints one's lineage), `millrace promote VERSION` and `millrace rollback`
change a model's active one, `millrace compare` ranks
the experiments, `millrace sweep` runs params.yaml's sweep.grid as queued DVC experiments, and
`millrace summary` prints the results of the last run, and `millrace preset FILE` merges a preset for other
data into params.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    releases = sub.add_parser("releases", help="list each model's releases (active marked); `show VERSION`: lineage")
    releases.add_argument("show", nargs="?", choices=["show"], help="print one release's lineage")
    releases.add_argument("version", nargs="?")
    sub.add_parser("compare", help="experiments best first, curves against the baseline", add_help=False)
    sub.add_parser("sweep", help="sweep.grid as queued DVC experiments, then compare them", add_help=False)
    sub.add_parser(
        "drift", help="compare logged requests with the training data (see millrace drift --help)", add_help=False
    )
    promote = sub.add_parser("promote", help="make a release the active one (a running server reloads it)")
    promote.add_argument("version")
    rollback = sub.add_parser("rollback", help="make a model's previously active release active again")
    rollback.add_argument("--model", help="the model (default: the one params.yaml names)")
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
    from millrace.release import naming, registry

    params = load_params()
    root = Path(params.paths.releases)
    console = Console()
    adopted = registry.adopt_flat_layout(root, naming.of_manifest)
    if adopted:
        console.print(f"releases kept before named models were moved to {root / adopted}/")
    if args.command == "promote":
        model, previous = _promote(params, args.version)
        console.print(f"active release of {model}: {args.version} (was {previous})")
    elif args.command == "rollback":
        model = args.model or naming.model_name(params)
        console.print(f"rolled back: the active release of {model} is {registry.rollback(root / model)} again")
    elif args.show:
        console.print(_lineage(root, args.version), markup=False, highlight=False)
        return
    names = registry.models(root)
    if not names:
        raise MillraceError(f"no releases in {root} yet; `dvc repro` deploys the first")
    for name in names:
        rows = registry.listing(root / name)
        table = Table(title=f"model {name} ({root / name})", min_width=100)
        for column in rows[0] if rows else ["version"]:
            table.add_column(column)
        for row in rows:
            table.add_row(*("●" if v is True else "" if v is False else str(v) for v in row.values()))
        console.print(table)


def _promote(params, version: str) -> tuple[str, str | None]:
    """Promote a release of whichever model holds it; the bundle in `<paths.deploy>/`, if it is that version and
    was never registered (an experiment's, restored by DVC), is registered first."""
    from millrace.files import read_json
    from millrace.release import lineage, naming, registry

    root = Path(params.paths.releases)
    model = registry.owner(root, version)
    deployed = Path(params.paths.deploy) / "manifest.json"
    if model is None and deployed.is_file() and read_json(deployed)["version"] == version:
        model = naming.of_manifest(read_json(deployed))
        lineage.register(params, root / model, "millrace promote")
    if model is None:
        known = {name: registry.versions(root / name) for name in registry.models(root)}
        raise MillraceError(f"no release {version!r} in {root}; releases: {known or 'none'}")
    return model, registry.promote(root / model, version, "millrace promote")


def _lineage(root: Path, version: str | None) -> str:
    import textwrap

    import yaml

    from millrace.files import read_json
    from millrace.release import lineage, registry

    if version is None:
        raise MillraceError("`millrace releases show` needs a VERSION (see `millrace releases`)")
    model = registry.owner(root, version)
    if model is None:
        raise MillraceError(f"no release {version!r} in {root}; `millrace releases` lists them")
    manifest = read_json(root / model / version / "manifest.json")
    active = registry.active(root / model) == version
    head = f"release {version} of model {model}{' (active)' if active else ''}: {root / model / version}"
    params = yaml.safe_dump(manifest.get("params") or {}, default_flow_style=None, sort_keys=False, width=116)
    return "\n".join([head, *lineage.lines(manifest), "- Params it was made with:", textwrap.indent(params, "    ")])
