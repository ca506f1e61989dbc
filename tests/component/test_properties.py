"""Property: no request a client can send to any management route answers 5xx, and a refused request (4xx)
changes nothing. Hypothesis draws the path parameters, the query and the body for every route of the
template's management API."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archie_local.template import load_template

ROUTES = sorted(
    (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
    for resource in load_template()["Resources"].values()
    for event in resource.get("Properties", {}).get("Events", {}).values()
    if event["Type"] == "Api" and event["Properties"]["RestApiId"] == {"Ref": "ManagementApi"}
)

# Values that look like what a client means, and values that are hostile: both must get an answer.
plausible = st.sampled_from(["demo", "dev", "admin", "viewer", "AAAAAAAAAAAA", "Vc37AAAAAAAA", "0", "-1", "100"])
hostile = st.text(min_size=0, max_size=40).filter(lambda s: "/" not in s and "?" not in s and "#" not in s)
segment = st.one_of(plausible, hostile.map(lambda s: re.sub(r"[\x00-\x1f%]", "", s) or "x"))
query_name = st.sampled_from(["limit", "next_token", "since", "until", "key_id", "actor_key_id", "other"])
query_value = st.one_of(st.sampled_from(["1", "100", "101", "2026-11-26T00:00:00Z", "[[[[", ""]), hostile)
json_value = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.floats(), st.text(max_size=30)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
# Bodies shaped like the routes' own (so validation goes deep), arbitrary JSON, and arbitrary bytes.
shaped_body = st.fixed_dictionaries(
    {},
    optional={
        "name": json_value,
        "roles": st.one_of(st.lists(st.sampled_from(["admin", "viewer", "x"]), max_size=3), json_value),
        "context": json_value,
        "expires_at": st.one_of(st.sampled_from(["2026-11-26T00:00:00Z", "9999-12-31T23:59:59-23:59"]), json_value),
        "secret_name": st.one_of(st.sampled_from(["archie/keys/demo/dev/x", "archie/keys/../x"]), json_value),
        "prefix": json_value,
        "grace_seconds": json_value,
        "permissions": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {"resource": st.sampled_from(["*", "orders", "keys"]), "actions": json_value},
                    optional={"filters": json_value},
                ),
                max_size=2,
            ),
            json_value,
        ),
        "description": json_value,
        "key": json_value,
        "resource": json_value,
        "action": json_value,
    },
)
body = st.one_of(
    st.none(),
    shaped_body.map(lambda b: json.dumps(b).encode()),
    json_value.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=64),
)


def everything(table_items: Any) -> list[str]:
    return sorted(
        json.dumps(item, sort_keys=True)
        for table in ("KEYS_TABLE", "AUDIT_TABLE", "IDEMPOTENCY_TABLE")
        for item in table_items(table)
        # The authorizer's record of when it last let a key through (SEEN#) moves with every request.
        if not item.get("sk", {}).get("S", "").startswith("SEEN#")
    )


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    values=st.lists(segment, min_size=5, max_size=5),
    query=st.dictionaries(query_name, query_value, max_size=3),
    payload=body,
    own_environment=st.booleans(),
)
def test_no_request_answers_5xx_and_a_refused_one_changes_nothing(
    api, admin_key, table_items, route, values, query, payload, own_environment
) -> None:
    method, template = route
    filled = iter(values)
    path = template
    if own_environment:
        path = path.replace("{project}", "demo").replace("{environment}", "dev")
    path = re.sub(r"\{\w+\}", lambda _: next(filled), path)
    from urllib.parse import quote, urlencode

    path = "/".join(quote(part, safe="") for part in path.split("/"))
    before = everything(table_items)
    reply = api(method, path + ("?" + urlencode(query) if query else ""), admin_key, raw_body=payload)
    assert reply.status < 500, (method, path, query, payload, reply.status, reply.body)
    if reply.status >= 400:
        assert everything(table_items) == before, (method, path, query, payload, reply.body)
