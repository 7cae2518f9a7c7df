"""The page `dvc plots show` writes, made to open offline: Vega, Vega-Lite and vega-embed inlined.

DVC's own page loads the three libraries from a CDN. `.dvc/config` names `.dvc/plots_template.html` as the
page template instead (`plots.html_template`); it has no `{scripts}` placeholder, so DVC adds no script tags,
and carries the libraries themselves, at the versions DVC's renderer asks for. Rebuilt with
`python -m millrace.ops.plots_template` (`make plots-template`), which fetches them from the npm registry;
tests/unit/ops/test_plots_template.py checks the template against the installed DVC.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TEMPLATE = Path(".dvc/plots_template.html")
LIBRARIES = {
    "vega": "build/vega.min.js",
    "vega-lite": "build/vega-lite.min.js",
    "vega-embed": "build/vega-embed.min.js",
}


def versions_dvc_asks_for() -> dict[str, str]:
    """The library versions in the script tags of DVC's own page (dvc_render)."""
    from dvc_render import vega

    source = Path(vega.__file__).read_text()
    return dict(re.findall(r"cdn\.jsdelivr\.net/npm/([\w-]+)@([\d.]+)", source))


def page(scripts: dict[str, tuple[str, str, str]]) -> str:
    """The template: each library's licence as a comment and its code inline, then DVC's placeholders."""
    parts = []
    for name, (version, licence, code) in scripts.items():
        parts.append(f"<!-- {name} {version}, from the npm registry:\n{licence.strip()}\n-->\n<script>{code}</script>")
    inline = "\n".join(parts)
    return f"""<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {{refresh_tag}}
    <title>millrace plots</title>
{inline}
    <style>
        table {{ border-spacing: 15px; }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def fetch(name: str, version: str, scratch: Path) -> tuple[str, str, str]:
    subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=scratch, check=True, capture_output=True)
    (archive,) = scratch.glob(f"{name}-{version}.tgz")
    with tarfile.open(archive) as packed:
        read = {
            member: packed.extractfile(f"package/{member}").read().decode() for member in (LIBRARIES[name], "LICENSE")
        }
    code = read[LIBRARIES[name]]
    if "</script" in code:
        raise SystemExit(f"{name} {version} holds '</script': it cannot be inlined as it is")
    return version, read["LICENSE"], code


def main() -> None:
    wanted = versions_dvc_asks_for()
    missing = set(LIBRARIES) - set(wanted)
    if missing:
        sys.exit(f"DVC's page no longer names {sorted(missing)}: look at dvc_render/vega.py")
    with tempfile.TemporaryDirectory() as scratch:
        scripts = {name: fetch(name, wanted[name], Path(scratch)) for name in LIBRARIES}
    TEMPLATE.write_text(page(scripts), encoding="utf-8")
    print(f"{TEMPLATE}: {', '.join(f'{n} {v}' for n, (v, _, _) in scripts.items())}")


if __name__ == "__main__":
    main()
