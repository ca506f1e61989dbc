"""The OpenAPI document as a stack serves it (locally, and as `make deploy-dashboard` publishes it) names that
stack as its server, and is otherwise the committed document."""

from __future__ import annotations

import json

from archie_local.site import rendered_for, served_openapi
from archie_tools.openapi import DOCUMENT


def test_the_served_document_names_the_api_it_is_served_for_and_nothing_else_changes() -> None:
    deployed = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
    served = json.loads(served_openapi(deployed))
    assert [server["url"] for server in served["servers"]] == [deployed]
    committed = json.loads(DOCUMENT.read_text())
    assert {**served, "servers": committed["servers"]} == committed


def test_only_the_document_is_rendered_for_its_stack() -> None:
    assert rendered_for("/openapi.json", "http://127.0.0.1:3100") is not None
    assert rendered_for("/index.html", "http://127.0.0.1:3100") is None
