"""Every error code the API can answer is in the API guide's table (docs/api.md), every code in the table can be answered, and
each one is shown here with the request that gets it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.component.test_error_messages import python_reprs
from tests.support import env_path, write_legacy_key

ROOT = Path(__file__).resolve().parents[2]
KEYS = env_path("demo", "dev", "/keys")
VIEWER = {"permissions": [{"resource": "keys", "actions": ["read"]}]}
# The codes /verify gives in its 200 answer are answers about another key, not errors of the request.
VERIFY_ANSWER_CODES = {"valid"}
# ArchieError's own default: every raised error is one of its subclasses, each with its code.
BASE_CLASS_DEFAULT = {"bad_request"}


def documented() -> dict[str, int]:
    guide = (ROOT / "docs" / "api.md").read_text()
    table = guide[guide.index("## Errors") :]
    table = table[: table.index("\n\n", table.index("| status"))]
    codes: dict[str, int] = {}
    for status, cell in re.findall(r"^\| (\d{3}) \| (.+) \|$", table, re.MULTILINE):
        for code in re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", cell)):  # not the notes in brackets
            codes[code] = int(status)
    return codes


def in_the_code() -> set[str]:
    sources = [*ROOT.glob("layers/shared/archie_keys/**/*.py"), *ROOT.glob("functions/*/*.py"), ROOT / "template.yaml"]
    found: set[str] = set()
    for path in sources:
        text = path.read_text()
        found |= set(re.findall(r'\bcode\s*=\s*"([a-z_]+)"', text))
        found |= set(re.findall(r'"code":\s*"([a-z_]+)"', text))
    return found - VERIFY_ANSWER_CODES - BASE_CLASS_DEFAULT


def test_the_api_guide_lists_exactly_the_codes_the_code_can_answer() -> None:
    assert set(documented()) == in_the_code()


@pytest.fixture
def viewer(api: Any, admin_key: str) -> dict[str, Any]:
    assert api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER).status == 201
    return dict(api("POST", KEYS, admin_key, {"name": "v", "roles": ["viewer"]}).body)


def direct_call(aws: Any, admin_key: str, function: str, method: str, path: str) -> Any:
    """Invoke a handler as if API Gateway's policy had let the request through (a misrouted or direct call)."""
    import json

    from archie_keys.edge.composition import get_services
    from archie_local.lambdas import FunctionRegistry

    identity = get_services().verifier.verify(admin_key).identity
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {},
        "multiValueHeaders": {},
        "requestContext": {"authorizer": identity.to_authorizer_context(), "requestId": "r", "stage": "v1"},
        "body": None,
    }
    result = FunctionRegistry(aws.functions)[function].invoke(event)
    return result["statusCode"], json.loads(result["body"])


def role_writer(api: Any, admin_key: str) -> str:
    """A key that may write roles but holds nothing else to grant."""
    api(
        "PUT",
        env_path("demo", "dev", "/roles/role-writer"),
        admin_key,
        {"permissions": [{"resource": "roles", "actions": ["write"]}]},
    )
    return str(api("POST", KEYS, admin_key, {"name": "rw", "roles": ["role-writer"]}).body["key"])


def expired_roll(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
    created = api("POST", KEYS, admin_key, {"name": "short", "roles": ["viewer"], "expires_at": soon}).body
    from archie_keys.edge.composition import AwsServices

    # An hour later for the use cases (their clock is services.clock): the key has expired by then.
    monkeypatch.setattr(AwsServices, "clock", property(lambda self: lambda: time.time() + 3600))
    return api("POST", f"{KEYS}/{created['key_id']}/roll", admin_key, {"grace_seconds": 0})


def stale_role_edit(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Another edit of the role lands between this request's read and its write."""
    from archie_keys.aws.key_store import KeyStore
    from archie_keys.edge.composition import get_services

    read = KeyStore.get_role

    def read_then_someone_edits(store: KeyStore, project: str, environment: str, name: str) -> Any:
        role = read(store, project, environment, name)
        monkeypatch.setattr(KeyStore, "get_role", read)
        meanwhile = {**role, "updated_at": "2099-01-01T00:00:00.000Z", "updated_by": "someone"}
        get_services().transactions.commit([store.role_write(project, environment, name, meanwhile, role)])
        return role

    monkeypatch.setattr(KeyStore, "get_role", read_then_someone_edits)
    return api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, {"description": "mine", **VIEWER})


def dependency_down(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from botocore.exceptions import EndpointConnectionError

    from archie_keys.aws.key_store import KeyStore

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    monkeypatch.setattr(KeyStore, "get_role", unreachable)
    return api("GET", env_path("demo", "dev", "/roles/viewer"), admin_key)


def a_bug(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    import archie_keys.app.roles as roles

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug, not the client's doing")

    monkeypatch.setattr(roles, "check_role_name", broken)
    return api("GET", env_path("demo", "dev", "/roles/viewer"), admin_key)


def in_progress(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from archie_keys.app import idempotent
    from archie_keys.edge.composition import get_services
    from archie_keys.edge.models import CreateKeyBody

    body = {"name": "ci", "roles": ["viewer"]}
    scope = {"project": "demo", "environment": "dev", "caller": admin_key.split("_")[-1][:12], "operation": "create"}
    idempotent.begin(get_services(), idempotent.IdempotentRequest(scope, "k-1", CreateKeyBody(**body).fingerprinted()))
    return api("POST", KEYS, admin_key, body, headers={"Idempotency-Key": "k-1"})


def not_active(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    body, headers = {"name": "ci", "roles": ["viewer"]}, {"Idempotency-Key": "k-2"}
    created = api("POST", KEYS, admin_key, body, headers=headers).body
    api("DELETE", f"{KEYS}/{created['key_id']}", admin_key)
    return api("POST", KEYS, admin_key, body, headers=headers)


def key_in_use(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from archie_keys.edge.composition import get_services

    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    get_services().store.touch_last_used("demo", "dev", viewer["key_id"], now)  # as the audit ingest does
    return api("DELETE", f"{KEYS}/{viewer['key_id']}?if_unused_for=3600", admin_key)


def reused(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    api("POST", KEYS, admin_key, {"name": "a", "roles": ["viewer"]}, headers={"Idempotency-Key": "k-3"})
    return api("POST", KEYS, admin_key, {"name": "b", "roles": ["viewer"]}, headers={"Idempotency-Key": "k-3"})


def not_owned(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    boto3.client("secretsmanager").create_secret(Name="archie/keys/demo/dev/theirs", SecretString="x")
    return api(
        "POST", KEYS, admin_key, {"name": "x", "roles": ["viewer"], "secret_name": "archie/keys/demo/dev/theirs"}
    )


def secret_in_use(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    body = {"name": "x", "roles": ["viewer"], "secret_name": "archie/keys/demo/dev/shared"}
    api("POST", KEYS, admin_key, body)
    return api("POST", KEYS, admin_key, body)


def too_large(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    wide = {
        "permissions": [
            {"resource": f"r{r}x{p}", "actions": ["read"], "filters": {f"f{i}": "v" * 256 for i in range(8)}}
            for p in range(20)
            for r in range(1)
        ]
    }
    for r in range(10):
        api("PUT", env_path("demo", "dev", f"/roles/wide{r}"), admin_key, wide)
    return api("POST", KEYS, admin_key, {"name": "wide", "roles": [f"wide{r}" for r in range(10)]})


def legacy_keys_active(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    assert api("PUT", env_path("demo", "dev"), admin_key, {"legacy_keys": "accept"}).status == 200
    write_legacy_key("demo", "dev", ("viewer",))
    return api("PUT", env_path("demo", "dev"), admin_key, {"legacy_keys": "refuse"})


def too_many_revocations(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from archie_keys.domain import limits
    from archie_keys.edge import composition

    monkeypatch.setattr(limits, "REVOCATIONS_RUNNING_MAX", 1)  # 20 in life: one is enough to fill it here
    monkeypatch.setenv("REVOCATION_WORKER_FUNCTION", "")  # so the first stays under way
    composition.reset()
    revocations = env_path("demo", "dev", "/keys/revocations")
    assert api("POST", revocations, admin_key, {"context": {"tenant": "a"}, "reason": "x"}).status == 202
    return api("POST", revocations, admin_key, {"context": {"tenant": "b"}, "reason": "x"})


def limits_capacity(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """API Gateway's account quota of API keys used up (its LimitExceededException), for a key with limits."""
    from archie_keys.edge import composition
    from archie_local.http_server import HttpService
    from tests.component.test_per_key_limits import RefusingControlPlane

    refusing = HttpService(RefusingControlPlane("LimitExceededException"), 0).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_API_GATEWAY", refusing.url)
        composition.reset()
        return api("POST", KEYS, admin_key, {"name": "x", "roles": ["viewer"], "limits": {"rate_per_second": 2}})
    finally:
        refusing.stop()


# A trust policy making viewer keys; put under two names, it reaches the trust limits the cases below lower.
TRUST_POLICY = {
    "issuer": "https://token.actions.githubusercontent.com",
    "audience": "archie-keys",
    "subject": "repo:acme/billing:ref:refs/heads/main",
    "roles": ["viewer"],
}


def too_many_trust_policies(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from archie_keys.domain import limits

    monkeypatch.setattr(limits, "TRUST_POLICIES_PER_ENVIRONMENT_MAX", 1)  # 50 in life: one is enough here
    assert api("PUT", env_path("demo", "dev", "/trust/first"), admin_key, TRUST_POLICY).status == 201
    return api("PUT", env_path("demo", "dev", "/trust/second"), admin_key, TRUST_POLICY)


def rate_limited(api: Any, admin_key: str, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from archie_keys.domain import limits

    monkeypatch.setattr(limits, "TRUST_CHANGES_PER_ENVIRONMENT_PER_MINUTE", 1)  # 20 in life
    monkeypatch.setattr(limits, "ENVIRONMENT_RATE_WINDOW_SECONDS", 10**9)  # one window: never straddles two
    assert api("PUT", env_path("demo", "dev", "/trust/first"), admin_key, TRUST_POLICY).status == 201
    return api("PUT", env_path("demo", "dev", "/trust/second"), admin_key, TRUST_POLICY)


Case = Callable[[Any, str, dict[str, Any], pytest.MonkeyPatch], Any]


def too_many_webhooks(api: Any, admin: str, viewer: Any, mp: Any) -> Any:
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["key.created"]}
    for number in range(10):  # limits.WEBHOOKS_PER_ENVIRONMENT_MAX
        assert api("PUT", env_path("demo", "dev", f"/webhooks/w{number}"), admin, hook).status == 201
    return api("PUT", env_path("demo", "dev", "/webhooks/one-more"), admin, hook)


CASES: dict[str, Case] = {
    "unauthorized": lambda api, admin, viewer, mp: api("GET", KEYS, "archie_demo_dev_" + "A" * 40),
    "forbidden": lambda api, admin, viewer, mp: api("DELETE", f"{KEYS}/{viewer['key_id']}", viewer["key"]),
    "privilege_escalation": lambda api, admin, viewer, mp: api(
        "PUT",
        env_path("demo", "dev", "/roles/x"),
        role_writer(api, admin),
        {"permissions": [{"resource": "*", "actions": ["read"]}]},
    ),
    "secret_not_owned": not_owned,
    "secret_in_use": secret_in_use,
    "legacy_keys_active": legacy_keys_active,
    "not_found": lambda api, admin, viewer, mp: api("GET", f"{KEYS}/AAAAAAAAAAAA", admin),
    "role_in_use": lambda api, admin, viewer, mp: api("DELETE", env_path("demo", "dev", "/roles/viewer"), admin),
    "idempotency_in_progress": in_progress,
    "already_rolled": lambda api, admin, viewer, mp: (
        api("POST", f"{KEYS}/{viewer['key_id']}/roll", admin, {"grace_seconds": 60}),
        api("POST", f"{KEYS}/{viewer['key_id']}/roll", admin, {"grace_seconds": 60}),
    )[1],
    "key_expired": expired_roll,
    "key_not_active": not_active,
    "key_in_use": key_in_use,
    "conflict": stale_role_edit,
    "too_many_revocations": too_many_revocations,
    "limits_capacity": limits_capacity,
    "too_many_trust_policies": too_many_trust_policies,
    "rate_limited": rate_limited,
    "payload_too_large": lambda api, admin, viewer, mp: api("POST", KEYS, admin, raw_body=b"{" + b" " * 70_000 + b"}"),
    "validation_error": lambda api, admin, viewer, mp: api("POST", KEYS, admin, {"name": ""}),
    "invalid_json": lambda api, admin, viewer, mp: api("POST", KEYS, admin, raw_body=b'{"name": '),
    "unknown_role": lambda api, admin, viewer, mp: api("POST", KEYS, admin, {"name": "x", "roles": ["nope"]}),
    "missing_context": lambda api, admin, viewer, mp: (
        api(
            "PUT",
            env_path("demo", "dev", "/roles/tenant"),
            admin,
            {"permissions": [{"resource": "orders", "actions": ["read"], "filters": {"t": {"from_context": "t"}}}]},
        ),
        api("POST", KEYS, admin, {"name": "x", "roles": ["tenant"]}),
    )[1],
    "idempotency_key_reused": reused,
    "authorizer_response_too_large": too_large,
    "secret_name_outside_prefix": lambda api, admin, viewer, mp: api(
        "POST", KEYS, admin, {"name": "x", "roles": ["viewer"], "secret_name": "archie/keys/acme/prod/x"}
    ),
    "webhook_url_refused": lambda api, admin, viewer, mp: api(
        "PUT",
        env_path("demo", "dev", "/webhooks/inside"),
        admin,
        {"url": "https://10.0.0.5/x", "events": ["key.created"]},
    ),
    "too_many_webhooks": too_many_webhooks,
    "service_unavailable": dependency_down,
    "internal_error": a_bug,
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_documented_code_is_answered_with_its_status(api, admin_key, viewer, monkeypatch, request, code) -> None:
    if code == "key_in_use":
        request.getfixturevalue("log_delivery")  # a guarded delete reads the audit once deliveries prove it whole
    reply = CASES[code](api, admin_key, viewer, monkeypatch)
    assert (reply.status, reply.body["code"]) == (documented()[code], code), reply.body
    assert isinstance(reply.body["message"], str) and reply.body["message"]
    messages = [reply.body["message"], *(error["message"] for error in reply.body.get("errors") or [])]
    assert [python_reprs(message) for message in messages] == [[]] * len(messages), messages  # JSON or plain text
    if code == "service_unavailable":
        assert int(reply.headers["Retry-After"]) > 0
    if code == "internal_error":
        assert "bug" not in reply.body["message"]  # nothing of the failure reaches the client


@pytest.mark.parametrize("failure", ["read timeout", "connection closed"])
def test_a_dependency_that_times_out_is_503_on_reads_and_on_changes(
    api, admin_key, viewer, monkeypatch, failure
) -> None:
    """botocore's timeouts carry `response=None`: answered 503 like any outage, never a crash (API Gateway's
    502), and a change that timed out leaves nothing behind."""
    import botocore.client
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    url = "https://dynamodb.us-east-1.amazonaws.com"
    error = ReadTimeoutError(endpoint_url=url) if failure == "read timeout" else ConnectionClosedError(endpoint_url=url)
    original = botocore.client.BaseClient._make_api_call
    before = api("GET", KEYS, admin_key).body["keys"]
    for failing, method, path, body in (
        ("Query", "GET", KEYS, None),
        ("TransactWriteItems", "POST", KEYS, {"name": "x", "roles": ["viewer"]}),
    ):

        def timing_out(client: Any, operation: str, params: dict[str, Any], failing: str = failing) -> Any:
            if operation == failing:
                raise error
            return original(client, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", timing_out)
        reply = api(method, path, admin_key, body)
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
        assert (reply.status, reply.body["code"]) == (503, "service_unavailable"), (failing, reply.body)
        assert int(reply.headers["Retry-After"]) > 0
    assert api("GET", KEYS, admin_key).body["keys"] == before


def test_wrong_environment_is_answered_when_a_function_is_reached_without_the_gateways_policy(aws, admin_key) -> None:
    # Through the API, another environment's routes answer `forbidden` (the policy allows only the key's own);
    # a function invoked directly (a misconfigured route) still refuses, with this code.
    status, body = direct_call(aws, admin_key, "ListKeysFunction", "GET", env_path("acme", "prod", "/keys"))
    assert (status, body["code"]) == (documented()["wrong_environment"], "wrong_environment")


# Answered by a protected API's gateway responses, not by this API: tests/component/test_per_key_limits.py gets each.
PROTECTED_API_CODES = {"rate_limited", "quota_exhausted"}


def test_every_code_in_the_table_has_a_case_here() -> None:
    assert set(documented()) == {*CASES, "wrong_environment", *PROTECTED_API_CODES}
