"""Every example body of the OpenAPI document works as Swagger UI's "Try it out" sends it: posted, as it is,
to a fresh stack (only the admin key `make run` prints, and the roles bootstrap made), each one succeeds."""

from __future__ import annotations

import json
from typing import Any

from archie_tools.openapi import DOCUMENT
from tests.support import http

# What a person types into the path parameters; a key_id is the key the create example made.
PATH_VALUES = {"project": "demo", "environment": "dev", "role": "order-reader", "name": "billing"}
CREATE_KEY = ("POST", "/projects/{project}/environments/{environment}/keys")
# Two examples name something outside the stack: the exchange's token must come from an issuer a trust policy
# names, minted for the moment (tests/component/test_federation_exchange.py and test_make_run.py exchange real
# ones), and a webhook's receiver must resolve, which an offline machine's DNS does not
# (tests/component/test_webhooks_api.py registers receivers on 127.0.0.1).
MINTED_ELSEWHERE = {
    ("POST", "/projects/{project}/environments/{environment}/keys/exchange"),
    ("PUT", "/projects/{project}/environments/{environment}/webhooks/{name}"),
}


def example_bodies(document: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(method, path, body) for each example of each operation's JSON body: the key creation's first, as a
    person trying the API starts there (on a fresh stack: before any example made a role), and last those
    that need a key."""
    schemas = document["components"]["schemas"]
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            schema = content.get("schema", {})
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
            bodies = [*schema.get("examples", []), *(e["value"] for e in content.get("examples", {}).values())]
            if (method.upper(), path) not in MINTED_ELSEWHERE:
                found += [(method.upper(), path, body) for body in bodies]
    return sorted(found, key=lambda example: ("{key_id}" in example[1], example[:2] != CREATE_KEY))


def test_every_example_body_succeeds_against_a_fresh_stack(stack: Any, admin: str) -> None:
    document = json.loads(DOCUMENT.read_text())
    examples = example_bodies(document)
    assert len(examples) >= 5  # create, roll, role, verify, mass revocation
    assert examples[0][:2] == CREATE_KEY
    values = dict(PATH_VALUES)
    for method, path, body in examples:
        reply = http(stack.url(), method, path.format(**values), admin, body)
        assert 200 <= reply.status < 300, (method, path, body, reply.status, reply.body)
        if (method, path) == CREATE_KEY:
            values["key_id"] = reply.body["key_id"]
