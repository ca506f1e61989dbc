"""No request a client can send gets a 5xx: odd bodies, paths and queries on every route of the API."""

from __future__ import annotations

import itertools

from archie_local.template import load_template

BODIES = [
    None,
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"42",
    b"{",
    b'{"name": null}',
    b'{"roles": "admin"}',
    b'{"name": "x", "roles": ["admin"], "context": {"a": {"b": 1}}}',
    b'{"grace_seconds": 1e400}',
    b'{"permissions": [{"resource": "*", "actions": ["read"], "filters": {"f": [1]}}]}',
    b'{"key": 12}',
    "\u00e9\u0000\U0001f600".encode(),
    b'{"name": "' + b"\\ud800" + b'"}',
]
PATH_VALUES = ["demo", "x" * 300, "%00", "..", "AAAAAAAAAAAA", "admin", "a b"]
QUERIES = [
    "",
    "?limit=abc",
    "?limit=-1",
    "?next_token=%%%",
    "?since=x&until=y",
    "?key_id=../../",
    "?limit=99999999999999999999",
]


def routes() -> list[tuple[str, str]]:
    found = []
    for resource in load_template()["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "Api" and event["Properties"]["RestApiId"] == {"Ref": "ManagementApi"}:
                found.append((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
    return found


def fill(path: str, value: str) -> str:
    import re

    path = path.replace("{project}", "demo").replace("{environment}", "dev")
    return re.sub(r"\{\w+\}", value, path)


def test_odd_requests_on_every_route_never_answer_5xx(api, admin_key) -> None:
    failures = []
    for (method, path), value in itertools.product(routes(), PATH_VALUES):
        for body, query in itertools.product(BODIES, QUERIES[:2] if method != "GET" else QUERIES):
            if method == "GET" and body not in (None, b""):
                continue
            reply = api(method, fill(path, value) + query, admin_key, raw_body=body)
            if reply.status >= 500:
                failures.append((method, fill(path, value) + query, body, reply.status, reply.body))
    assert failures == []
