"""Permissions across 3 projects x 2 environments x keys of different roles x routes x methods, through
both APIs of the local stack: every allowed pair answers 2xx, every other 401 or 403. And /verify agrees
with the authorizer on every pair."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.support import env_path, http

PROJECTS = ("demo", "acme", "globex")
ENVIRONMENTS = ("dev", "prod")
# Roles and what they grant, written out here independently of the service's own route table.
ROLES = {
    "viewer": [{"resource": "keys", "actions": ["read"]}, {"resource": "orders", "actions": ["read"]}],
    "writer": [
        {"resource": "orders", "actions": ["read", "write"]},
        {"resource": "roles", "actions": ["read"]},
        {"resource": "environments", "actions": ["read"]},
    ],
    "operator": [
        {"resource": "orders", "actions": ["update", "delete"]},
        {"resource": "verify", "actions": ["write"]},
        {"resource": "environments", "actions": ["read", "write"]},
    ],
}
# Management routes checked (all idempotent): (method, suffix, body, (resource, action) needed or None).
MANAGEMENT = [
    ("GET", "/keys", None, ("keys", "read")),
    ("GET", "/roles", None, ("roles", "read")),
    ("GET", "", None, ("environments", "read")),
    ("PUT", "", None, ("environments", "write")),
    ("POST", "/verify", {"key": "archie_x_y_" + "0" * 40}, ("verify", "write")),
    ("GET", "/whoami", None, None),
]
METHOD_ACTION = {"GET": "read", "HEAD": "read", "POST": "write", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def grants(role: str, resource: str, action: str) -> bool:
    return any(p["resource"] in (resource, "*") and action in p["actions"] for p in ROLES[role])


@pytest.fixture(scope="module")
def keys(stack) -> dict[tuple[str, str, str], str]:
    """A key per (project, environment, role), plus each environment's admin."""
    base, made = stack.url(), {}
    for project, environment in itertools.product(PROJECTS, ENVIRONMENTS):
        admin = stack.bootstrap(project, environment)
        made[(project, environment, "admin")] = admin
        for role, permissions in ROLES.items():
            assert (
                http(
                    base, "PUT", env_path(project, environment, f"/roles/{role}"), admin, {"permissions": permissions}
                ).status
                == 201
            )
            reply = http(base, "POST", env_path(project, environment, "/keys"), admin, {"name": role, "roles": [role]})
            assert reply.status == 201, reply.body
            made[(project, environment, role)] = reply.body["key"]
    return made


def test_management_routes_answer_2xx_exactly_where_the_key_is_allowed(stack, keys) -> None:
    base, mismatches = stack.url(), []
    for (project, environment, role), key in keys.items():
        for target_project, target_env in itertools.product(PROJECTS, ENVIRONMENTS):
            for method, suffix, body, needed in MANAGEMENT:
                same_env = (project, environment) == (target_project, target_env)
                allowed = same_env and (needed is None or role == "admin" or grants(role, *needed))
                status = http(base, method, env_path(target_project, target_env, suffix), key, body).status
                if (allowed and not 200 <= status < 300) or (not allowed and status not in (401, 403)):
                    mismatches.append((project, environment, role, target_project, target_env, method, suffix, status))
    assert mismatches == []


def test_the_protected_api_allows_exactly_the_granted_methods_to_its_own_environment(stack, keys) -> None:
    sample, mismatches = stack.url("SampleApi"), []
    for (project, environment, role), key in keys.items():
        # The sample API defines GET, POST, PUT, PATCH and DELETE (HEAD is granted by read but has no route there).
        for method, path in itertools.product(("GET", "POST", "PUT", "PATCH", "DELETE"), ("/orders", "/orders/42")):
            own = (project, environment) == ("demo", "dev")
            allowed = own and (role == "admin" or grants(role, "orders", METHOD_ACTION[method]))
            status = http(sample, method, path, key).status
            if (allowed and status != 200) or (not allowed and status not in (401, 403)):
                mismatches.append((project, environment, role, method, path, status))
            if not own and status != 403:  # another environment's key is refused by the authorizer's Deny
                mismatches.append(("not refused as foreign", project, environment, role, method, path, status))
    assert mismatches == []


def test_verify_and_the_authorizer_agree_on_every_pair(stack, keys) -> None:
    base, sample, disagreements = stack.url(), stack.url("SampleApi"), []
    admin = keys[("demo", "dev", "admin")]
    for (project, environment, role), key in keys.items():
        for method in ("GET", "POST", "PUT", "DELETE"):
            action = METHOD_ACTION[method]
            answer = http(
                base,
                "POST",
                env_path("demo", "dev", "/verify"),
                admin,
                {"key": key, "resource": "orders", "action": action},
            ).body
            gateway_allows = http(sample, method, "/orders", key).status == 200
            if answer["valid"] != gateway_allows:
                disagreements.append((project, environment, role, method, answer, gateway_allows))
            if (project, environment) != ("demo", "dev"):
                assert answer == {"valid": False, "code": "wrong_environment"}
            elif not answer["valid"]:
                assert answer == {"valid": False, "code": "forbidden"}
    assert disagreements == []


def test_verify_reports_why_a_key_is_invalid_without_revealing_which_keys_exist(stack, keys) -> None:
    base, admin = stack.url(), keys[("demo", "dev", "admin")]
    viewer = keys[("demo", "dev", "viewer")]
    from archie_keys.domain.keyformat import checksum

    body = viewer[:-6]
    wrong_secret = body[:-22] + "Z" * 22
    unknown_id = body[: -(22 + 12)] + "0" * 12 + body[-22:]

    def verify(key: str) -> dict:
        return http(base, "POST", env_path("demo", "dev", "/verify"), admin, {"key": key}).body

    assert verify("nonsense") == {"valid": False, "code": "malformed"}
    assert verify(wrong_secret + checksum(wrong_secret)) == {"valid": False, "code": "not_found"}
    assert verify(unknown_id + checksum(unknown_id)) == {"valid": False, "code": "not_found"}
    valid = verify(viewer)
    assert valid["valid"] is True and valid["roles"] == ["viewer"] and "key" not in valid
    assert viewer not in json.dumps(valid)


def test_whoami_describes_the_caller(stack, keys) -> None:
    reply = http(stack.url(), "GET", env_path("acme", "prod", "/whoami"), keys[("acme", "prod", "writer")])
    assert reply.status == 200
    assert reply.body["project"] == "acme" and reply.body["environment"] == "prod"
    assert reply.body["roles"] == ["writer"] and reply.body["filters"]["orders"] == [{}]


def test_a_backend_receives_filters_filled_from_the_keys_context(stack, keys) -> None:
    base, sample, admin = stack.url(), stack.url("SampleApi"), keys[("demo", "dev", "admin")]
    http(
        base,
        "PUT",
        env_path("demo", "dev", "/roles/tenant-reader"),
        admin,
        {
            "permissions": [
                {
                    "resource": "orders",
                    "actions": ["read"],
                    "filters": {"tenant_id": {"from_context": "tenant"}, "region": "eu"},
                }
            ]
        },
    )
    for crafted in ('t1", "region": "us', "*", '{"tenant_id": "*"}'):
        key = http(
            base,
            "POST",
            env_path("demo", "dev", "/keys"),
            admin,
            {"name": "tenant", "roles": ["tenant-reader"], "context": {"tenant": crafted}},
        ).body["key"]
        echoed = http(sample, "GET", "/orders/1", key).body["authorizer"]
        assert json.loads(echoed["filters"]) == {"orders": [{"tenant_id": crafted, "region": "eu"}]}
        assert json.loads(echoed["context"]) == {"tenant": crafted}
        assert json.loads(echoed["roles"]) == ["tenant-reader"]
