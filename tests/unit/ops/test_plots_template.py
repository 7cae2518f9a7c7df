"""The plots page opens offline: DVC is told to use the template, which loads nothing from the network."""

import configparser
import re

from dvc_render.html import HTML

from millrace.ops.plots_template import LIBRARIES, TEMPLATE, versions_dvc_asks_for
from tests.conftest import ROOT


def test_dvc_uses_the_template_and_it_carries_the_libraries_dvc_asks_for():
    config = configparser.ConfigParser()
    config.read(ROOT / ".dvc" / "config")
    assert (ROOT / ".dvc" / config["plots"]["html_template"]) == ROOT / TEMPLATE
    template = (ROOT / TEMPLATE).read_text()
    for name, version in versions_dvc_asks_for().items():
        assert f"<!-- {name} {version}, from the npm registry" in template, (name, version)
    assert set(LIBRARIES) <= set(versions_dvc_asks_for())


def test_a_page_made_from_it_loads_nothing_from_the_network():
    html = HTML((ROOT / TEMPLATE).read_text()).with_scripts(
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
    )
    page = html.with_element("<div id='plot'></div>").embed()
    assert "<div id='plot'></div>" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?https?:", page)
    assert page.count("<script>") == len(LIBRARIES)
