"""Permissions, the pure rules a security review reads: what roles grant and to which rows (filters filled
from the key's context, never widened by it), who may grant what (no escalation), the management permission
check inside every handler, the authorizer context a backend trusts, and the IAM policy API Gateway enforces,
which matches only what is granted. No AWS: each promise is checked on the values themselves."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from archie_keys.domain.errors import ForbiddenError
from archie_keys.domain.escalation import UNKNOWN, missing_grants, refuse_escalation, with_unknown_context
from archie_keys.domain.grants import (
    Grants,
    MissingContextError,
    covers_row,
    management_alternatives,
    required_context_names,
    resolve_filters,
    resolve_grants,
)
from archie_keys.domain.identity import AUTHORIZER_CONTEXT_FIELDS, Identity, is_break_glass
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.limits import OIDC_CLOCK_SKEW_SECONDS
from archie_keys.domain.oidc_errors import TOKEN_REFUSED_MESSAGE, ExpiredTokenError
from archie_keys.domain.policy import build_policy, data_paths, management_paths, stage_arn_prefix
from archie_local.gateway import policy_allows

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/v1"
ENV = "/projects/demo/environments/dev"
ALL = ["read", "write", "update", "delete"]
TENANT_ROLE = [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}]


def grants(*permissions: dict[str, Any], context: dict[str, str] | None = None) -> Grants:
    return resolve_grants([("role", list(permissions))], context or {}, strict=True)


def identity(*permissions: dict[str, Any], context: dict[str, str] | None = None, **place: str) -> Identity:
    return Identity(
        key_id="Vc37AAAAAAAA",
        project=place.get("project", "demo"),
        environment=place.get("environment", "dev"),
        name="ci",
        roles=("role",),
        context=context or {},
        grants=grants(*permissions, context=context),
    )


# --- Grants: roles resolved against the key's context ------------------------------------------------------


def test_a_permission_without_filters_grants_every_row() -> None:
    granted = grants({"resource": "orders", "actions": ["read"]})
    assert granted.alternatives("orders", "read") == [{}]
    assert granted.entries == ({"role": "role", "resource": "orders", "actions": ["read"], "filters": {}},)
    assert required_context_names([{"resource": "orders", "actions": ["read"]}]) == set()


def test_literal_filters_stay_and_context_filters_are_filled() -> None:
    permission = {"resource": "orders", "actions": ["read"], "filters": {"region": "eu", "t": {"from_context": "x"}}}
    assert resolve_filters(permission["filters"], {"x": "t1"}) == {"region": "eu", "t": "t1"}
    assert required_context_names([permission, {"resource": "a", "actions": ["read"]}]) == {"x"}


@pytest.mark.parametrize("filter_value", [{"from_context": "absent"}, {"from_context": 5}, {"other": "x"}])
def test_a_filter_the_context_cannot_fill_is_refused_at_creation_and_grants_nothing_later(filter_value) -> None:
    permission = {"resource": "orders", "actions": ["read"], "filters": {"t": filter_value}}
    with pytest.raises(MissingContextError) as missing:
        resolve_grants([("role", [permission])], {"present": "v"}, strict=True)
    assert missing.value.name == str(filter_value.get("from_context"))
    lenient = resolve_grants([("role", [permission, {"resource": "keys", "actions": ["read"]}])], {}, strict=False)
    assert not lenient.allows("orders", "read") and lenient.allows("keys", "read")


def test_the_wildcard_resource_reaches_every_resource_but_a_resource_grant_never_reaches_the_wildcard() -> None:
    granted = grants(
        {"resource": "*", "actions": ["read"], "filters": {"t": "1"}},
        {"resource": "orders", "actions": ["read", "write"]},
    )
    assert granted.alternatives("orders", "read") == [{}, {"t": "1"}]
    assert granted.alternatives("invoices", "read") == [{"t": "1"}]
    assert granted.alternatives("*", "read") == [{"t": "1"}]
    assert granted.alternatives("*", "write") == [] and not granted.allows("*", "write")
    assert granted.allows("orders", "write") and not granted.allows("orders", "delete")
    assert granted.actions_by_resource() == {"*": ["read"], "orders": ["read", "write"]}


def test_filters_by_resource_lists_each_alternative_once_in_grant_order() -> None:
    granted = resolve_grants(
        [
            ("a", [{"resource": "orders", "actions": ["read"], "filters": {"t": "1"}}]),
            ("b", [{"resource": "orders", "actions": ["write"], "filters": {"t": "1"}}]),
            ("c", [{"resource": "orders", "actions": ["read"], "filters": {"t": "2"}}]),
            ("d", [{"resource": "keys", "actions": ["delete", "read"]}]),
        ],
        {},
        strict=True,
    )
    assert granted.filters_by_resource() == {"orders": [{"t": "1"}, {"t": "2"}], "keys": [{}]}
    assert granted.actions_by_resource() == {"orders": ["read", "write"], "keys": ["read", "delete"]}


def test_management_rows_a_filter_selects_only_on_keys_and_audit() -> None:
    filtered = grants({"resource": "*", "actions": ALL, "filters": {"tenant": "t1"}})
    assert management_alternatives(filtered, "keys", "read") == [{"tenant": "t1"}]
    assert management_alternatives(filtered, "audit", "read") == [{"tenant": "t1"}]
    for resource in ("roles", "environments", "verify"):
        assert management_alternatives(filtered, resource, "read") == []
    mixed = grants(
        {"resource": "keys", "actions": ["read"], "filters": {"tenant": "t1"}}, {"resource": "*", "actions": ["read"]}
    )
    assert management_alternatives(mixed, "keys", "read") == [{}]
    assert management_alternatives(mixed, "roles", "read") == [{}]


def test_a_row_is_covered_only_by_equal_values_of_the_same_type() -> None:
    alternatives = [{"tenant": "t1", "region": "eu"}, {"tenant": "t2"}]
    assert covers_row(alternatives, {"tenant": "t1", "region": "eu", "other": 1})
    assert covers_row(alternatives, {"tenant": "t2"})
    assert not covers_row(alternatives, {"tenant": "t1"})  # missing region
    assert not covers_row(alternatives, {"tenant": "t3", "region": "eu"})
    assert not covers_row([{"n": 5}], {"n": "5"}) and not covers_row([{"n": 1}], {"n": True})
    assert covers_row([{}], {}) and not covers_row([], {"tenant": "t1"})


@pytest.mark.parametrize(
    "crafted",
    ["*", "%", '{"tenant_id": "*"}', 't1", "region": "eu', "t1' OR '1'='1", "../t2", "", "\u0000"],
)
def test_a_context_value_is_placed_whole_and_never_widens_a_filter(crafted: str) -> None:
    granted = resolve_grants([("reader", TENANT_ROLE)], {"tenant": crafted}, strict=True)
    assert granted.filters_by_resource() == {"orders": [{"tenant_id": crafted}]}
    # Round trip through the authorizer context's JSON: still exactly one field with exactly that value.
    decoded = json.loads(json.dumps(granted.filters_by_resource()))
    assert decoded["orders"][0] == {"tenant_id": crafted}


def test_each_granting_role_is_one_alternative() -> None:
    roles = [
        (
            "eu",
            [
                {
                    "resource": "orders",
                    "actions": ["read"],
                    "filters": {"region": "eu", "tenant_id": {"from_context": "t"}},
                }
            ],
        ),
        ("all-us", [{"resource": "orders", "actions": ["read", "write"], "filters": {"region": "us"}}]),
    ]
    granted = resolve_grants(roles, {"t": "t1"}, strict=True)
    assert granted.filters_by_resource() == {"orders": [{"region": "eu", "tenant_id": "t1"}, {"region": "us"}]}
    assert granted.alternatives("orders", "write") == [{"region": "us"}]


# --- No privilege escalation ---------------------------------------------------------------------------------


def test_what_is_missing_is_named_action_by_action() -> None:
    caller = grants({"resource": "orders", "actions": ["read"], "filters": {"t": "1"}})
    requested = [
        {"resource": "orders", "actions": ["read", "delete"], "filters": {"t": "1"}},
        {"resource": "invoices", "actions": ["read"]},
        {"resource": "orders", "actions": ["read"], "filters": {"t": UNKNOWN, "x": 1}},
    ]
    assert missing_grants(caller, requested) == [
        'delete on orders with filters {"t": "1"}',
        "read on invoices",
        'read on orders with filters {"t": "<from_context>", "x": 1}',
    ]
    with pytest.raises(ForbiddenError) as refused:
        refuse_escalation(caller, requested, "this role", "permissions")
    error = refused.value
    assert (error.status, error.code, error.field) == (403, "privilege_escalation", "permissions")
    assert error.message == (
        "this role would grant more than this key may do itself; missing: delete on orders with filters "
        '{"t": "1"}; read on invoices; read on orders with filters {"t": "<from_context>", "x": 1}'
    )
    refuse_escalation(caller, [{"resource": "orders", "actions": ["read"], "filters": {"t": "1"}}], "x", "y")


@pytest.mark.parametrize(
    ("granted", "requested", "allowed"),
    [
        ({}, {}, True),
        ({}, {"t": "1"}, True),
        ({"t": "1"}, {"t": "1", "r": "eu"}, True),
        ({"t": "1"}, {}, False),
        ({"t": "1"}, {"r": "eu"}, False),
        ({"t": "1"}, {"t": "2"}, False),
        ({"n": 5}, {"n": "5"}, False),
        ({"b": True}, {"b": 1}, False),
        ({"t": "1"}, {"t": UNKNOWN}, False),
        ({"t": "1", "r": "eu"}, {"t": "1", "r": "us"}, False),
    ],
)
def test_a_caller_may_grant_only_rows_its_own_filter_covers(granted, requested, allowed) -> None:
    caller = grants({"resource": "orders", "actions": ["read"], "filters": granted})
    assert (
        missing_grants(caller, [{"resource": "orders", "actions": ["read"], "filters": requested}]) == []
    ) is allowed


def test_the_wildcard_is_granted_only_by_a_wildcard_holder_and_without_filters_means_every_row() -> None:
    resource_holder = grants({"resource": "orders", "actions": ALL})
    assert missing_grants(resource_holder, [{"resource": "*", "actions": ["read"]}]) == ["read on *"]
    filtered_wildcard = grants({"resource": "*", "actions": ["read"], "filters": {"t": "1"}})
    assert missing_grants(filtered_wildcard, [{"resource": "*", "actions": ["read"]}]) == ["read on *"]
    assert missing_grants(filtered_wildcard, [{"resource": "*", "actions": ["read"], "filters": {"t": "1"}}]) == []
    assert missing_grants(filtered_wildcard, [{"resource": "orders", "actions": ["read"], "filters": {"t": "1"}}]) == []


def test_a_role_being_defined_has_its_context_filters_unknown_and_its_literals_kept() -> None:
    defined = with_unknown_context(
        [
            {"resource": "orders", "actions": ("read",), "filters": {"t": {"from_context": "t"}, "r": "eu"}},
            {"resource": "keys", "actions": ["read"]},
        ]
    )
    assert defined == [
        {"resource": "orders", "actions": ["read"], "filters": {"t": UNKNOWN, "r": "eu"}},
        {"resource": "keys", "actions": ["read"], "filters": {}},
    ]


# --- Identity: the check inside every handler, and the context a backend trusts ------------------------------


@pytest.mark.parametrize(("project", "environment"), [("acme", "dev"), ("demo", "prod"), ("acme", "prod")])
def test_require_refuses_another_project_or_environment_whatever_the_key_holds(project, environment) -> None:
    admin = identity({"resource": "*", "actions": ALL})
    with pytest.raises(ForbiddenError) as refused:
        admin.require(project, environment, "keys", "read")
    assert (refused.value.code, refused.value.status) == ("wrong_environment", 403)
    assert refused.value.message == "this key belongs to another project or environment"


def test_require_returns_the_rows_the_key_may_touch() -> None:
    tenant_admin = identity({"resource": "*", "actions": ALL, "filters": {"tenant": "t1"}})
    scope = tenant_admin.require("demo", "dev", "keys", "delete")
    assert scope.alternatives == ({"tenant": "t1"},) and not scope.every_row
    assert scope.covers({"tenant": "t1"}) and not scope.covers({"tenant": "t2"})
    everything = identity({"resource": "*", "actions": ALL}).require("demo", "dev", "roles", "write")
    assert everything.every_row and everything.covers({"anything": "at all"})


def test_require_refuses_with_a_message_that_says_why() -> None:
    filtered = identity({"resource": "*", "actions": ALL, "filters": {"tenant": "t1"}})
    with pytest.raises(ForbiddenError) as refused:
        filtered.require("demo", "dev", "roles", "write")
    assert refused.value.code == "forbidden"
    assert refused.value.message == (
        "this key's grant of write on roles is filtered, and roles has no rows a filter can select: "
        "it needs an unfiltered grant"
    )
    on_roles_itself = identity({"resource": "roles", "actions": ["write"], "filters": {"tenant": "t1"}})
    with pytest.raises(ForbiddenError) as refused_too:
        on_roles_itself.require("demo", "dev", "roles", "write")
    assert (refused_too.value.code, refused_too.value.message) == (refused.value.code, refused.value.message)
    reader = identity({"resource": "keys", "actions": ["read"]})
    with pytest.raises(ForbiddenError) as lacking:
        reader.require("demo", "dev", "keys", "delete")
    assert (lacking.value.code, lacking.value.message) == ("forbidden", "this key lacks delete on keys")


def test_the_authorizer_context_is_strings_a_backend_reads_and_reads_back_to_the_same_identity() -> None:
    original = identity(
        {"resource": "orders", "actions": ["read"], "filters": {"t": {"from_context": "tenant"}}},
        {"resource": "keys", "actions": ["read", "delete"]},
        context={"tenant": "t1"},
    )
    context = original.to_authorizer_context()
    assert list(context) == list(AUTHORIZER_CONTEXT_FIELDS)
    assert context["key_id"] == "Vc37AAAAAAAA" and context["name"] == "ci"
    assert (context["project"], context["environment"]) == ("demo", "dev")
    assert context["roles"] == '["role"]' and context["context"] == '{"tenant":"t1"}'
    assert context["filters"] == '{"keys":[{}],"orders":[{"t":"t1"}]}'
    assert json.loads(context["permissions"]) == list(original.grants.entries)
    assert ", " not in context["permissions"] and ": " not in context["permissions"]
    back = Identity.from_authorizer_context(context)
    assert back.describe() == original.describe()
    assert back.grants.alternatives("orders", "read") == [{"t": "t1"}]
    assert back == Identity(
        "Vc37AAAAAAAA", "demo", "dev", "ci", ("role",), {"tenant": "t1"}, Grants.from_entries(original.grants.entries)
    )


def test_whoami_describes_the_key_and_nothing_secret() -> None:
    described = identity({"resource": "keys", "actions": ["read"]}, context={"tenant": "t1"}).describe()
    assert described == {
        "key_id": "Vc37AAAAAAAA",
        "name": "ci",
        "project": "demo",
        "environment": "dev",
        "roles": ["role"],
        "permissions": [{"role": "role", "resource": "keys", "actions": ["read"], "filters": {}}],
        "filters": {"keys": [{}]},
        "context": {"tenant": "t1"},
    }


def test_a_context_with_only_what_is_required_reads_with_empty_defaults() -> None:
    minimal = {"key_id": "k", "project": "p", "environment": "e", "permissions": "[]"}
    read = Identity.from_authorizer_context(minimal)
    assert (read.name, read.roles, dict(read.context), read.grants.entries) == ("", (), {}, ())


@pytest.mark.parametrize(
    "broken",
    [
        {"project": "p", "environment": "e", "permissions": "[]"},
        {"key_id": "k", "environment": "e", "permissions": "[]"},
        {"key_id": "k", "project": "p", "permissions": "[]"},
        {"key_id": "k", "project": "p", "environment": "e"},
        {"key_id": "k", "project": "p", "environment": "e", "permissions": "{}"},
        {"key_id": "k", "project": "p", "environment": "e", "permissions": "[]", "roles": "{}"},
        {"key_id": "k", "project": "p", "environment": "e", "permissions": "[]", "context": "[]"},
        {"key_id": "k", "project": "p", "environment": "e", "permissions": '[{"resource": "x"}]'},
    ],
)
def test_anything_but_an_authorizer_context_is_refused(broken) -> None:
    with pytest.raises(ValueError, match=r"^malformed authorizer context$"):
        Identity.from_authorizer_context(broken)


def test_a_persons_allow_from_the_gateway_cache_is_refused_once_the_token_and_its_clock_skew_are_over() -> None:
    """API Gateway may serve a person's cached Allow after the token's `exp`: the handler reading the context
    back refuses it from `exp` plus the skew the authorizer allows, with the token refusal's one answer."""
    person = replace(identity({"resource": "keys", "actions": ["read"]}), expires_epoch=1_900_000_000)
    context = person.to_authorizer_context()
    assert context["token_expires_epoch"] == "1900000000"
    deadline = 1_900_000_000 + OIDC_CLOCK_SKEW_SECONDS
    assert Identity.from_authorizer_context(context, now=deadline - 1) == person
    with pytest.raises(ExpiredTokenError) as refused:
        Identity.from_authorizer_context(context, now=deadline)
    assert refused.value.message == TOKEN_REFUSED_MESSAGE and str(refused.value) == (
        "expired: expired at 1900000000, after the authorizer allowed it"
    )
    # Without `now`, the clock decides: a token long over is refused, one far ahead is not.
    with pytest.raises(ExpiredTokenError):
        Identity.from_authorizer_context({**context, "token_expires_epoch": "1000"})
    assert Identity.from_authorizer_context({**context, "token_expires_epoch": "9999999999"}).expires_epoch == (
        9_999_999_999
    )
    with pytest.raises(ValueError, match=r"^malformed authorizer context$") as malformed:
        Identity.from_authorizer_context({**context, "token_expires_epoch": "soon"})
    assert not isinstance(malformed.value, ExpiredTokenError)


def key_record(**fields: Any) -> KeyRecord:
    place = {"project": "demo", "environment": "dev", "prefix": "archie_", "start": "archie_demo_dev_Vc37AAAAAAAA"}
    made = {"key_id": "Vc37AAAAAAAA", "name": "admin", "created_at": "2026-12-03T00:00:00Z"}
    return KeyRecord(**place, **made, **fields)


@pytest.mark.parametrize(
    ("fields", "break_glass"),
    [
        ({"created_by": "bootstrap", "roles": ("admin",)}, True),
        ({"created_by": "Vc37BBBBBBBB", "roles": ("reader", "admin"), "break_glass": True}, True),  # rolled from it
        ({"created_by": "bootstrap", "roles": ("canary",)}, False),  # the canary's keys grant nothing
        ({"created_by": "Vc37BBBBBBBB", "roles": ("admin",)}, False),  # an admin key an admin made
        ({"created_by": "Vc37BBBBBBBB", "roles": ("reader",), "break_glass": True}, False),
    ],
)
def test_only_the_bootstrap_admin_key_and_its_successors_are_break_glass(fields, break_glass) -> None:
    assert is_break_glass(key_record(**fields)) is break_glass


def test_the_bootstrap_actor_holds_everything_in_its_own_environment_only() -> None:
    actor = Identity.bootstrap("acme", "prod")
    assert (actor.key_id, actor.name, actor.roles) == ("bootstrap", "bootstrap", ())
    assert actor.require("acme", "prod", "roles", "delete").every_row
    with pytest.raises(ForbiddenError):
        actor.require("acme", "dev", "roles", "read")
    assert actor.grants.entries == ({"role": "bootstrap", "resource": "*", "actions": ALL, "filters": {}},)


# --- The IAM policy -------------------------------------------------------------------------------------------


def allowed(policy: dict[str, Any], *requests: str) -> set[str]:
    return {r for r in requests if policy_allows(policy, f"{ARN}/{r.replace(' ', '')}")}


def test_a_management_policy_reaches_exactly_the_routes_of_the_keys_own_environment_its_grants_reach() -> None:
    routes = management_paths(grants({"resource": "keys", "actions": ["write"], "filters": {"t": "1"}}), "demo", "dev")
    assert routes == sorted([("GET", f"{ENV}/whoami"), ("POST", f"{ENV}/keys"), ("POST", f"{ENV}/keys/*/roll")])
    policy = build_policy(ARN, routes)
    assert policy["Statement"][0]["Effect"] == "Allow"
    assert allowed(
        policy, f"POST {ENV}/keys", f"POST {ENV}/keys/abc/roll", f"GET {ENV}/keys", f"PUT {ENV}/roles/x"
    ) == {
        f"POST {ENV}/keys",
        f"POST {ENV}/keys/abc/roll",
    }
    roles_filtered = management_paths(grants({"resource": "roles", "actions": ALL, "filters": {"t": "1"}}), "a", "b")
    assert roles_filtered == [("GET", "/projects/a/environments/b/whoami")]


def test_every_action_on_a_data_resource_is_one_wildcard_method_and_the_wildcard_resource_is_every_path() -> None:
    assert data_paths(grants({"resource": "orders", "actions": ALL})) == [("*", "/orders"), ("*", "/orders/*")]
    assert data_paths(grants({"resource": "*", "actions": ["delete", "write"]})) == [("DELETE", "/*"), ("POST", "/*")]
    policy = build_policy(ARN, data_paths(grants({"resource": "*", "actions": ["read"]})))
    assert allowed(policy, "GET /anything/1", "HEAD /x", "POST /x") == {"GET /anything/1", "HEAD /x"}
    assert data_paths(grants({"resource": "orders", "actions": ["write", "update"]})) == sorted(
        [(m, p) for m in ("POST", "PUT", "PATCH") for p in ("/orders", "/orders/*")]
    )


def test_the_data_policy_allows_exactly_the_granted_methods_and_paths() -> None:
    policy = build_policy(ARN, data_paths(grants({"resource": "orders", "actions": ["read", "update"]})))
    allowed_requests = {
        (m, p)
        for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        for p in ("/orders", "/orders/1", "/orders/1/items", "/ordersx", "/invoices")
        if policy_allows(policy, f"{ARN}/{m}{p}")
    }
    assert allowed_requests == {
        (m, p) for m in ("GET", "HEAD", "PUT", "PATCH") for p in ("/orders", "/orders/1", "/orders/1/items")
    }


def test_the_management_policy_stays_inside_the_keys_own_environment() -> None:
    policy = build_policy(ARN, management_paths(grants({"resource": "keys", "actions": ["read"]}), "demo", "dev"))
    assert policy_allows(policy, f"{ARN}/GET/projects/demo/environments/dev/keys")
    assert policy_allows(policy, f"{ARN}/GET/projects/demo/environments/dev/keys/abc")
    assert policy_allows(policy, f"{ARN}/GET/projects/demo/environments/dev/whoami")
    assert not policy_allows(policy, f"{ARN}/DELETE/projects/demo/environments/dev/keys/abc")
    assert not policy_allows(policy, f"{ARN}/GET/projects/demo/environments/prod/keys")
    assert not policy_allows(policy, f"{ARN}/GET/projects/other/environments/dev/keys")
    assert not policy_allows(policy, f"{ARN}/GET/projects/demo/environments/dev/roles")


def test_a_key_that_reaches_nothing_gets_an_explicit_deny_of_the_whole_stage() -> None:
    policy = build_policy(ARN, [])
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": f"{ARN}/*"}],
    }
    assert build_policy(ARN, [("GET", "/x")]) == {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{ARN}/GET/x"]}],
    }


@pytest.mark.parametrize(
    ("method_arn", "prefix"),
    [
        (f"{ARN}/GET/orders/1", ARN),
        (f"{ARN}/GET/", ARN),
        ("arn:aws:execute-api:eu-west-1:1:api/prod", "arn:aws:execute-api:eu-west-1:1:api/prod"),
    ],
)
def test_the_policy_names_the_api_and_stage_of_the_request(method_arn, prefix) -> None:
    assert stage_arn_prefix(method_arn) == prefix


@pytest.mark.parametrize("method_arn", ["", "not-an-arn/v1/GET/x", "arn:aws:execute-api:r:1:api", "arn:aws:x:api//GET"])
def test_anything_but_a_method_arn_is_refused(method_arn) -> None:
    with pytest.raises(ValueError, match=r"^not a method ARN$"):
        stage_arn_prefix(method_arn)
