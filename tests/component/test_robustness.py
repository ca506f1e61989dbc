"""No 5xx from client input, by construction: each reproduction from the review answers a 4xx naming the
field, and changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from archie_keys.domain import limits
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
VIEWER = {"permissions": [{"resource": "keys", "actions": ["read"]}]}


@pytest.fixture
def key_id(api: Any, admin_key: str) -> str:
    assert api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER).status == 201
    return str(api("POST", KEYS, admin_key, {"name": "k", "roles": ["viewer"]}).body["key_id"])


def everything(table_items: Any) -> list[Any]:
    return sorted(
        json.dumps(item, sort_keys=True)
        for table in ("KEYS_TABLE", "AUDIT_TABLE", "IDEMPOTENCY_TABLE")
        for item in table_items(table)
        # The authorizer's record of when it last let a key through (SEEN#) moves with every request.
        if not item.get("sk", {}).get("S", "").startswith("SEEN#")
    )


@pytest.mark.parametrize(
    "limit", ["\u00b2", "\u0661\u0662", "1e1", " 5", "5 ", "0x10", "+5", "-0", "00000000000000000005"]
)
def test_a_limit_that_is_not_ascii_digits_is_refused(api, admin_key, limit) -> None:
    from urllib.parse import quote

    reply = api("GET", f"{KEYS}?limit={quote(limit)}", admin_key)
    assert reply.status == 422 and reply.body["field"] == "limit", (limit, reply.body)


@pytest.mark.parametrize(
    "token",
    [
        "[" * 5000,
        "%5B" * 3000,
        base64.urlsafe_b64encode(json.dumps({"pk": "PROJECT#demo#ENV#dev", "sk": "ROLE#admin"}).encode()).decode(),
        "S0VZI3p6eno.AAAAAAAAAAAAAAAAAAAAAA",  # KEY#zzz with a made-up MAC
        "a.b.c",
        "",
    ],
)
def test_a_forged_or_hostile_next_token_is_refused_before_any_read(api, admin_key, token) -> None:
    for path in (KEYS, env_path("demo", "dev", "/roles"), env_path("demo", "dev", "/audit")):
        reply = api("GET", f"{path}?next_token={token}", admin_key)
        if token == "":
            assert reply.status == 200  # an empty token is no token
            continue
        assert reply.status == 422 and reply.body["field"] == "next_token", (path, token[:20], reply.body)


def test_a_token_from_one_listing_is_refused_by_another(api, admin_key, key_id) -> None:
    api("POST", KEYS, admin_key, {"name": "k2", "roles": ["viewer"]})
    token = api("GET", f"{KEYS}?limit=1", admin_key).body["next_token"]
    assert token
    assert api("GET", f"{KEYS}?limit=1&next_token={token}", admin_key).status == 200
    for other in (env_path("demo", "dev", "/roles"), env_path("demo", "dev", "/audit")):
        assert api("GET", f"{other}?next_token={token}", admin_key).status == 422
    # Nor by the same listing with other filters (the audit binds its range and key to the token).
    audit = env_path("demo", "dev", "/audit")
    page = api("GET", f"{audit}?limit=1", admin_key).body["next_token"]
    assert api("GET", f"{audit}?limit=1&next_token={page}", admin_key).status == 200
    assert api("GET", f"{audit}?limit=1&since=2026-01-01T00:00:00Z&next_token={page}", admin_key).status == 422


def nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", "/keys"), ("POST", "/verify"), ("PUT", "/roles/deep"), ("POST", "/keys/AAAAAAAAAAAA/roll")],
)
def test_a_deeply_nested_body_is_refused_before_parsing(api, admin_key, table_items, method, suffix) -> None:
    before = everything(table_items)
    for body in (nested(5000), b"[" * 20000, b'{"a":' * 3000):
        reply = api(method, env_path("demo", "dev", suffix), admin_key, raw_body=body)
        assert reply.status == 422 and reply.body["code"] == "invalid_json" and reply.body["field"] == "body"
    # Brackets inside strings are not nesting: a name full of them is just a (too long) name.
    reply = api(method, env_path("demo", "dev", suffix), admin_key, raw_body=b'{"name": "' + b"[" * 500 + b'"}')
    assert reply.status == 422 and reply.body["code"] == "validation_error"
    assert everything(table_items) == before


@pytest.mark.parametrize(
    "since",
    [
        "9999-12-31T23:59:59-23:59",  # year 10000 in UTC
        "0001-01-01T00:00:00+23:59",  # before year 1 in UTC
        "1999-12-31T23:59:59Z",
        "2026-11-26",  # no time, no zone
        "2026-11-26T10:00:00",  # no zone
        "2026-02-30T10:00:00Z",
        "\uff12\uff10\uff12\uff16-11-26T10:00:00Z",  # fullwidth digits
    ],
)
def test_times_outside_what_the_code_represents_are_refused(api, admin_key, key_id, since) -> None:
    from urllib.parse import quote

    reply = api("GET", f"{KEYS}/{key_id}/usage?since={quote(since)}", admin_key)
    assert reply.status == 422 and reply.body["field"] == "since", (since, reply.body)
    audit = api("GET", env_path("demo", "dev", f"/audit?until={quote(since)}"), admin_key)
    assert audit.status == 422 and audit.body["field"] == "until", (since, audit.body)
    created = api("POST", KEYS, admin_key, {"name": "t", "roles": ["viewer"], "expires_at": since})
    assert created.status == 422 and created.body["field"] == "expires_at"


def test_since_after_until_is_refused(api, admin_key) -> None:
    reply = api(
        "GET", env_path("demo", "dev", "/audit?since=2026-11-26T10:00:00Z&until=2026-11-25T10:00:00Z"), admin_key
    )
    assert reply.status == 422 and reply.body["field"] == "since"


@pytest.mark.parametrize("number", [10**40, -(10**40), limits.FILTER_INT_MAX + 1, -limits.FILTER_INT_MAX - 1])
def test_a_filter_number_no_reader_can_hold_is_refused_and_nothing_is_written(
    api, admin_key, table_items, number
) -> None:
    before = everything(table_items)
    body = {"permissions": [{"resource": "orders", "actions": ["read"], "filters": {"shard": number}}]}
    reply = api("PUT", env_path("demo", "dev", "/roles/big"), admin_key, body)
    assert reply.status == 422 and reply.body["field"].startswith("permissions.0.filters"), reply.body
    assert everything(table_items) == before  # no role, no audit event


def test_the_largest_exact_filter_number_is_kept_exactly(api, admin_key) -> None:
    body = {"permissions": [{"resource": "orders", "actions": ["read"], "filters": {"shard": limits.FILTER_INT_MAX}}]}
    assert api("PUT", env_path("demo", "dev", "/roles/big"), admin_key, body).status == 201
    stored = api("GET", env_path("demo", "dev", "/roles/big"), admin_key).body
    assert stored["permissions"][0]["filters"]["shard"] == limits.FILTER_INT_MAX


@pytest.mark.parametrize("name", ["bad\u0085name", "bad\u009bname", "line\u2028break", "tab\tname", "del\u007f"])
def test_key_names_with_control_characters_are_refused(api, admin_key, key_id, name) -> None:
    reply = api("POST", KEYS, admin_key, {"name": name, "roles": ["viewer"]})
    assert reply.status == 422 and reply.body["field"] == "name", (repr(name), reply.body)


def test_a_query_value_longer_than_any_token_is_refused(api, admin_key) -> None:
    reply = api("GET", env_path("demo", "dev", "/audit?key_id=" + "A" * 5000), admin_key)
    assert reply.status == 422 and reply.body["field"] == "key_id"
