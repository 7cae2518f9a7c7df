"""Data Docs that open offline: the scripts, styles and fonts GE's pages load from CDNs, served from the site.

Great Expectations' page templates load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and friends
from five CDNs, and GE's logo from GE's servers with the project's id attached. Those files are kept in
the GE project (`gx/plugins/custom_data_docs/vendor/`, with `assets.json` mapping each CDN address to its
file); after every Data Docs build, `make_offline` copies them into the site's `static/vendor/` and points
each page at them by a relative path (the logo at GE's own copy), so the pages work from disk, without a
network. `python -m millrace.quality.offline_docs` (`make docs-assets`) fetches the
files afresh from the npm registry at the versions the installed GE's templates ask for.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from functools import partial
from pathlib import Path

log = logging.getLogger(__name__)

VENDOR = Path("plugins/custom_data_docs/vendor")  # in the GE project folder (paths.gx)
ASSETS = "assets.json"
# The CDN files GE's templates name, as npm packages. Vega's three are unversioned majors in the templates;
# the versions are DVC's (.dvc/plots_template.html).
SOURCES = {  # CDN address: (npm package@version, the file in it, the folder it goes to in ours)
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        ("bootstrap@4.3.1", "dist/css/bootstrap.min.css", "bootstrap"),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        ("bootstrap@4.3.1", "dist/js/bootstrap.min.js", "bootstrap"),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        ("@forevolve/bootstrap-dark@1.1.0", "dist/css/bootstrap-prefers-dark.min.css", "bootstrap-dark"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        ("bootstrap-datepicker@1.9.0", "dist/css/bootstrap-datepicker.min.css", "bootstrap-datepicker"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        ("bootstrap-datepicker@1.9.0", "dist/js/bootstrap-datepicker.min.js", "bootstrap-datepicker"),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        ("@fortawesome/fontawesome-free@6.6.0", "css/all.min.css", "fontawesome/css"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        ("bootstrap-table@1.19.1", "dist/bootstrap-table.min.css", "bootstrap-table"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js":
        ("bootstrap-table@1.19.1", "dist/bootstrap-table.min.js", "bootstrap-table"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        ("bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
         "bootstrap-table"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        ("bootstrap-table@1.19.0", "dist/extensions/filter-control/bootstrap-table-filter-control.css",
         "bootstrap-table"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        ("bootstrap-table@1.19.0", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
         "bootstrap-table"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js":
        ("popper.js@1.12.9", "dist/umd/popper.min.js", "popper"),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery@3.7.1", "dist/jquery.min.js", "jquery"),
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega@5.20.2", "build/vega.min.js", "vega"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite@5.2.0", "build/vega-lite.min.js", "vega"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed@6.18.2", "build/vega-embed.min.js", "vega"),
}  # fmt: skip
FONTS = ("@fortawesome/fontawesome-free@6.6.0", "webfonts/", "fontawesome/webfonts")  # what all.min.css loads
LOCAL = "static/vendor"  # in the site
# GE's navigation bar loads its logo from here, tagged with the project's id; GE ships the same images itself.
GE_WEB_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
ADDRESS = re.compile(r"""((?:src|href)=["'])(https?://[^"']+)(["'])""")


def addresses_in_templates() -> set[str]:
    """The script and style addresses GE's installed templates load from the network."""
    import great_expectations

    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    found = set()
    for template in templates.glob("*.j2"):
        for _, url, _ in ADDRESS.findall(template.read_text(encoding="utf-8")):
            if re.search(r"\.(js|css)$|/npm/vega", url):
                found.add(url)
    return found


def make_offline(site: Path, gx_dir: Path) -> int:
    """Copy the vendored files into `site` and point its pages at them; the number of pages changed."""
    vendor = gx_dir / VENDOR
    if not (vendor / ASSETS).is_file():  # the pages still work online; a gate must not fail over its docs
        log.warning("Data Docs load their scripts from CDNs: %s is missing (`make docs-assets`)", vendor / ASSETS)
        return 0
    assets = json.loads((vendor / ASSETS).read_text())
    target = site / LOCAL
    marker = target / ASSETS  # the vendored files' list: copied again only when it changed
    if not marker.is_file() or marker.read_bytes() != (vendor / ASSETS).read_bytes():
        shutil.copytree(vendor, target, dirs_exist_ok=True)
    changed = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        offline = (
            ADDRESS.sub(partial(_local, page=page, site=site, assets=assets), text) if "https://" in text else text
        )
        if offline != text:
            page.write_text(offline, encoding="utf-8")
            changed += 1
    return changed


def _local(match: re.Match, page: Path, site: Path, assets: dict[str, str]) -> str:
    """The attribute with the address of the site's own copy, relative to the page; a plain link as it was."""
    url = match.group(2)
    if url.startswith(GE_WEB_ASSETS):
        path = site / "static" / "images" / url.removeprefix(GE_WEB_ASSETS).split("?")[0]
    elif url in assets:
        path = site / LOCAL / assets[url]
    else:  # a link a person may follow, not something the page loads
        return match.group(0)
    return match.group(1) + os.path.relpath(path, page.parent) + match.group(3)


def _npm_file(spec: str, member: str, scratch: Path) -> dict[str, bytes]:
    """Files of an npm package under `member` (a file, or a folder ending in /), by their path inside it."""
    name, version = spec.rsplit("@", 1)
    archive = scratch / f"{name.replace('@', '').replace('/', '-')}-{version}.tgz"
    if not archive.exists():
        subprocess.run(["npm", "pack", spec, "--silent"], cwd=scratch, check=True, capture_output=True)
    with tarfile.open(archive) as packed:
        found = {}
        for item in packed.getmembers():
            path = item.name.removeprefix("package/")
            if item.isfile() and (path.startswith(member) if member.endswith("/") else path == member):
                found[path] = packed.extractfile(item).read()
        return found


def main(gx_dir: str = "gx") -> None:
    wanted = addresses_in_templates()
    unknown = wanted - set(SOURCES)
    if unknown:
        sys.exit(f"GE's templates load {sorted(unknown)}: add them to SOURCES in {__file__}")
    vendor = Path(gx_dir) / VENDOR
    shutil.rmtree(vendor, ignore_errors=True)
    with tempfile.TemporaryDirectory() as scratch:
        for spec, member, folder in SOURCES.values():
            (data,) = _npm_file(spec, member, Path(scratch)).values()
            (vendor / folder).mkdir(parents=True, exist_ok=True)
            (vendor / folder / Path(member).name).write_bytes(data)
        spec, member, folder = FONTS
        (vendor / folder).mkdir(parents=True, exist_ok=True)
        for path, data in _npm_file(spec, member, Path(scratch)).items():
            if path.endswith(".woff2"):  # what browsers load first; the .ttf fallbacks are left out
                (vendor / folder / Path(path).name).write_bytes(data)
    names = {url: f"{folder}/{Path(member).name}" for url, (_, member, folder) in SOURCES.items()}
    (vendor / ASSETS).write_text(json.dumps(names, indent=1) + "\n")
    print(f"{vendor}: {len(SOURCES)} files and Font Awesome's fonts")


if __name__ == "__main__":
    main(*sys.argv[1:])
