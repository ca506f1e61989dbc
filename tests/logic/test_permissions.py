"""Permissions: filters filled from context, no escalation, and policies that match only what is granted."""

from __future__ import annotations

import json

import pytest

from archie_keys.domain.escalation import UNKNOWN, missing_grants, with_unknown_context
from archie_keys.domain.grants import Grants, MissingContextError, resolve_grants
from archie_keys.domain.policy import build_policy, data_paths, management_paths, stage_arn_prefix
from archie_local.gateway import policy_allows

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/v1"
TENANT_ROLE = [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}]


@pytest.mark.parametrize(
    "crafted",
    ["*", "%", '{"tenant_id": "*"}', 't1", "region": "eu', "t1' OR '1'='1", "../t2", "", "\u0000"],
)
def test_a_context_value_is_placed_whole_and_never_widens_a_filter(crafted: str) -> None:
    grants = resolve_grants([("reader", TENANT_ROLE)], {"tenant": crafted}, strict=True)
    assert grants.filters_by_resource() == {"orders": [{"tenant_id": crafted}]}
    # Round trip through the authorizer context's JSON: still exactly one field with exactly that value.
    decoded = json.loads(json.dumps(grants.filters_by_resource()))
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
    grants = resolve_grants(roles, {"t": "t1"}, strict=True)
    assert grants.filters_by_resource() == {"orders": [{"region": "eu", "tenant_id": "t1"}, {"region": "us"}]}
    assert grants.alternatives("orders", "write") == [{"region": "us"}]


def test_a_missing_context_value_is_an_error_at_creation_and_no_grant_at_authorization() -> None:
    with pytest.raises(MissingContextError):
        resolve_grants([("reader", TENANT_ROLE)], {}, strict=True)
    assert resolve_grants([("reader", TENANT_ROLE)], {}, strict=False).entries == ()


def _grants(*entries: dict) -> Grants:
    return Grants.from_entries([{"role": "r", "filters": {}, **e} for e in entries])


def test_an_unfiltered_caller_may_grant_filtered_access() -> None:
    caller = _grants({"resource": "orders", "actions": ["read", "write"]})
    assert missing_grants(caller, [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": "t1"}}]) == []


def test_a_filtered_caller_cannot_grant_wider_rows_or_other_actions() -> None:
    caller = _grants({"resource": "orders", "actions": ["read"], "filters": {"tenant_id": "t1"}})
    assert (
        missing_grants(caller, [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": "t1", "x": 1}}])
        == []
    )
    assert missing_grants(caller, [{"resource": "orders", "actions": ["read"], "filters": {}}])
    assert missing_grants(caller, [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": "t2"}}])
    assert missing_grants(caller, [{"resource": "orders", "actions": ["delete"], "filters": {"tenant_id": "t1"}}])
    assert missing_grants(caller, [{"resource": "invoices", "actions": ["read"], "filters": {"tenant_id": "t1"}}])


def test_a_filter_known_only_later_is_not_assumed_to_match() -> None:
    caller = _grants({"resource": "orders", "actions": ["read"], "filters": {"tenant_id": "t1"}})
    requested = with_unknown_context(TENANT_ROLE)
    assert requested[0]["filters"]["tenant_id"] is UNKNOWN
    assert missing_grants(caller, requested) == ['read on orders with filters {"tenant_id": "<from_context>"}']


def test_only_a_wildcard_holder_may_grant_the_wildcard() -> None:
    assert missing_grants(
        _grants({"resource": "orders", "actions": ["read"]}), [{"resource": "*", "actions": ["read"]}]
    )
    assert not missing_grants(_grants({"resource": "*", "actions": ["read"]}), [{"resource": "*", "actions": ["read"]}])


def test_the_data_policy_allows_exactly_the_granted_methods_and_paths() -> None:
    grants = _grants({"resource": "orders", "actions": ["read", "update"]})
    policy = build_policy(ARN, data_paths(grants))
    allowed = {
        (m, p)
        for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        for p in ("/orders", "/orders/1", "/orders/1/items", "/ordersx", "/invoices")
        if policy_allows(policy, f"{ARN}/{m}{p}")
    }
    assert allowed == {
        (m, p) for m in ("GET", "HEAD", "PUT", "PATCH") for p in ("/orders", "/orders/1", "/orders/1/items")
    }


def test_the_management_policy_stays_inside_the_keys_own_environment() -> None:
    grants = _grants({"resource": "keys", "actions": ["read"]})
    policy = build_policy(ARN, management_paths(grants, "demo", "dev"))
    assert policy_allows(policy, f"{ARN}/GET/projects/demo/environments/dev/keys")
    assert policy_allows(policy, f"{ARN}/GET/projects/demo/environments/dev/keys/abc")
    assert policy_allows(policy, f"{ARN}/GET/projects/demo/environments/dev/whoami")
    assert not policy_allows(policy, f"{ARN}/DELETE/projects/demo/environments/dev/keys/abc")
    assert not policy_allows(policy, f"{ARN}/GET/projects/demo/environments/prod/keys")
    assert not policy_allows(policy, f"{ARN}/GET/projects/other/environments/dev/keys")
    assert not policy_allows(policy, f"{ARN}/GET/projects/demo/environments/dev/roles")


def test_a_key_without_grants_gets_an_explicit_deny() -> None:
    policy = build_policy(ARN, data_paths(_grants()))
    assert not policy_allows(policy, f"{ARN}/GET/orders")


def test_the_policy_is_scoped_to_the_api_and_stage_of_the_method_arn() -> None:
    assert stage_arn_prefix(f"{ARN}/GET/orders/1") == ARN
    with pytest.raises(ValueError):
        stage_arn_prefix("not-an-arn")
