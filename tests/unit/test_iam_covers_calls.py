"""Every AWS call a function makes is allowed by its policy in the template.

The local stack does not enforce IAM, so a call a policy forgets passes every other test and fails only on
AWS (as `GET /audit` would have, when the request blocks moved to the base table). Here each function runs
its real paths in-process; every boto3 call is recorded with the function that made it, and checked against
that function's statements: its own `Policies` and the stack's `AWS::IAM::Policy` resources attached to its
role. DynamoDB calls are checked action and resource (table or index ARN; each item of a batch or a
transaction by the action it stands for); other services by action. Conditions are checked elsewhere
(tests/infrastructure/test_production.py).
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
import time
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

from archie_local.lambdas import FunctionRegistry, LocalFunction
from archie_local.template import load_template
from tests.support import compact, env_path
from tests.unit.test_audit import access_line, delivery

CURRENT = contextvars.ContextVar[str | None]("function", default=None)
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_by_function(resolver: Any) -> dict[str, list[dict[str, Any]]]:
    resources = load_template()["Resources"]
    found: dict[str, list[dict[str, Any]]] = {}
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            for policy in resource["Properties"].get("Policies", []):
                if isinstance(policy, dict) and "Statement" in policy:
                    found.setdefault(name, []).extend(policy["Statement"])
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy":
            for role in resource["Properties"]["Roles"]:
                function = role["Ref"].removesuffix("Role")
                found.setdefault(function, []).extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return {
        function: [
            {
                "actions": as_list(s["Action"]),
                "resources": [str(resolver.resolve(r)) for r in as_list(s["Resource"])],
            }
            for s in statements
            if s.get("Effect") == "Allow"
        ]
        for function, statements in found.items()
    }


def needed(service: str, operation: str, params: dict[str, Any], table_arn: dict[str, str]) -> list[tuple[str, str]]:
    """(action, resource) pairs a call needs; resource "*" where only the action is checked."""
    if service != "dynamodb":
        return [(f"{service}:{operation}", "*")]
    if operation == "BatchGetItem":
        return [("dynamodb:BatchGetItem", table_arn[table]) for table in params["RequestItems"]]
    if operation == "BatchWriteItem":
        return [("dynamodb:BatchWriteItem", table_arn[table]) for table in params["RequestItems"]]
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", table_arn[body["TableName"]])
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    arn = table_arn[params["TableName"]]
    if params.get("IndexName"):
        arn = f"{arn}/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", arn)]


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    return any(
        any(fnmatch.fnmatchcase(action, pattern) for pattern in statement["actions"])
        and (resource == "*" or any(fnmatch.fnmatchcase(resource, r) for r in statement["resources"]))
        for statement in statements
    )


@pytest.fixture
def recorded(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, str, dict[str, Any]]]]:
    calls: list[tuple[str, str, str, dict[str, Any]]] = []
    original_call = botocore.client.BaseClient._make_api_call
    original_invoke = LocalFunction.invoke

    def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        function = CURRENT.get()
        if function is not None:
            calls.append((function, client.meta.service_model.signing_name, operation, params))
        return original_call(client, operation, params)

    def invoke(self: LocalFunction, event: dict[str, Any]) -> Any:
        token = CURRENT.set(self.spec.logical_id)
        try:
            return original_invoke(self, event)
        finally:
            CURRENT.reset(token)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    monkeypatch.setattr(LocalFunction, "invoke", invoke)
    yield calls


def test_every_call_each_function_makes_is_allowed_by_its_policy(aws, api, apis, admin_key, recorded) -> None:
    functions = FunctionRegistry(aws.functions)
    keys = env_path("demo", "dev", "/keys")
    role = {"permissions": [{"resource": "orders", "actions": ["read"]}]}
    assert api("PUT", env_path("demo", "dev", "/roles/reader"), admin_key, role).status in (200, 201)
    assert api("GET", env_path("demo", "dev", "/roles"), admin_key).status == 200
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7200))
    body = {"name": "ci", "roles": ["reader"], "expires_at": later, "secret_name": "archie/keys/demo/dev/ci"}
    created = api("POST", keys, admin_key, body, headers={"Idempotency-Key": "iam-1"}).body
    key_id = created["key_id"]
    assert api("GET", keys, admin_key).status == 200
    assert api("GET", f"{keys}/{key_id}", admin_key).status == 200
    assert api("POST", env_path("demo", "dev", "/verify"), admin_key, {"key": created["key"]}).status == 200
    assert api("GET", env_path("demo", "dev", "/whoami"), admin_key).status == 200
    assert apis["SampleApi"]("GET", "/orders/1", created["key"]).status == 200
    functions["AuditIngestFunction"].invoke(
        delivery([access_line("iam-a", 200, key_id), access_line("iam-b", 401, None)])
    )
    compact_as_scheduled = functions["AuditCompactFunction"]
    compact()  # the mark and the closed bucket, then the scheduled run below reads and writes as on AWS
    compact_as_scheduled.invoke({})
    compact_as_scheduled.invoke({"retry_skipped": True})  # an operator's retry (make audit-skipped)
    for query in ("", f"?key_id={key_id}", "?kind=event", f"?actor_key_id={admin_key.split('_')[-1][:12]}"):
        assert api("GET", env_path("demo", "dev", f"/audit{query}"), admin_key).status == 200
    assert api("GET", f"{keys}/{key_id}/usage", admin_key).status == 200
    # Into the key's own secret: its key-id tag moves to the successor.
    rolled = api(
        "POST", f"{keys}/{key_id}/roll", admin_key, {"grace_seconds": 60, "secret_name": body["secret_name"]}
    ).body
    assert api("DELETE", f"{keys}/{rolled['key_id']}?if_unused_for=60", admin_key).status in (200, 202, 204)
    assert api("DELETE", f"{keys}/{key_id}", admin_key).status in (200, 202, 204)
    functions["ExpiryFlushFunction"].invoke({"project": "demo", "environment": "dev", "key_id": key_id})
    assert api("PUT", env_path("demo", "dev", ""), admin_key, {"on_leak": "revoke"}).status in (200, 201)
    assert api("GET", env_path("demo", "dev", ""), admin_key).status == 200

    table_arn = {
        name: aws.resolver.attributes[(name, "Arn")] for name in ("KeysTable", "AuditTable", "IdempotencyTable")
    }
    statements = statements_by_function(aws.resolver)
    denied = set()
    for function, service, operation, params in recorded:
        for action, resource in needed(service, operation, params, table_arn):
            if not allowed(statements.get(function, []), action, resource):
                denied.add((function, action, resource))
    exercised = {function for function, *_ in recorded}
    assert {"AuthorizerFunction", "AuditFunction", "DeleteKeyFunction", "AuditCompactFunction"} <= exercised
    assert denied == set(), json.dumps(sorted(denied), indent=1)
