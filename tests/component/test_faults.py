"""Every change is all-or-nothing under a failing dependency.

For each mutating operation, the AWS calls its handler makes are counted on a first run; then, on a fresh
stack each time, the n-th of those calls fails (DynamoDB, Secrets Manager, Scheduler, Lambda or API Gateway
answering 500), one at a time. The answer is 503 with Retry-After and the stored state is exactly as before,
or the change completed (a failure after the commit is retried) and the state is complete. Never a 500,
never half a change. Two things a change that did not happen may leave, both harmless and said so: the
schedule of a flush at an expiry second (it may serve other keys of that second: it only flushes the
environment's caches), and a mass revocation whose keys could not be counted after its commit (it is in force,
as asked; the 503 names it and a retry with the same Idempotency-Key answers it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError

from tests.conftest import InProcessApi
from tests.support import IN_PROCESS_ENVIRONMENT, env_path

KEYS = env_path("demo", "dev", "/keys")
SECRET = "archie/keys/demo/dev/billing"
ROLE = {"permissions": [{"resource": "keys", "actions": ["read"]}]}
_ORIGINAL_CALL = botocore.client.BaseClient._make_api_call


@dataclass
class Faults:
    """Counts the AWS calls made while armed, and fails the one numbered `fail_at` (0-based)."""

    fail_at: int | None = None
    armed: bool = False
    calls: list[str] = field(default_factory=list)

    def call(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.armed:
            self.calls.append(f"{client.meta.service_model.service_name}:{operation}")
            if len(self.calls) - 1 == self.fail_at:
                raise ClientError(
                    {
                        "Error": {"Code": "InternalServerError", "Message": "injected"},
                        "ResponseMetadata": {"HTTPStatusCode": 500},
                    },
                    operation,
                )
        if operation == "FlushStageAuthorizersCache":
            return {}  # moto has no API Gateway control plane; the call itself is what is counted and failed
        if operation == "Invoke":
            return {"StatusCode": 202}  # Lambda accepted the event (a revocation's worker runs in other tests)
        return _ORIGINAL_CALL(client, operation, params)


@dataclass
class Stack:
    api: InProcessApi
    admin: str
    environment: dict[str, str]
    faults: Faults

    def state(self) -> dict[str, Any]:
        """Everything a change could touch: every item of the three tables, every secret's current value
        and tags, every expiry schedule, which usage plan holds which API keys (a plan made for limits a
        change did not commit stays, empty: it admits nothing and is reused)."""
        dynamodb, secrets = boto3.client("dynamodb"), boto3.client("secretsmanager")
        scheduler = boto3.client("scheduler")
        tables = {}
        for name in ("KEYS_TABLE", "AUDIT_TABLE", "IDEMPOTENCY_TABLE"):
            items = dynamodb.scan(TableName=self.environment[name])["Items"]
            tables[name] = sorted(json.dumps(item, sort_keys=True) for item in items)
        stored_secrets = {}
        for entry in secrets.list_secrets()["SecretList"]:
            try:
                value = secrets.get_secret_value(SecretId=entry["Name"], VersionStage="AWSCURRENT")["SecretString"]
            except ClientError:
                value = None
            stored_secrets[entry["Name"]] = (value, sorted((t["Key"], t["Value"]) for t in entry.get("Tags", [])))
        group = self.environment["EXPIRY_SCHEDULE_GROUP"]
        schedules = {
            s["Name"]: scheduler.get_schedule(Name=s["Name"], GroupName=group)["ScheduleExpression"]
            for s in scheduler.list_schedules(GroupName=group)["Schedules"]
        }
        apigateway = boto3.client("apigateway")
        plans = {
            plan["name"]: sorted(k["name"] for k in apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"])
            for plan in apigateway.get_usage_plans()["items"]
        }
        in_plans = {name: keys for name, keys in plans.items() if keys}
        return {"tables": tables, "secrets": stored_secrets, "schedules": schedules, "usage_plans": in_plans}

    def call(self, function: str, method: str, path: str, body: Any = None, headers: dict | None = None) -> Any:
        from archie_local.lambdas import LocalFunction

        original = LocalFunction.invoke
        faults = self.faults

        def invoke(local: LocalFunction, event: dict[str, Any], **how: Any) -> Any:
            if local.spec.logical_id != function:
                return original(local, event, **how)
            faults.armed = True
            try:
                return original(local, event, **how)
            finally:
                faults.armed = False

        LocalFunction.invoke = invoke  # type: ignore[method-assign]
        try:
            return self.api(method, path, self.admin, body, headers=headers)
        finally:
            LocalFunction.invoke = original  # type: ignore[method-assign]


@contextmanager
def fresh_stack(fail_at: int | None) -> Iterator[Stack]:
    """A new moto world provisioned from the template, with the demo/dev admin and one stage to flush."""
    from moto import mock_aws

    from archie_keys.app.bootstrap import bootstrap
    from archie_keys.app.commands import Place
    from archie_keys.edge import composition
    from archie_local.gateway import Gateway
    from archie_local.lambdas import FunctionRegistry
    from archie_local.provision import provision
    from archie_local.routing import build_apis
    from archie_local.template import load_template

    faults = Faults(fail_at)
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_API_GATEWAY", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        provisioned = provision(
            load_template(),
            None,
            parameter_overrides={"AuthorizerResultTtl": "0"},
            environment_overrides={
                **IN_PROCESS_ENVIRONMENT,
                "AUTHORIZER_CACHE_TTL_SECONDS": "0",
                "PROTECTED_APIS_PATH": "",
                "FLUSH_TARGETS": "mgmt/v1,orders/dev/demo/dev",
            },
        )
        for key, value in provisioned.environment.items():
            patch.setenv(key, value)
        composition.reset()
        admin = bootstrap(composition.get_services(), Place("demo", "dev")).value
        api = InProcessApi(
            Gateway(
                build_apis(load_template(), provisioned.resolver, FunctionRegistry(provisioned.functions))[
                    "ManagementApi"
                ]
            )
        )
        patch.setattr(
            botocore.client.BaseClient, "_make_api_call", lambda client, op, params: faults.call(client, op, params)
        )
        # The pepper is read through a cache; start every run cold so its read is one of the counted calls.
        composition.reset()
        yield Stack(api, admin, provisioned.environment, faults)
        composition.reset()


@dataclass(frozen=True)
class Operation:
    name: str
    function: str
    setup: Callable[[Stack], dict[str, Any]]
    run: Callable[[Stack, dict[str, Any]], Any]
    complete: Callable[[Stack, dict[str, Any], Any, dict[str, Any]], None]
    # For a 503 that leaves a change in force on purpose: checks it is the harmless, reported one.
    reported: Callable[[Stack, dict[str, Any], Any], None] | None = None


def without_schedules(state: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in state.items() if name != "schedules"}


def only_flushes_left(stack: Stack, before: dict[str, Any]) -> None:
    """Schedules a change that did not happen left behind flush the environment's caches at a second, no more."""
    scheduler, group = boto3.client("scheduler"), stack.environment["EXPIRY_SCHEDULE_GROUP"]
    for name in set(stack.state()["schedules"]) - set(before["schedules"]):
        target = scheduler.get_schedule(Name=name, GroupName=group)["Target"]
        assert target["Arn"] == stack.environment["EXPIRY_FLUSH_FUNCTION_ARN"], name
        assert set(json.loads(target["Input"])) == {"project", "environment", "expires_epoch"}, name


def expiry_schedule(record: dict[str, Any]) -> str:
    from archie_keys.aws.schedules import schedule_name
    from archie_keys.domain.clock import from_iso

    return schedule_name("demo", "dev", int(from_iso(record["expires_at"])))


def in_an_hour() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))


def make_key(stack: Stack, **body: Any) -> dict[str, Any]:
    stack.api("PUT", env_path("demo", "dev", "/roles/viewer"), stack.admin, ROLE)
    reply = stack.api("POST", KEYS, stack.admin, {"name": "old", "roles": ["viewer"], **body})
    assert reply.status == 201, reply.body
    return dict(reply.body)


def key_record(stack: Stack, key_id: str) -> dict[str, Any]:
    return stack.api("GET", f"{KEYS}/{key_id}", stack.admin).body


def events_about(stack: Stack, key_id: str) -> list[str]:
    records = stack.api("GET", env_path("demo", "dev", f"/audit?key_id={key_id}"), stack.admin).body["records"]
    return [r["event"] for r in records if r["kind"] == "event"]


def current_secret(name: str) -> str:
    return boto3.client("secretsmanager").get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]


def role_count(stack: Stack, name: str = "viewer") -> int:
    return int(stack.api("GET", env_path("demo", "dev", f"/roles/{name}"), stack.admin).body["key_count"])


def create_complete(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    key_id = reply.body["key_id"]
    assert key_record(stack, key_id)["name"] == "ci"
    assert events_about(stack, key_id) == ["key.created"]
    assert current_secret(SECRET) == reply.body["key"]
    assert expiry_schedule(key_record(stack, key_id)) in stack.state()["schedules"]
    assert role_count(stack) == 1
    replay = stack.api("POST", KEYS, stack.admin, given["body"], headers={"Idempotency-Key": "ci-1"})
    assert replay.status == 201 and replay.body["key"] == reply.body["key"]


def roll_complete(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    old, new = given["old"]["key_id"], reply.body["key_id"]
    assert key_record(stack, old)["rolled_to"] == new
    assert key_record(stack, new)["rolled_from"] == old
    assert events_about(stack, old)[:1] == ["key.rolled"] and events_about(stack, new) == ["key.created"]
    assert current_secret(SECRET) == reply.body["key"]
    # The successor's expiry is scheduled; the old key's, a minute away, too close for a schedule, was invoked.
    assert expiry_schedule(key_record(stack, new)) in stack.state()["schedules"]
    assert "lambda:Invoke" in stack.faults.calls
    assert role_count(stack) == 2


def delete_complete(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    key_id = given["old"]["key_id"]
    assert key_record(stack, key_id)["status"] == "revoked"
    assert events_about(stack, key_id)[:1] == ["key.deleted"]
    assert role_count(stack) == 0


def update_setup(stack: Stack) -> dict[str, Any]:
    old = make_key(stack, expires_at=in_an_hour())
    stack.api("PUT", env_path("demo", "dev", "/roles/editor"), stack.admin, ROLE)
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7200))
    return {"old": old, "body": {"name": "renamed", "roles": ["editor"], "expires_at": later, "enabled": False}}


def update_complete(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    key = key_record(stack, given["old"]["key_id"])
    assert (key["name"], key["roles"], key["status"]) == ("renamed", ["editor"], "disabled"), key
    assert expiry_schedule(key) in stack.state()["schedules"]
    assert events_about(stack, key["key_id"])[:1] == ["key.updated"]
    assert (role_count(stack, "viewer"), role_count(stack, "editor")) == (0, 1)
    # In force: the key is refused, with the reason its owner chose.
    verdict = stack.api("POST", env_path("demo", "dev", "/verify"), stack.admin, {"key": given["old"]["key"]})
    assert verdict.body == {"valid": False, "code": "disabled"}


LIMITED = {"rate_per_second": 1, "burst": 1}
RAISED = {"rate_per_second": 5, "burst": 5, "quota": {"limit": 100, "period": "day"}}


def limits_complete(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    key_id = given["old"]["key_id"]
    assert key_record(stack, key_id)["limits"] == RAISED
    assert events_about(stack, key_id)[:1] == ["key.updated"]
    plans = stack.state()["usage_plans"]
    assert [name for name, keys in plans.items() if any(key_id in k for k in keys)] == ["archie-local-r5b5-q100day"], (
        plans
    )


def role_complete(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    role = stack.api("GET", env_path("demo", "dev", "/roles/viewer"), stack.admin).body
    assert role["permissions"][0]["actions"] == ["read", "delete"] and role["key_count"] == 1
    trail = stack.api("GET", env_path("demo", "dev", "/audit"), stack.admin).body["records"]
    assert next(r["event"] for r in trail if r["kind"] == "event") == "role.updated"


def role_deleted(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    assert stack.api("GET", env_path("demo", "dev", "/roles/unused"), stack.admin).status == 404
    trail = stack.api("GET", env_path("demo", "dev", "/audit"), stack.admin).body["records"]
    assert next(r["event"] for r in trail if r["kind"] == "event") == "role.deleted"


def create_setup(stack: Stack) -> dict[str, Any]:
    stack.api("PUT", env_path("demo", "dev", "/roles/viewer"), stack.admin, ROLE)
    return {"body": {"name": "ci", "roles": ["viewer"], "expires_at": in_an_hour(), "secret_name": SECRET}}


REVOKE = {"context": {"tenant": "t-17"}, "reason": "contract ended"}


def revoke_setup(stack: Stack) -> dict[str, Any]:
    return {"covered": [make_key(stack, context={"tenant": "t-17"}) for _ in range(2)], "other": make_key(stack)}


def revoke_run(stack: Stack, given: dict[str, Any]) -> Any:
    path = env_path("demo", "dev", "/keys/revocations")
    return stack.call("RevokeKeysFunction", "POST", path, REVOKE, headers={"Idempotency-Key": "revoke-t-17"})


def revocation_in_force(stack: Stack, revocation_id: str) -> None:
    """The revocation holds (its rule refuses the keys) and a retry with the same Idempotency-Key answers it."""
    from archie_keys.edge.composition import get_services

    state = get_services().store.environment_state("demo", "dev")
    assert state is not None and [rule.revocation_id for rule in state.rules] == [revocation_id]
    assert revoke_run(stack, {}).body == {"revocation_id": revocation_id, "matched": 2}


def revoke_complete(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    assert reply.status == 202 and reply.body["matched"] == 2, reply.body
    revocation_in_force(stack, reply.body["revocation_id"])
    trail = stack.api("GET", env_path("demo", "dev", "/audit?kind=event"), stack.admin).body["records"]
    assert [r["details"]["revocation_id"] for r in trail if r["event"] == "revocation.started"] == [
        reply.body["revocation_id"]
    ]


def revoke_reported(stack: Stack, given: dict[str, Any], reply: Any) -> None:
    # Committed, then its keys could not be counted: in force as asked, named, and answered by a retry.
    (revocation_id,) = [word for word in reply.body["message"].split() if len(word) == 12 and word.isalnum()]
    assert "is in force" in reply.body["message"]
    revocation_in_force(stack, revocation_id)


# The development OIDC issuer the exchange fetches keys from (over HTTP: not an AWS call, never failed here).
ISSUER: list[Any] = []
SUBJECT = "repo:acme/billing:ref:refs/heads/main"


@pytest.fixture(scope="module", autouse=True)
def oidc_issuer() -> Iterator[Any]:
    from archie_local.oidc_issuer import LocalOidcIssuer

    with LocalOidcIssuer().serve() as issuer:
        ISSUER.append(issuer)
        yield issuer
        ISSUER.clear()


def trust_body() -> dict[str, Any]:
    return {"issuer": ISSUER[0].url, "audience": "archie-keys", "subject": SUBJECT, "roles": ["viewer"]}


def exchange_setup(stack: Stack) -> dict[str, Any]:
    stack.api("PUT", env_path("demo", "dev", "/roles/viewer"), stack.admin, ROLE)
    assert stack.api("PUT", env_path("demo", "dev", "/trust/deploy"), stack.admin, trust_body()).status == 201
    return {"token": ISSUER[0].mint(SUBJECT, "archie-keys", {"run_id": "7"})}


def exchange_run(stack: Stack, given: dict[str, Any]) -> Any:
    return stack.call("ExchangeKeyFunction", "POST", f"{KEYS}/exchange", {"token": given["token"]})


def exchange_complete(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    key_id = reply.body["key_id"]
    assert key_record(stack, key_id)["created_by"] == f"oidc:{ISSUER[0].url}#{SUBJECT}"
    assert events_about(stack, key_id) == ["key.created"]
    assert expiry_schedule(key_record(stack, key_id)) in stack.state()["schedules"]
    assert role_count(stack) == 1
    assert exchange_run(stack, given).status == 401  # the token is spent


def trust_setup(stack: Stack) -> dict[str, Any]:
    stack.api("PUT", env_path("demo", "dev", "/roles/viewer"), stack.admin, ROLE)
    return {}


def trust_complete(stack: Stack, given: dict[str, Any], reply: Any, before: dict[str, Any]) -> None:
    stored = stack.api("GET", env_path("demo", "dev", "/trust/deploy"), stack.admin)
    assert stored.status == 200 and stored.body["subject"] == SUBJECT
    trail = stack.api("GET", env_path("demo", "dev", "/audit?kind=event"), stack.admin).body["records"]
    assert next(r["event"] for r in trail) == "trust.created"


OPERATIONS = [
    Operation(
        "create a key (expiring, delivered to a secret, idempotent)",
        "CreateKeyFunction",
        create_setup,
        lambda stack, given: stack.call(
            "CreateKeyFunction", "POST", KEYS, given["body"], headers={"Idempotency-Key": "ci-1"}
        ),
        create_complete,
    ),
    Operation(
        "roll an expiring key into a secret",
        "RollKeyFunction",
        lambda stack: {"old": make_key(stack, expires_at=in_an_hour(), secret_name=SECRET)},
        lambda stack, given: stack.call(
            "RollKeyFunction",
            "POST",
            f"{KEYS}/{given['old']['key_id']}/roll",
            {"grace_seconds": 60, "secret_name": SECRET},
        ),
        roll_complete,
    ),
    Operation(
        "delete an expiring, idempotently created key",
        "DeleteKeyFunction",
        lambda stack: {"old": make_key(stack, expires_at=in_an_hour())},
        lambda stack, given: stack.call("DeleteKeyFunction", "DELETE", f"{KEYS}/{given['old']['key_id']}"),
        delete_complete,
    ),
    Operation(
        "change a key: rename, move its roles, a later expiry, disable it",
        "UpdateKeyFunction",
        update_setup,
        lambda stack, given: stack.call(
            "UpdateKeyFunction", "PATCH", f"{KEYS}/{given['old']['key_id']}", given["body"]
        ),
        update_complete,
    ),
    Operation(
        "move a key to other limits (its chain to another usage plan)",
        "UpdateKeyFunction",
        lambda stack: {"old": make_key(stack, limits=LIMITED)},
        lambda stack, given: stack.call(
            "UpdateKeyFunction", "PATCH", f"{KEYS}/{given['old']['key_id']}", {"limits": RAISED}
        ),
        limits_complete,
    ),
    Operation(
        "widen a role in use",
        "RolesFunction",
        lambda stack: {"old": make_key(stack)},
        lambda stack, given: stack.call(
            "RolesFunction",
            "PUT",
            env_path("demo", "dev", "/roles/viewer"),
            {"permissions": [{"resource": "keys", "actions": ["read", "delete"]}]},
        ),
        role_complete,
    ),
    Operation(
        "delete an unused role",
        "RolesFunction",
        lambda stack: {"role": stack.api("PUT", env_path("demo", "dev", "/roles/unused"), stack.admin, ROLE).body},
        lambda stack, given: stack.call("RolesFunction", "DELETE", env_path("demo", "dev", "/roles/unused")),
        role_deleted,
    ),
    Operation(
        "revoke a tenant's keys (idempotent)",
        "RevokeKeysFunction",
        revoke_setup,
        revoke_run,
        revoke_complete,
        revoke_reported,
    ),
    Operation(
        "exchange a pipeline's token for a key",
        "ExchangeKeyFunction",
        exchange_setup,
        exchange_run,
        exchange_complete,
    ),
    Operation(
        "trust a repository",
        "TrustFunction",
        trust_setup,
        lambda stack, given: stack.call("TrustFunction", "PUT", env_path("demo", "dev", "/trust/deploy"), trust_body()),
        trust_complete,
    ),
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_a_failing_dependency_leaves_the_change_whole_or_absent(operation: Operation) -> None:
    with fresh_stack(None) as stack:
        given = operation.setup(stack)
        reply = operation.run(stack, given)
        assert reply.status in (200, 201, 202, 204), reply.body
        calls = list(stack.faults.calls)
    assert any(call.startswith("dynamodb:TransactWriteItems") for call in calls), calls
    outcomes = []
    for fail_at, failing in enumerate(calls):
        with fresh_stack(fail_at) as stack:
            given = operation.setup(stack)
            before = stack.state()
            reply = operation.run(stack, given)
            assert reply.status in (200, 201, 202, 204, 503), (failing, reply.status, reply.body)
            if reply.status == 503:
                assert reply.body["code"] == "service_unavailable" and int(reply.headers["Retry-After"]) > 0
                if operation.reported is not None and without_schedules(stack.state()) != without_schedules(before):
                    operation.reported(stack, given, reply)
                else:
                    assert without_schedules(stack.state()) == without_schedules(before), f"{failing}: half a change"
                only_flushes_left(stack, before)
            else:
                operation.complete(stack, given, reply, before)
            outcomes.append((failing, reply.status))
    # Both kinds happened: failures before the commit refuse the change, those after it are retried.
    assert any(status == 503 for _, status in outcomes), outcomes
