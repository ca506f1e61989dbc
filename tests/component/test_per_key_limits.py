"""Per-key allow-lists and rate limits, end to end (docs/limits.md): keys created through the management API,
requests sent through the template's sample API as the local gateway serves it, with archie-keys' own
authorizer. The usage plans are the local control plane's (as AWS_ENDPOINT_URL_API_GATEWAY points the stack's
functions at it), the ones the local gateway enforces; its clock is frozen, so a bucket refills only when a
test moves it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from archie_local.http_server import HttpRequest, HttpResponse, HttpService
from tests.conftest import InProcessApi
from tests.fakes.gateway_api import Clock
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")


@dataclass
class LimitsStack:
    management: InProcessApi
    sample: InProcessApi
    clock: Clock
    control_plane_url: str
    access_log: list[dict[str, Any]]

    def create(self, admin: str, **fields: Any) -> Any:
        return self.management("POST", KEYS, admin, {"name": "consumer", "roles": ["reader"], **fields})

    def orders(self, key: str, count: int = 1, source_ip: str = "127.0.0.1") -> list[int]:
        gateway = self.sample.gateway
        request = HttpRequest("GET", "/orders", {}, [("Authorization", f"Bearer {key}")], b"", source_ip)
        return [gateway.handle(request).status for _ in range(count)]

    def api_keys(self) -> list[str]:
        client = boto3.client("apigateway", endpoint_url=self.control_plane_url)
        return [key["name"] for key in client.get_api_keys(includeValues=False)["items"]]


def _serve(built: dict[str, Any], registry: Any) -> HttpService:
    from archie_local.control_plane import control_plane

    return HttpService(control_plane(built, registry), 0).start()


@pytest.fixture
def limits_stack(aws: Any, admin_key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LimitsStack]:
    from archie_keys.edge import composition
    from archie_local.gateway import Gateway
    from archie_local.lambdas import FunctionRegistry
    from archie_local.routing import build_apis
    from archie_local.template import load_template

    registry = FunctionRegistry(aws.functions)
    built = build_apis(load_template(), aws.resolver, registry)
    clock = Clock(time.time())
    for api in built.values():
        api.clock = clock
    service = _serve(built, registry)
    sample = built["SampleApi"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_API_GATEWAY", service.url)
    # The registered protected stages (on AWS: the SSM registry), which every usage plan covers.
    monkeypatch.setenv("FLUSH_TARGETS", f"{sample.api_id}/{sample.stage}/demo/dev")
    composition.reset()
    lines: list[dict[str, Any]] = []
    stack = LimitsStack(
        InProcessApi(Gateway(built["ManagementApi"])),
        InProcessApi(Gateway(sample, lambda _, line: lines.append(json.loads(line)))),
        clock,
        service.url,
        lines,
    )
    role = {"permissions": [{"resource": "orders", "actions": ["read"]}]}
    assert stack.management("PUT", env_path("demo", "dev", "/roles/reader"), admin_key, role).status == 201
    try:
        yield stack
    finally:
        service.stop()


# --- network allow-lists -------------------------------------------------------------------------------------


def test_a_key_allowed_from_10_0_0_0_8_is_refused_from_127_0_0_1_and_one_allowed_from_127_0_0_0_8_is_not(
    limits_stack: LimitsStack, admin_key: str
) -> None:
    office = limits_stack.create(admin_key, allowed_cidrs=["10.0.0.0/8"]).body
    local = limits_stack.create(admin_key, allowed_cidrs=["127.0.0.0/8"]).body
    assert limits_stack.orders(office["key"]) == [403]
    refusal = limits_stack.access_log[-1]
    # A proven refusal: attributed to the key, in its own place, with the reason.
    assert (refusal["refusal"], refusal["key_id"], refusal["project"]) == (
        "source_ip_not_allowed",
        office["key_id"],
        "demo",
    )
    assert limits_stack.orders(local["key"]) == [200]
    assert limits_stack.orders(office["key"], source_ip="10.20.30.40") == [200]


def test_the_allow_list_is_stored_canonical_shown_and_kept_by_a_roll_unless_the_roll_gives_one(
    limits_stack: LimitsStack, admin_key: str
) -> None:
    created = limits_stack.create(admin_key, allowed_cidrs=["2001:DB8::/32", "10.0.0.5", "10.0.0.5/32"]).body
    assert created["record"]["allowed_cidrs"] == ["2001:db8::/32", "10.0.0.5/32"]
    key_id = created["key_id"]
    shown = limits_stack.management("GET", f"{KEYS}/{key_id}", admin_key).body
    assert shown["allowed_cidrs"] == ["2001:db8::/32", "10.0.0.5/32"]
    rolled = limits_stack.management("POST", f"{KEYS}/{key_id}/roll", admin_key, {"grace_seconds": 60}).body
    assert rolled["record"]["allowed_cidrs"] == ["2001:db8::/32", "10.0.0.5/32"]
    assert limits_stack.orders(rolled["key"]) == [403]
    body = {"grace_seconds": 60, "allowed_cidrs": ["127.0.0.1"]}
    again = limits_stack.management("POST", f"{KEYS}/{rolled['key_id']}/roll", admin_key, body).body
    assert again["record"]["allowed_cidrs"] == ["127.0.0.1/32"]
    assert limits_stack.orders(again["key"]) == [200]
    plain = limits_stack.create(admin_key).body
    assert plain["record"]["allowed_cidrs"] == []


def test_verify_answers_for_the_source_ip_it_is_given(limits_stack: LimitsStack, admin_key: str) -> None:
    office = limits_stack.create(admin_key, allowed_cidrs=["10.0.0.0/8"]).body["key"]
    verify = env_path("demo", "dev", "/verify")

    def code(**extra: Any) -> str:
        return str(limits_stack.management("POST", verify, admin_key, {"key": office, **extra}).body["code"])

    assert code(source_ip="10.9.8.7") == "valid"
    assert code(source_ip="::ffff:10.9.8.7") == "valid"  # a dual-stack socket's form of the same address
    assert code(source_ip="192.0.2.1") == "source_ip_not_allowed"
    assert code() == "source_ip_not_allowed"  # no address: outside every list
    anywhere = limits_stack.create(admin_key).body["key"]
    assert limits_stack.management("POST", verify, admin_key, {"key": anywhere}).body["code"] == "valid"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"allowed_cidrs": [f"10.0.{i}.0/24" for i in range(17)]}, "allowed_cidrs"),
        ({"allowed_cidrs": ["10.0.0.0/8", "10.0.0.5/8"]}, "allowed_cidrs.1"),
        ({"allowed_cidrs": ["not-a-network"]}, "allowed_cidrs.0"),
        ({"allowed_cidrs": [10]}, "allowed_cidrs.0"),
        ({"limits": {"burst": 4}}, "limits.burst"),
        ({"limits": {}}, "limits"),
        ({"limits": {"rate_per_second": 0}}, "limits.rate_per_second"),
        ({"limits": {"rate_per_second": 10001}}, "limits.rate_per_second"),
        ({"limits": {"rate_per_second": "2"}}, "limits.rate_per_second"),
        ({"limits": {"quota": {"limit": 10, "period": "year"}}}, "limits.quota.period"),
        ({"limits": {"quota": {"limit": 10}}}, "limits.quota.period"),
        ({"limits": {"rate_per_second": 2, "per_ip": True}}, "limits.per_ip"),
    ],
)
def test_an_invalid_allow_list_or_limits_is_refused_naming_the_field_and_creates_nothing(
    limits_stack: LimitsStack, admin_key: str, fields: dict[str, Any], field: str
) -> None:
    reply = limits_stack.create(admin_key, **fields)
    assert reply.status == 422, reply.body
    assert reply.body["field"] == field
    assert "not a known field" not in reply.body["message"] or field == "limits.per_ip"  # refused for its value
    assert limits_stack.management("GET", KEYS, admin_key).body["keys"] == [] or all(
        key["name"] != "consumer" for key in limits_stack.management("GET", KEYS, admin_key).body["keys"]
    )


# --- rate limits and quotas ----------------------------------------------------------------------------------


def test_a_key_limited_to_2_requests_a_second_is_answered_429_past_them_while_another_key_is_not(
    limits_stack: LimitsStack, admin_key: str
) -> None:
    limited = limits_stack.create(admin_key, limits={"rate_per_second": 2}).body
    other = limits_stack.create(admin_key).body
    assert limited["record"]["limits"] == {"rate_per_second": 2, "burst": 2}
    assert limits_stack.orders(limited["key"], 3) == [200, 200, 429]
    throttled = limits_stack.sample("GET", "/orders", limited["key"])
    assert (throttled.status, throttled.headers["Retry-After"], throttled.body["code"]) == (429, "1", "rate_limited")
    assert limits_stack.orders(other["key"], 10) == [200] * 10
    limits_stack.clock.now += 1.0
    assert limits_stack.orders(limited["key"], 3) == [200, 200, 429]


def test_a_rolled_key_and_its_successor_draw_on_one_bucket(limits_stack: LimitsStack, admin_key: str) -> None:
    old = limits_stack.create(admin_key, limits={"rate_per_second": 2}).body
    body = {"grace_seconds": 300}
    successor = limits_stack.management("POST", f"{KEYS}/{old['key_id']}/roll", admin_key, body).body
    assert successor["record"]["limits"] == {"rate_per_second": 2, "burst": 2}
    assert limits_stack.orders(old["key"], 1) + limits_stack.orders(successor["key"], 2) == [200, 200, 429]


def test_the_usage_of_a_key_with_a_quota_shows_what_it_used_and_has_left(
    limits_stack: LimitsStack, admin_key: str
) -> None:
    key = limits_stack.create(admin_key, limits={"quota": {"limit": 3, "period": "day"}}).body
    assert limits_stack.orders(key["key"], 4) == [200, 200, 200, 429]
    exhausted = limits_stack.sample("GET", "/orders", key["key"])
    assert (exhausted.headers["Retry-After"], exhausted.body["code"]) == ("3600", "quota_exhausted")
    usage = limits_stack.management("GET", f"{KEYS}/{key['key_id']}/usage", admin_key).body
    assert usage["quota"]["limit"] == 3 and usage["quota"]["period"] == "day"
    assert (usage["quota"]["used"], usage["quota"]["left"]) == (3, 0)
    assert usage["quota"]["resets_at"].endswith("T00:00:00.000Z")
    plain = limits_stack.create(admin_key).body
    assert "quota" not in limits_stack.management("GET", f"{KEYS}/{plain['key_id']}/usage", admin_key).body


def test_keys_without_limits_make_no_control_plane_call(limits_stack: LimitsStack, admin_key: str) -> None:
    before = limits_stack.api_keys()
    limits_stack.create(admin_key)
    assert limits_stack.api_keys() == before == ["archie-local/unlimited"]


def test_revoking_the_last_key_of_a_chain_deletes_its_usage_plan_key(limits_stack: LimitsStack, admin_key: str) -> None:
    key = limits_stack.create(admin_key, limits={"rate_per_second": 5}).body
    rolled = limits_stack.management("POST", f"{KEYS}/{key['key_id']}/roll", admin_key, {"grace_seconds": 300}).body
    chain = f"archie-local/{key['key_id']}"
    assert chain in limits_stack.api_keys()
    assert limits_stack.management("DELETE", f"{KEYS}/{key['key_id']}", admin_key).status in (202, 204)
    assert chain in limits_stack.api_keys()  # the successor still draws on it
    assert limits_stack.orders(rolled["key"]) == [200]
    assert limits_stack.management("DELETE", f"{KEYS}/{rolled['key_id']}", admin_key).status in (202, 204)
    assert chain not in limits_stack.api_keys()


@dataclass
class RefusingControlPlane:
    """API Gateway's control plane answering every call with one error: TooManyRequestsException (throttled),
    LimitExceededException (the account's API keys used up)."""

    error_type: str

    def __call__(self, request: HttpRequest) -> HttpResponse:
        body = json.dumps({"message": self.error_type}).encode()
        return HttpResponse(429, {"Content-Type": "application/json", "x-amzn-ErrorType": self.error_type}, body)


def create_with_control_plane(
    limits_stack: LimitsStack, admin_key: str, monkeypatch: pytest.MonkeyPatch, error_type: str
) -> Any:
    from archie_keys.edge import composition

    refusing = HttpService(RefusingControlPlane(error_type), 0).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_API_GATEWAY", refusing.url)
        composition.reset()
        return limits_stack.create(admin_key, name="limited", limits={"rate_per_second": 2})
    finally:
        refusing.stop()


def test_a_key_with_limits_is_not_created_when_api_gateway_fails_and_the_client_is_told_to_retry(
    limits_stack: LimitsStack, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = create_with_control_plane(limits_stack, admin_key, monkeypatch, "TooManyRequestsException")
    assert reply.status == 503 and int(reply.headers["Retry-After"]) > 0, reply.body
    listed = limits_stack.management("GET", KEYS, admin_key).body["keys"]
    assert [key for key in listed if key["name"] == "limited"] == []


def test_when_the_accounts_api_keys_are_used_up_a_key_with_limits_is_refused_409_and_not_created(
    limits_stack: LimitsStack, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = create_with_control_plane(limits_stack, admin_key, monkeypatch, "LimitExceededException")
    assert (reply.status, reply.body["code"], reply.body["field"]) == (409, "limits_capacity", "limits")
    listed = limits_stack.management("GET", KEYS, admin_key).body["keys"]
    assert [key for key in listed if key["name"] == "limited"] == []


# --- changing a stored key's limits: PATCH /keys/{key_id} ------------------------------------------------------


def patch_limits(limits_stack: LimitsStack, admin_key: str, key_id: str, limits: Any) -> Any:
    return limits_stack.management("PATCH", f"{KEYS}/{key_id}", admin_key, {"limits": limits})


def plans_of(limits_stack: LimitsStack, key_id: str) -> list[str]:
    """The usage plans the chain's API key is in, by name (the local control plane, as API Gateway's)."""
    client = boto3.client("apigateway", endpoint_url=limits_stack.control_plane_url)
    [api_key] = [k for k in client.get_api_keys()["items"] if k["name"] == f"archie-local/{key_id}"]
    return sorted(plan["name"] for plan in client.get_usage_plans(keyId=api_key["id"])["items"])


def test_a_patch_of_limits_is_enforced_by_the_gateway_at_once_and_null_removes_them(
    limits_stack: LimitsStack, admin_key: str
) -> None:
    key = limits_stack.create(admin_key, limits={"rate_per_second": 1, "burst": 1}).body
    assert limits_stack.orders(key["key"], 2) == [200, 429]
    removed = patch_limits(limits_stack, admin_key, key["key_id"], None)
    assert (removed.status, removed.body["limits"]) == (200, None), removed.body
    assert limits_stack.orders(key["key"], 5) == [200] * 5  # the clock has not moved: no limit at all
    raised = patch_limits(limits_stack, admin_key, key["key_id"], {"rate_per_second": 3})
    assert raised.body["limits"] == {"rate_per_second": 3, "burst": 3}
    assert limits_stack.orders(key["key"], 4) == [200, 200, 200, 429]
    assert plans_of(limits_stack, key["key_id"]) == ["archie-local-r3b3"]
    # The change is audited with its old and new values, as every PATCH.
    trail = limits_stack.management("GET", env_path("demo", "dev", f"/audit?key_id={key['key_id']}"), admin_key)
    updates = [r["details"] for r in trail.body["records"] if r.get("event") == "key.updated"]
    assert updates[0]["fields"] == ["limits"]
    assert updates[0]["limits"] == {"old": None, "new": {"rate_per_second": 3, "burst": 3}}


def test_a_key_without_limits_given_some_by_a_patch_is_answered_429_past_them(
    limits_stack: LimitsStack, admin_key: str
) -> None:
    key = limits_stack.create(admin_key).body
    assert limits_stack.orders(key["key"], 3) == [200] * 3
    given = patch_limits(limits_stack, admin_key, key["key_id"], {"quota": {"limit": 2, "period": "day"}})
    assert given.body["limits"] == {"quota": {"limit": 2, "period": "day"}}
    assert limits_stack.orders(key["key"], 3) == [200, 200, 429]
    usage = limits_stack.management("GET", f"{KEYS}/{key['key_id']}/usage", admin_key).body
    assert (usage["quota"]["used"], usage["quota"]["left"]) == (2, 0)


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"burst": 2}, "limits.burst"),
        ({"rate_per_second": 0}, "limits.rate_per_second"),
        ({"quota": {"limit": 5, "period": "year"}}, "limits.quota.period"),
        ({"rate_per_second": 1, "per_ip": True}, "limits.per_ip"),
        ({}, "limits"),
        ("fast", "limits"),
    ],
)
def test_a_patch_of_invalid_limits_is_refused_naming_the_field_and_changes_nothing(
    limits_stack: LimitsStack, admin_key: str, limits: Any, field: str
) -> None:
    key = limits_stack.create(admin_key, limits={"rate_per_second": 1, "burst": 1}).body
    refused = patch_limits(limits_stack, admin_key, key["key_id"], limits)
    assert (refused.status, refused.body["field"]) == (422, field), refused.body
    assert (
        limits_stack.management("GET", f"{KEYS}/{key['key_id']}", admin_key).body["limits"] == key["record"]["limits"]
    )
    assert limits_stack.orders(key["key"], 2) == [200, 429]


def test_a_patch_of_limits_api_gateway_refuses_answers_503_and_leaves_the_key_as_it_was(
    limits_stack: LimitsStack, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archie_keys.edge import composition

    key = limits_stack.create(admin_key, limits={"rate_per_second": 1, "burst": 1}).body
    refusing = HttpService(RefusingControlPlane("TooManyRequestsException"), 0).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_API_GATEWAY", refusing.url)
        composition.reset()
        reply = patch_limits(limits_stack, admin_key, key["key_id"], {"rate_per_second": 5})
    finally:
        refusing.stop()
        monkeypatch.setenv("AWS_ENDPOINT_URL_API_GATEWAY", limits_stack.control_plane_url)
        composition.reset()
    assert reply.status == 503 and int(reply.headers["Retry-After"]) > 0, reply.body
    stored = limits_stack.management("GET", f"{KEYS}/{key['key_id']}", admin_key).body
    assert (stored["limits"], stored.get("updated_at")) == (key["record"]["limits"], None)
    assert limits_stack.orders(key["key"], 2) == [200, 429]


def test_a_patch_of_limits_whose_commit_fails_moves_the_chain_back_to_its_old_plan(
    limits_stack: LimitsStack, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.client
    from botocore.exceptions import ClientError

    key = limits_stack.create(admin_key, limits={"rate_per_second": 1, "burst": 1}).body
    original = botocore.client.BaseClient._make_api_call
    moved_before_the_commit: list[list[str]] = []

    def failing_commit(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "TransactWriteItems":
            moved_before_the_commit.append(plans_of(limits_stack, key["key_id"]))
            error = {"Code": "InternalServerError", "Message": "injected"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 500}}, operation)  # type: ignore[typeddict-item]
        return original(client, operation, params)

    with monkeypatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", failing_commit)
        reply = patch_limits(limits_stack, admin_key, key["key_id"], {"rate_per_second": 5})
    assert reply.status == 503 and int(reply.headers["Retry-After"]) > 0, reply.body
    assert moved_before_the_commit and moved_before_the_commit[0] == ["archie-local-r5b5"]
    assert plans_of(limits_stack, key["key_id"]) == ["archie-local-r1b1"]  # moved back
    stored = limits_stack.management("GET", f"{KEYS}/{key['key_id']}", admin_key).body
    assert stored["limits"] == {"rate_per_second": 1, "burst": 1}
    limits_stack.clock.now += 1.0
    assert limits_stack.orders(key["key"], 2) == [200, 429]
    # The client's retry completes it.
    assert patch_limits(limits_stack, admin_key, key["key_id"], {"rate_per_second": 5}).status == 200
    assert plans_of(limits_stack, key["key_id"]) == ["archie-local-r5b5"]


# --- the authorizer's answer ---------------------------------------------------------------------------------


def authorizer_answer(aws: Any, key: str, source_ip: str, **stage_variables: str) -> dict[str, Any]:
    """The deployed authorizer's answer to a protected stage's request (its handler, as API Gateway calls it)."""
    from archie_local.lambdas import FunctionRegistry

    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/orders",
        "headers": {"Authorization": f"Bearer {key}"},
        "stageVariables": {"project": "demo", "environment": "dev", **stage_variables},
        "requestContext": {"identity": {"sourceIp": source_ip}},
    }
    return dict(FunctionRegistry(aws.functions)["AuthorizerFunction"].invoke(event))


def test_on_a_stage_that_does_not_declare_its_cache_keyed_on_the_address_a_key_with_an_allow_list_is_refused(
    aws: Any, limits_stack: LimitsStack, admin_key: str
) -> None:
    office = limits_stack.create(admin_key, allowed_cidrs=["10.0.0.0/8"]).body
    undeclared = authorizer_answer(aws, office["key"], "10.1.2.3")  # inside its range, but the cache is shared
    assert undeclared["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert undeclared["context"] == {
        "refusal": "source_ip_not_cache_keyed",
        "key_id": office["key_id"],
        "project": "demo",
        "environment": "dev",
    }
    declared = authorizer_answer(aws, office["key"], "10.1.2.3", source_ip_in_cache_key="true")
    assert declared["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    anywhere = limits_stack.create(admin_key).body["key"]
    assert authorizer_answer(aws, anywhere, "192.0.2.1")["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_every_allow_names_the_usage_plan_api_key_of_the_keys_chain_or_the_shared_one(
    aws: Any, limits_stack: LimitsStack, admin_key: str
) -> None:
    from archie_keys.domain.usage_keys import usage_identifier

    limited = limits_stack.create(admin_key, limits={"rate_per_second": 2}).body
    plain = limits_stack.create(admin_key).body
    chain = authorizer_answer(aws, limited["key"], "127.0.0.1")["usageIdentifierKey"]
    assert chain == usage_identifier("archie-local", limited["key_id"])
    shared = authorizer_answer(aws, plain["key"], "127.0.0.1")["usageIdentifierKey"]
    # The value template.yaml's UnlimitedApiKey declares, as the local gateway read it from the template.
    plans = limits_stack.sample.gateway.api.usage_plans
    declared = next(key.value for key in plans.keys.values() if key.name == "archie-local/unlimited")
    assert shared == declared == "akunlimitedusagekeyarchielocal"


def test_a_revocation_whose_chain_cannot_be_read_after_it_committed_still_answers_and_flushes(
    limits_stack: LimitsStack, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a key with limits rolled into a successor, and DynamoDB failing to read that successor
    from archie_keys.aws.key_store import KeyStore

    key = limits_stack.create(admin_key, limits={"rate_per_second": 5}).body
    rolled = limits_stack.management("POST", f"{KEYS}/{key['key_id']}/roll", admin_key, {"grace_seconds": 300}).body
    assert limits_stack.orders(key["key"]) == [200]
    real_get_key = KeyStore.get_key

    def get_key(self: KeyStore, project: str, environment: str, key_id: str, **kwargs: Any) -> Any:
        if key_id == rolled["key_id"]:
            raise ConnectionError("DynamoDB unreachable")
        return real_get_key(self, project, environment, key_id, **kwargs)

    monkeypatch.setattr(KeyStore, "get_key", get_key)
    # When the old key is deleted (the chain's liveness is read only after the revocation committed)
    reply = limits_stack.management("DELETE", f"{KEYS}/{key['key_id']}", admin_key)
    # Then the committed revocation is answered as one, is in force at once, and the chain's API key is kept
    assert reply.status in (202, 204), reply.body
    assert limits_stack.orders(key["key"]) == [403]
    assert f"archie-local/{key['key_id']}" in limits_stack.api_keys()
