"""The server's own pages open offline: /docs and /redoc load their scripts and styles from the server."""

import re

import pytest
from fastapi.testclient import TestClient

from millrace.config.params import Serve
from millrace.serving.app import create_app


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_documentation_loads_nothing_from_the_network(page):
    client = TestClient(create_app(lambda: None, Serve()))  # no model needed to document the API
    html = client.get(page)
    assert html.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", html.text)
    assert assets and not [url for url in assets if re.match(r"(https?:)?//", url)]
    for url in assets:
        assert client.get(url).status_code == 200, url
    assert client.get("/openapi.json").json()["info"]["title"] == "millrace model server"
