"""The authorizer function as API Gateway calls it: 401 for what is not a key (which header carries one, however
it is written), a cached Deny naming a refused key (its context is what the audit reads: the key's id and the
reason, never its secret), a policy from the key alone for the API and stage asking (never another's, even
from the same warm instance), caching, and 503 (never 401, never an Allow) when it cannot decide.

The first tests provision a stack each; those after "Decisions on the shared stack" share one per module
(tests/component/decision_stack.py), which is what mutation testing reruns for every mutant."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from archie_keys.app.verification import KeyVerifier, VerifierConfig
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.keyformat import checksum
from archie_keys.edge.composition import get_services, get_settings
from archie_local.gateway import policy_allows
from archie_local.lambdas import FunctionRegistry
from tests.component.decision_stack import Environment
from tests.fakes.log_lines import LogLines
from tests.support import env_path, with_tagged_secret

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:api1234567/v1/GET/projects/demo/environments/dev/keys"


def request_event(key: str | None, method_arn: str = METHOD_ARN, stage_variables: dict | None = None) -> dict:
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": {"Authorization": f"Bearer {key}"} if key is not None else {},
        "stageVariables": stage_variables,
        "requestContext": {"requestId": "r-1"},
    }


@pytest.fixture
def authorize(aws: Any):
    handler = FunctionRegistry(aws.functions)["AuthorizerFunction"]
    return handler.invoke


def refused(authorize, event: dict) -> bool:
    """401: the handler raised exactly API Gateway's "Unauthorized"."""
    try:
        authorize(event)
    except Exception as error:
        assert str(error) == "Unauthorized"
        return True
    return False


def denied(authorize, event: dict) -> dict[str, str]:
    """403: the handler answered an explicit Deny of the whole stage; returns its context (the access log's)."""
    answer = authorize(event)
    statements = answer["policyDocument"]["Statement"]
    assert [statement["Effect"] for statement in statements] == ["Deny"], answer
    assert not policy_allows(answer["policyDocument"], event["methodArn"])
    return answer["context"]


def undecided(authorize, event: dict) -> bool:
    """503: the handler raised something other than "Unauthorized" (API Gateway's AUTHORIZER_FAILURE)."""
    try:
        authorize(event)
    except Exception as error:
        assert str(error) != "Unauthorized"
        return True
    return False


def test_a_valid_key_gets_a_policy_and_context_built_from_the_key(authorize, admin_key) -> None:
    answer = authorize(request_event(admin_key))
    context = answer["context"]
    assert (
        context["project"] == "demo" and context["environment"] == "dev" and context["key_id"] == answer["principalId"]
    )
    assert json.loads(context["permissions"])[0]["resource"] == "*"
    assert all(isinstance(v, str) for v in context.values())
    # The same answer serves any route of the stage: it does not depend on the route being called.
    other_route = METHOD_ARN.replace(
        "GET/projects/demo/environments/dev/keys", "DELETE/projects/demo/environments/dev/roles/x"
    )
    assert authorize(request_event(admin_key, other_route))["policyDocument"] == answer["policyDocument"]
    assert policy_allows(answer["policyDocument"], other_route)
    assert not policy_allows(
        answer["policyDocument"], METHOD_ARN.replace("demo/environments/dev", "demo/environments/prod")
    )


def test_a_checksum_valid_key_that_is_not_issued_is_denied_naming_only_the_claimed_id(authorize, admin_key) -> None:
    body = admin_key[:-6]
    wrong_secret = body[:-22] + ("A" * 22)
    unknown = "archie_demo_dev_" + "0" * 12 + "B" * 22
    for key in (wrong_secret + checksum(wrong_secret), unknown + checksum(unknown)):
        context = denied(authorize, request_event(key))
        # Nothing proves who holds that id: it is claimed, never attributed (no key_id, no place of its own).
        assert context == {"refusal": "not_found", "claimed_key_id": key.split("_")[-1][:12]}


def test_a_revoked_key_is_denied_with_its_id_and_reason_so_every_cached_refusal_is_attributed(
    authorize, admin_key
) -> None:
    key_id = admin_key.split("_")[-1][:12]
    revoke_directly(key_id)
    get_services().verifier.clear()
    context = denied(authorize, request_event(admin_key))
    assert context == {"refusal": "revoked", "key_id": key_id, "project": "demo", "environment": "dev"}


def gateway_event(aws: Any, headers: list[tuple[str, str]]) -> dict[str, Any]:
    """The REQUEST event the local API Gateway builds for GET /whoami sent with these headers, duplicates
    kept: like API Gateway's, its `headers` holds one value per spelling and `multiValueHeaders` all of them."""
    from archie_local.events import Call, authorizer_event
    from archie_local.http_server import HttpRequest
    from archie_local.routing import build_apis
    from archie_local.template import load_template

    api = build_apis(load_template(), aws.resolver, FunctionRegistry(aws.functions))["ManagementApi"]
    call = Call.of(api, HttpRequest("GET", env_path("demo", "dev", "/whoami"), {}, headers, b"", "127.0.0.1"))
    route, params = next(
        (r, m.groupdict()) for r in api.routes if r.method == "GET" and (m := r.pattern.match(call.path))
    )
    return authorizer_event(api, call, route, params)


@pytest.mark.parametrize(
    "names",
    [("Authorization", "Authorization"), ("authorization", "Authorization"), ("Authorization", "AUTHORIZATION")],
    ids=["same-spelling", "garbage-spelled-first", "key-spelled-first"],
)
def test_a_request_with_two_authorization_headers_is_refused_whichever_holds_the_key(
    aws, authorize, admin_key, names
) -> None:
    # Whatever API Gateway caches such a request under, the authorizer's answer must not be an Allow.
    for garbage_first in (True, False):
        sent = ["Bearer garbage", f"Bearer {admin_key}"][:: 1 if garbage_first else -1]
        assert refused(authorize, gateway_event(aws, list(zip(names, sent, strict=True)))), (names, sent)
    # The same builder's event for one header is accepted: the refusal is the duplicate's.
    assert authorize(gateway_event(aws, [("Authorization", f"Bearer {admin_key}")]))["principalId"]


def test_headers_that_disagree_with_multi_value_headers_are_refused(authorize, admin_key) -> None:
    event = request_event(admin_key)
    event["multiValueHeaders"] = {"Authorization": ["Bearer garbage"]}
    assert refused(authorize, event)


def test_a_key_is_refused_on_another_environments_stage_before_any_read(authorize, admin_key, monkeypatch) -> None:
    reads: list[str] = []
    store = get_services().verifier.store
    for operation in ("get_item", "batch_get_item", "query"):
        original = getattr(store.client, operation)
        monkeypatch.setattr(
            store.client, operation, lambda *a, _op=operation, _orig=original, **k: reads.append(_op) or _orig(*a, **k)
        )
    context = denied(authorize, request_event(admin_key, stage_variables={"project": "demo", "environment": "prod"}))
    # The place in the Deny is the stage's (its own variables), never the one the token names.
    claimed = admin_key.split("_")[-1][:12]
    assert context == {
        "refusal": "wrong_environment",
        "claimed_key_id": claimed,
        "project": "demo",
        "environment": "prod",
    }
    # A stage with one of the two variables is the operator's mistake: 503, not the key's fault.
    assert undecided(authorize, request_event(admin_key, stage_variables={"project": "demo"}))
    assert reads == []
    # The same key on its own environment's stage is read (and accepted): the spy does see reads.
    assert authorize(request_event(admin_key, stage_variables={"project": "demo", "environment": "dev"}))
    assert reads


def test_a_dynamodb_failure_is_undecided_never_unauthorized_nor_allowed(aws, authorize, admin_key) -> None:
    boto3.client("dynamodb").delete_table(TableName=aws.environment["KEYS_TABLE"])
    assert undecided(authorize, request_event(admin_key))


def test_an_unreadable_pepper_is_undecided(aws, authorize, admin_key) -> None:
    boto3.client("secretsmanager").delete_secret(
        SecretId=aws.environment["PEPPER_SECRET_ID"], ForceDeleteWithoutRecovery=True
    )
    from archie_keys.edge import composition

    composition.reset()
    assert undecided(authorize, request_event(admin_key))


def verifier_config() -> VerifierConfig:
    settings = get_settings()
    return VerifierConfig(
        settings.authorizer_cache_ttl_seconds,
        settings.authorizer_negative_cache_ttl_seconds,
        settings.authorizer_proof_ttl_seconds,
    )


def revoke_directly(key_id: str) -> None:
    """Revoke a key in the table without going through the API (so no cache is flushed or warned)."""
    store = get_services().store
    record = store.get_key("demo", "dev", key_id)
    get_services().transactions.commit(store.key_revoke_writes(record, "2026-01-01T00:00:00Z", "test", 0))


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_warm_decision_is_reused_until_its_ttl_then_revocation_shows(aws, admin_key) -> None:
    clock = Clock()
    verifier = KeyVerifier(
        get_services().store, get_services().hasher_provider, verifier_config(), clock, tag_keys=get_services().key_tags
    )
    first = verifier.verify(admin_key)
    # Revoke the key behind the verifier's back: within the TTL the cached decision stands...
    revoke_directly(first.identity.key_id)
    assert verifier.verify(admin_key) is first
    # ...and once the TTL has passed the next request re-reads the record and refuses it.
    clock.now += get_settings().authorizer_cache_ttl_seconds + 0.01
    with pytest.raises(KeyRefusedError) as refusal:
        verifier.verify(admin_key)
    assert refusal.value.reason == "revoked"


def test_a_malformed_key_costs_no_aws_call(aws) -> None:
    class NoPepperPlease:
        def __call__(self) -> Any:
            raise AssertionError("the pepper (a Secrets Manager call) was fetched for a malformed key")

        def for_version(self, version: str | None) -> Any:
            raise AssertionError("a pepper version was fetched for a malformed key")

    verifier = KeyVerifier(get_services().store, NoPepperPlease(), verifier_config(), tag_keys=get_services().key_tags)
    for key in ("garbage", "archie_demo_dev_" + "x" * 40):
        with pytest.raises(KeyRefusedError) as refusal:
            verifier.verify(key)
        assert refusal.value.reason == "malformed"


def test_an_expired_key_is_refused_even_from_a_warm_cache(aws, api, admin_key) -> None:
    api(
        "PUT",
        env_path("demo", "dev", "/roles/viewer"),
        admin_key,
        {"permissions": [{"resource": "keys", "actions": ["read"]}]},
    )
    clock = Clock()
    created = api(
        "POST",
        env_path("demo", "dev", "/keys"),
        admin_key,
        {
            "name": "short",
            "roles": ["viewer"],
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 120)),
        },
    )
    assert created.status == 201, created.body
    verifier = KeyVerifier(
        get_services().store, get_services().hasher_provider, verifier_config(), clock, tag_keys=get_services().key_tags
    )
    verifier.verify(created.body["key"])
    clock.now += 121
    with pytest.raises(KeyRefusedError) as refusal:
        verifier.verify(created.body["key"])
    assert refusal.value.reason == "expired"


def test_a_hash_with_outdated_parameters_is_upgraded_on_use(aws, admin_key, monkeypatch) -> None:
    from archie_keys.edge import composition

    key_id = admin_key.split("_")[-1][:12]
    before = get_services().store.get_key("demo", "dev", key_id).hash
    monkeypatch.setenv("ARGON2_MEMORY_KIB", "512")
    composition.reset()
    get_services().verifier.verify(admin_key)
    after = get_services().store.get_key("demo", "dev", key_id)
    assert after is not None and after.hash != before and "m=512" in after.hash and after.hash_params["m"] == 512


def test_a_forged_key_is_refused_without_any_read_even_with_the_table_gone(aws, admin_key) -> None:
    """Anyone can compute a checksum, nobody else a tag: a key this service did not issue costs one HMAC."""
    clock = Clock()
    verifier = KeyVerifier(
        get_services().store, get_services().hasher_provider, verifier_config(), clock, tag_keys=get_services().key_tags
    )
    verifier.verify(admin_key)  # warm: the environment's state is known (it refuses untagged keys)
    body = admin_key[:-6]
    forged = body[:-22] + "Q" * 22
    forged += checksum(forged)
    boto3.client("dynamodb").delete_table(TableName=aws.environment["KEYS_TABLE"])
    for _ in range(3):
        with pytest.raises(KeyRefusedError) as refusal:
            verifier.verify(forged)
        assert refusal.value.reason == "not_found"
        clock.now += get_settings().authorizer_negative_cache_ttl_seconds + 0.01


def test_a_refused_key_is_remembered_so_a_flood_of_it_costs_no_reads(aws, admin_key) -> None:
    clock = Clock()
    verifier = KeyVerifier(
        get_services().store, get_services().hasher_provider, verifier_config(), clock, tag_keys=get_services().key_tags
    )
    # A wrong secret with a valid tag (only the tag keys' holder can make one): it is read and verified once.
    wrong = with_tagged_secret(admin_key, "Q" * 16)
    with pytest.raises(KeyRefusedError):
        verifier.verify(wrong)
    # With the table gone, any read would fail the check; the remembered refusal answers instead.
    boto3.client("dynamodb").delete_table(TableName=aws.environment["KEYS_TABLE"])
    for _ in range(3):
        with pytest.raises(KeyRefusedError) as refusal:
            verifier.verify(wrong)
        assert refusal.value.reason == "not_found"
    clock.now += get_settings().authorizer_negative_cache_ttl_seconds + 0.01
    with pytest.raises(Exception) as after_ttl:  # now it reads again, and the missing table shows
        verifier.verify(wrong)
    assert not isinstance(after_ttl.value, KeyRefusedError)


# --- Decisions on the shared stack ------------------------------------------------------------------------------------


MANAGEMENT = "arn:aws:execute-api:us-east-1:123456789012:mgmt000001/v1"
SAMPLE = "arn:aws:execute-api:us-east-1:123456789012:orders0001/dev"


def event(headers: Any, method_arn: str, stage_variables: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": headers,
        "stageVariables": stage_variables,
        "requestContext": {"requestId": "req-1", "extendedRequestId": "ext-1="},
    }


UNDECIDED = "undecided"  # the authorizer raised something other than "Unauthorized": API Gateway's 503


def decide(env: Environment, headers: Any, method_arn: str = f"{MANAGEMENT}/GET/x", **stage: str) -> Any:
    """The answer (an Allow or a Deny), None for 401, or UNDECIDED."""
    try:
        return env.stack.functions["AuthorizerFunction"].invoke(event(headers, method_arn, stage or None))
    except Exception as error:
        return None if str(error) == "Unauthorized" else UNDECIDED


def refusal(answer: Any) -> dict[str, str]:
    """The context of an explicit Deny of the whole stage (a refused key), asserting that it is one."""
    assert isinstance(answer, dict), answer
    assert [statement["Effect"] for statement in answer["policyDocument"]["Statement"]] == ["Deny"]
    return dict(answer["context"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer {key}"},
        {"authorization": "bearer {key}"},
        {"AUTHORIZATION": "BEARER {key}"},
        {"Authorization": "  Bearer   {key}  "},
        {"Accept": "application/json", "Authorization": "Bearer {key}"},
    ],
)
def test_a_bearer_key_is_found_however_the_header_is_written(env: Environment, headers) -> None:
    answer = decide(env, {name: value.format(key=env.admin) for name, value in headers.items()})
    assert answer is not None and answer["principalId"] == env.admin.split("_")[-1][:12]


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"Authorization": "{key}"},
        {"Authorization": "Basic {key}"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer"},
        {"X-Api-Key": "{key}"},
        {"Authorization": "Token {key}", "authorization": "Bearer {key}"},  # the first Authorization header decides
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer {key}x"},  # a typo: one character more fails the key's checksum
    ],
)
def test_anything_but_a_bearer_key_is_unauthorized(env: Environment, headers) -> None:
    filled = {n: v.format(key=env.admin) for n, v in headers.items()} if headers is not None else None
    assert decide(env, filled) is None


def test_a_stage_names_both_project_and_environment_or_it_serves_no_key(env: Environment) -> None:
    headers = {"Authorization": f"Bearer {env.admin}"}
    key_id = env.admin.split("_")[-1][:12]
    # One variable only: the stage is misconfigured, which is no key's fault (503, and the error alarm).
    assert decide(env, headers, f"{SAMPLE}/GET/orders", project=env.project) == UNDECIDED
    assert decide(env, headers, f"{SAMPLE}/GET/orders", environment=env.environment) == UNDECIDED
    assert decide(env, headers, "not-an-arn") == UNDECIDED
    for stage in (
        {"project": env.project, "environment": "other"},
        {"project": "other", "environment": env.environment},
    ):
        answer = decide(env, headers, f"{SAMPLE}/GET/orders", **stage)
        assert refusal(answer) == {"refusal": "wrong_environment", "claimed_key_id": key_id, **stage}
    assert decide(env, headers, f"{SAMPLE}/GET/orders", project=env.project, environment=env.environment)


def test_each_api_and_stage_gets_its_own_policy_from_the_same_warm_instance(env: Environment) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]}, {"resource": "keys", "actions": ["read"]})
    key = env.key("reader")["key"]
    headers = {"Authorization": f"Bearer {key}"}
    stage = {"project": env.project, "environment": env.environment}
    base = f"/projects/{env.project}/environments/{env.environment}"
    other_sample = SAMPLE.replace("/dev", "/prod")
    answers = {
        "management": decide(env, headers, f"{MANAGEMENT}/GET{base}/keys"),
        "sample": decide(env, headers, f"{SAMPLE}/GET/orders", **stage),
        "other stage": decide(env, headers, f"{other_sample}/GET/orders", **stage),
        "management again": decide(env, headers, f"{MANAGEMENT}/GET{base}/whoami"),
    }
    policies = {name: answer["policyDocument"] for name, answer in answers.items()}
    assert policy_allows(policies["management"], f"{MANAGEMENT}/GET{base}/keys")
    assert not policy_allows(policies["management"], f"{MANAGEMENT}/GET/orders")
    assert policy_allows(policies["sample"], f"{SAMPLE}/GET/orders/7")
    assert not policy_allows(policies["sample"], f"{SAMPLE}/GET{base}/keys")
    assert not policy_allows(policies["sample"], f"{other_sample}/GET/orders/7")
    assert policy_allows(policies["other stage"], f"{other_sample}/GET/orders/7")
    assert not policy_allows(policies["other stage"], f"{SAMPLE}/GET/orders/7")
    assert policies["management again"] == policies["management"]
    contexts = [answer["context"] for answer in answers.values()]
    assert all(context == contexts[0] for context in contexts)
    assert json.loads(contexts[0]["roles"]) == ["reader"] and contexts[0]["project"] == env.project


class Lines(LogLines):
    """The authorizer's log records."""

    def undecided(self) -> list[dict[str, Any]]:
        lines = self.fields("key_id", "project", "environment", "extended_request_id", message="key not decided")
        return [{name: value for name, value in line.items() if name != "message"} for line in lines]


@pytest.fixture
def lines() -> Iterator[Lines]:
    from archie_keys.edge.authorizer import logger

    handler = Lines()
    logging.getLogger(logger.name).addHandler(handler)
    yield handler
    logging.getLogger(logger.name).removeHandler(handler)


def test_a_refused_key_is_denied_naming_its_id_and_reason_for_the_audit_and_never_its_secret(env, lines) -> None:
    key_id = env.admin.split("_")[-1][:12]
    wrong = env.admin[:-28] + "S" * 22
    wrong += checksum(wrong)
    answers = [
        decide(env, {"Authorization": f"Bearer {wrong}"}),
        decide(env, {"Authorization": f"Bearer {env.admin}"}, f"{SAMPLE}/GET/o", project="x", environment="y"),
    ]
    assert [refusal(answer) for answer in answers] == [
        {"refusal": "not_found", "claimed_key_id": key_id},
        {"refusal": "wrong_environment", "claimed_key_id": key_id, "project": "x", "environment": "y"},
    ]
    assert decide(env, {"Authorization": "Bearer garbage"}) is None
    assert decide(env, {}) is None
    # The access log carries refusals: the authorizer writes no line for them (a flood costs no log bytes).
    assert lines.records == []
    answered = json.dumps(answers)
    assert "S" * 22 not in answered and env.admin[-28:-6] not in answered


def test_a_failure_while_deciding_is_a_503_and_is_logged_as_an_error(env, lines, monkeypatch) -> None:
    from archie_keys.edge.composition import get_services

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(get_services().verifier.store.client, "query", broken)
    assert decide(env, {"Authorization": f"Bearer {env.admin}"}) == UNDECIDED
    assert lines.undecided() == [
        {
            "key_id": env.admin.split("_")[-1][:12],
            "project": env.project,
            "environment": env.environment,
            "extended_request_id": "ext-1=",
        }
    ]


def test_each_refusal_is_counted_once_by_its_reason_and_an_accepted_key_not_at_all(env, capsys, monkeypatch) -> None:
    """The operations dashboard draws refusals by reason from these lines (and allowed decisions from Lambda's
    own counts), so each refusal must name why, and a failure must read "error", never a key problem."""
    wrong = env.admin[:-28] + "S" * 22
    wrong += checksum(wrong)
    bearer = {"Authorization": f"Bearer {env.admin}"}
    capsys.readouterr()
    assert decide(env, {}) is None
    assert decide(env, {"Authorization": "Bearer garbage"}) is None
    refusal(decide(env, {"Authorization": f"Bearer {wrong}"}))
    assert decide(env, bearer, f"{SAMPLE}/GET/orders", project=env.project) == UNDECIDED
    refusal(decide(env, bearer, f"{SAMPLE}/GET/orders", project="other", environment=env.environment))
    assert "Allow" in json.dumps(decide(env, bearer))

    from archie_keys.edge import composition

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("DynamoDB is down")

    composition.reset()  # a new instance, which must read the key
    monkeypatch.setattr(composition.get_services().verifier.store.client, "query", broken)
    assert decide(env, bearer) == UNDECIDED

    every = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    # env.admin is the environment's bootstrap key: its accepted use is the break-glass line, and nothing else.
    assert [line["key_id"] for line in every if "BootstrapKeyUsed" in line] == [env.admin.split("_")[-1][:12]]
    lines = [line for line in every if "BootstrapKeyUsed" not in line]
    assert [(line["Refused"], line["Reason"]) for line in lines] == [
        (1, "malformed"),
        (1, "malformed"),
        (1, "not_found"),
        (1, "error"),
        (1, "wrong_environment"),
        (1, "error"),
    ]
