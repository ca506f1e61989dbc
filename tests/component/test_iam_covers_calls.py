"""Every AWS call a function makes is allowed by its policy in the template.

The local stack does not enforce IAM, so a call a policy forgets passes every other test and fails only on
AWS (as `GET /audit` would have, when the request blocks moved to the base table). Here each function runs
its real paths in-process; every boto3 call is recorded with the function that made it, and checked against
that function's statements: its own `Policies` and the stack's `AWS::IAM::Policy` resources attached to its
role. DynamoDB calls are checked action and resource (table or index ARN; each item of a batch or a
transaction by the action it stands for) and, where a statement names the partitions it may reach
(dynamodb:LeadingKeys), partition; other services by action. Other conditions are checked elsewhere
(tests/infrastructure/test_production.py).

The calls are checked twice: against the stack as one region deploys it, and as the second region of two
deploys it (Regions given: the keys table is this region's replica of the global table, named by the stack,
and the stream consumer of replicated changes exists, whose calls are recorded too).

Every write path runs, each with values that change what is stored: a write that changes nothing (declaring
an environment again with the same settings) never reaches the call that changes it, and would hide a
missing action until the first real change on AWS answered 500.
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.client
import pytest

from archie_keys.aws.dynamo import to_item
from archie_keys.domain.webhooks import EVENT_TYPES
from archie_local.lambdas import FunctionRegistry, LocalFunction
from archie_local.oidc_issuer import LocalOidcIssuer
from archie_local.queue_events import QueueEventSources, queue_sources
from archie_local.template import (
    ACCOUNT_ID,
    REGION,
    STACK_NAME,
    Resolver,
    evaluate_conditions,
    load_template,
)
from archie_local.template import functions as template_functions
from tests.component.test_audit import access_line, delivery
from tests.component.test_secret_scanning import GitHub, alert
from tests.support import compact, env_path, in_process_functions

CURRENT = contextvars.ContextVar[str | None]("function", default=None)
# API calls whose IAM action has another name.
IAM_ACTION = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "apigateway:FlushStageAuthorizersCache": "apigateway:DELETE",  # API Gateway's actions are HTTP methods
    "apigateway:GetApiKeys": "apigateway:GET",
    "apigateway:CreateApiKey": "apigateway:POST",
    "apigateway:DeleteApiKey": "apigateway:DELETE",
    "apigateway:GetUsagePlans": "apigateway:GET",
    "apigateway:CreateUsagePlan": "apigateway:POST",
    "apigateway:UpdateUsagePlan": "apigateway:PATCH",
    "apigateway:CreateUsagePlanKey": "apigateway:POST",
    "apigateway:DeleteUsagePlanKey": "apigateway:DELETE",
    "apigateway:GetUsage": "apigateway:GET",
    "sqs:SendMessageBatch": "sqs:SendMessage",  # a batch needs the action of each message it sends
}
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def leading_keys(statement: dict[str, Any]) -> list[str] | None:
    """The partitions a statement is limited to (dynamodb:LeadingKeys, exact or with IAM's wildcards), or None
    when it is not."""
    conditions = statement.get("Condition", {})
    for operator in ("ForAllValues:StringEquals", "ForAllValues:StringLike"):
        condition = conditions.get(operator, {})
        if "dynamodb:LeadingKeys" in condition:
            return as_list(condition["dynamodb:LeadingKeys"])
    return None


def statements_by_function(resolver: Resolver, checked: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The Allow statements of each function in `checked`, resolved with `resolver`: its conditions decide which
    roles a policy is attached to (a role only some stacks have is named under an Fn::If)."""
    resources = load_template()["Resources"]
    found: dict[str, list[dict[str, Any]]] = {}
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            for policy in resource["Properties"].get("Policies", []):
                if isinstance(policy, dict) and "Statement" in policy:
                    found.setdefault(name, []).extend(policy["Statement"])
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy":
            for named in resource["Properties"]["Roles"]:
                role = resolver.chosen(named)
                if role is None:
                    continue
                function = role["Ref"].removesuffix("Role")
                found.setdefault(function, []).extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return {
        function: [
            {
                "actions": as_list(s["Action"]),
                "resources": [str(resolver.resolve(r)) for r in as_list(s["Resource"])],
                "leading_keys": leading_keys(s),
            }
            for s in statements
            if s.get("Effect") == "Allow"
        ]
        for function, statements in found.items()
        if function in checked
    }


OTHER_REGION = "ap-southeast-2"  # the other region of the two, where the primary's secrets are


def second_region(resolver: Resolver) -> Resolver:
    """The same stack's names with its conditions as the second region of two evaluates them."""
    secret = f"arn:aws:secretsmanager:{OTHER_REGION}:{ACCOUNT_ID}:secret:{STACK_NAME}"
    parameters = {
        **resolver.parameters,
        "Regions": f"{OTHER_REGION},{REGION}",
        "PrimaryPepperSecretArn": f"{secret}-pepper-AbCdEf",
        "PrimaryKeyTagSecretArn": f"{secret}-tags-AbCdEf",
        "KeysTableStreamArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{STACK_NAME}-keys/stream/2027-01-01T00:00:00.000",
    }
    # The consumer's dead-letter queue, which a one-region stack does not provision (SQS calls are checked by
    # action only, so its ARN is a name here).
    queue = {("ReplicationFlushDeadLetterQueue", "Arn"): f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:replication-flush-dlq"}
    other = Resolver(parameters, refs=resolver.refs, attributes={**resolver.attributes, **queue})
    evaluate_conditions(load_template(), other)
    assert other.condition("ConsumesReplication") and not other.condition("PrimaryRegion")
    return other


def replicated_changes(key_id: str) -> dict[str, Any]:
    """A stream batch as the second region's consumer receives it: a key revoked in the other region, and a
    key created there with an expiry (scheduled here too)."""
    place = {"pk": "PROJECT#demo#ENV#dev"}
    origin = {"aws:rep:updateregion": OTHER_REGION}
    revoked = {**place, "sk": f"KEY#{key_id}", **origin}
    created = {**place, "sk": "KEY#Vc37BBBBBBBB", "expires_epoch": int(time.time()) + 7200, **origin}

    def record(event: str, keys: dict[str, Any], old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
        images = {"NewImage": to_item(new), **({"OldImage": to_item(old)} if old else {})}
        return {"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": {"Keys": to_item(keys), **images}}

    return {
        "Records": [
            record("MODIFY", place | {"sk": revoked["sk"]}, revoked, {**revoked, "revoked_at": "2027-01-01T00:00:00Z"}),
            record("INSERT", place | {"sk": created["sk"]}, None, created),
        ]
    }


def denied_calls(
    recorded: list[tuple[str, str, str, dict[str, Any]]],
    statements: dict[str, list[dict[str, Any]]],
    table_arn: dict[str, str],
) -> set[tuple[str, str, str, str | None]]:
    return {
        (function, action, resource, partition)
        for function, service, operation, params in recorded
        for action, resource, partition in needed(service, operation, params, table_arn)
        if not allowed(statements.get(function, []), action, resource, partition)
    }


def partition_of(body: dict[str, Any]) -> str | None:
    """The partition key value an item operation reaches (its Key or Item), or a query reads (`pk = :x`, or
    `#n = :x` with #n naming pk)."""
    item = body.get("Key") or body.get("Item") or {}
    value = item.get("pk", {}).get("S")
    names = body.get("ExpressionAttributeNames", {})
    for name, placeholder in re.findall(r"(?<![\w#])(#?\w+) = (:\w+)", body.get("KeyConditionExpression", "")):
        if value is None and names.get(name, name) == "pk":  # written as pk, or as a #name standing for it
            value = body.get("ExpressionAttributeValues", {}).get(placeholder, {}).get("S")
    return str(value) if value is not None else None


def needed(
    service: str, operation: str, params: dict[str, Any], table_arn: dict[str, str]
) -> list[tuple[str, str, str | None]]:
    """(action, resource, partition) a call needs; resource "*" where only the action is checked, partition
    None where it is not known (a query, another service)."""
    if service != "dynamodb":
        return [(IAM_ACTION.get(f"{service}:{operation}", f"{service}:{operation}"), "*", None)]
    if operation == "BatchGetItem":
        return [
            ("dynamodb:BatchGetItem", table_arn[table], partition_of({"Key": key}))
            for table, request in params["RequestItems"].items()
            for key in request["Keys"]
        ]
    if operation == "BatchWriteItem":
        return [("dynamodb:BatchWriteItem", table_arn[table], None) for table in params["RequestItems"]]
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", table_arn[body["TableName"]], partition_of(body))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    arn = table_arn[params["TableName"]]
    if params.get("IndexName"):
        arn = f"{arn}/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", arn, partition_of(params))]


def allowed(statements: list[dict[str, Any]], action: str, resource: str, partition: str | None = None) -> bool:
    return any(
        any(fnmatch.fnmatchcase(action, pattern) for pattern in statement["actions"])
        and (resource == "*" or any(fnmatch.fnmatchcase(resource, r) for r in statement["resources"]))
        and (
            statement.get("leading_keys") is None
            or (partition is not None and any(fnmatch.fnmatchcase(partition, k) for k in statement["leading_keys"]))
        )
        for statement in statements
    )


@pytest.fixture
def recorded(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, str, dict[str, Any]]]]:
    from archie_keys.edge import composition

    # Stages to flush (each change's flushes coalesced through the coordination table), keys that may expire
    # within seconds (their flush invoked directly), revocations resumed after a second of silence.
    monkeypatch.setenv("FLUSH_TARGETS", "mgmt/v1,orders/dev/demo/dev")
    monkeypatch.setenv("KEY_MIN_LIFETIME_SECONDS", "1")
    monkeypatch.setenv("REVOCATION_STALE_SECONDS", "1")
    composition.reset()
    calls: list[tuple[str, str, str, dict[str, Any]]] = []
    original_call = botocore.client.BaseClient._make_api_call
    original_invoke = LocalFunction.invoke

    def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        function = CURRENT.get()
        if function is not None:
            calls.append((function, client.meta.service_model.signing_name, operation, params))
        if operation == "FlushStageAuthorizersCache":
            return {}  # moto has no API Gateway control plane: the call is what is checked
        if operation == "GetUsage":
            return {"items": {}}  # nor GetUsage
        return original_call(client, operation, params)

    def invoke(self: LocalFunction, event: dict[str, Any], **how: Any) -> Any:
        token = CURRENT.set(self.spec.logical_id)
        try:
            return original_invoke(self, event, **how)
        finally:
            CURRENT.reset(token)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    monkeypatch.setattr(LocalFunction, "invoke", invoke)
    yield calls


def test_every_call_each_function_makes_is_allowed_by_its_policy(
    aws, api, apis, admin_key, recorded, log_delivery, monkeypatch
) -> None:
    from archie_keys.app.canary import probe
    from archie_keys.edge import composition

    functions = FunctionRegistry(aws.functions)
    keys = env_path("demo", "dev", "/keys")
    roles = env_path("demo", "dev", "/roles")
    role = {"permissions": [{"resource": "orders", "actions": ["read"]}]}
    assert api("PUT", f"{roles}/reader", admin_key, role).status == 201
    wider = {"permissions": [{"resource": "orders", "actions": ["read", "write"]}]}
    assert api("PUT", f"{roles}/reader", admin_key, wider).status == 200  # replaced: a change, flushed
    assert api("PUT", f"{roles}/spare", admin_key, role).status == 201
    assert api("DELETE", f"{roles}/spare", admin_key).status in (200, 204)
    assert api("GET", roles, admin_key).status == 200
    # A webhook taking every key event: each change below queues a delivery (and puts its event on the bus).
    # Nothing listens on its port, so each attempt fails and is postponed (ChangeMessageVisibility).
    hooks = env_path("demo", "dev", "/webhooks")
    every_event = {"url": "http://127.0.0.1:9/hook", "events": list(EVENT_TYPES)}
    assert api("PUT", f"{hooks}/all", admin_key, every_event).status == 201
    assert api("PUT", f"{hooks}/all", admin_key, {**every_event, "events": ["key.created"]}).status == 200
    assert api("PUT", f"{hooks}/all", admin_key, every_event).status == 200
    assert api("GET", hooks, admin_key).status == 200
    assert api("GET", f"{hooks}/all", admin_key).status == 200
    assert api("POST", f"{hooks}/all/test", admin_key).status == 202
    # Trust policies, and a pipeline's token exchanged under one (its issuer fetched over HTTP: no AWS call).
    with LocalOidcIssuer().serve() as issuer:
        trust = env_path("demo", "dev", "/trust")
        subject = "repo:acme/billing:ref:refs/heads/main"
        policy = {"issuer": issuer.url, "audience": "archie-keys", "subject": subject, "roles": ["reader"]}
        assert api("PUT", f"{trust}/deploy", admin_key, policy).status == 201
        assert api("PUT", f"{trust}/deploy", admin_key, {**policy, "max_ttl_seconds": 600}).status == 200
        assert api("PUT", f"{trust}/spare", admin_key, policy).status == 201
        assert api("DELETE", f"{trust}/spare", admin_key).status == 204
        assert api("GET", trust, admin_key).status == 200
        assert api("GET", f"{trust}/deploy", admin_key).status == 200
        token = issuer.mint(subject, "archie-keys", {"run_id": "1"})
        exchanged = api("POST", env_path("demo", "dev", "/keys/exchange"), None, {"token": token, "ttl_seconds": 60})
        assert exchanged.status == 201, exchanged.body  # expiring within a minute: its flush invoked directly
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7200))
    body = {"name": "ci", "roles": ["reader"], "expires_at": later, "secret_name": "archie/keys/demo/dev/ci"}
    created = api("POST", keys, admin_key, body, headers={"Idempotency-Key": "iam-1"}).body
    key_id = created["key_id"]
    # A second key delivered into the same secret (replacing the first's value there, as the body says): a new
    # version of an existing secret, not a new secret, and its key-id tag moved.
    again = {**body, "name": "ci 2", "replace_secret": True}
    assert api("POST", keys, admin_key, again, headers={"Idempotency-Key": "iam-2"}).status == 201
    assert api("POST", keys, admin_key, body, headers={"Idempotency-Key": "iam-1"}).status == 201  # replayed
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
    roll = {"grace_seconds": 60, "secret_name": body["secret_name"]}
    rolled = api("POST", f"{keys}/{key_id}/roll", admin_key, roll, headers={"Idempotency-Key": "iam-3"}).body
    # Changed in place: roles moved (their counts with them), a later expiry scheduled, disabled and enabled.
    roles_change = {
        "roles": ["reader", "extra"],
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 9000)),
    }
    assert api("PUT", f"{roles}/extra", admin_key, role).status == 201
    assert api("PATCH", f"{keys}/{rolled['key_id']}", admin_key, roles_change).status == 200
    for enabled in (False, True):
        assert api("PATCH", f"{keys}/{rolled['key_id']}", admin_key, {"enabled": enabled}).status == 200
    soon = {"expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))}
    assert api("PATCH", f"{keys}/{rolled['key_id']}", admin_key, soon).status == 200  # its flush invoked at once
    # The guard reads the buckets the compactor has not reached (at most 10 of 0.2 s here): the steps above
    # can take longer than that on a busy machine, so the audit is compacted up to now first.
    compact()
    guarded = api("DELETE", f"{keys}/{rolled['key_id']}?if_unused_for=60", admin_key)
    assert guarded.status in (200, 202, 204), guarded.body
    assert api("DELETE", f"{keys}/{key_id}", admin_key).status in (200, 202, 204)
    functions["ExpiryFlushFunction"].invoke({"project": "demo", "environment": "dev", "key_id": key_id})
    # A key with limits (after the guarded delete, which needs the audit compacted within seconds): its chain's
    # API key put in a usage plan made for them, its quota read, the plan key moved by a roll with other
    # limits, the API key deleted when the chain's last key is revoked.
    limited = {
        "name": "limited",
        "roles": ["reader"],
        "limits": {"rate_per_second": 2, "quota": {"limit": 9, "period": "day"}},
    }
    limited_id = api("POST", keys, admin_key, limited).body["key_id"]
    assert api("GET", f"{keys}/{limited_id}/usage", admin_key).body["quota"]["limit"] == 9
    # Its quota used up: the ingest reads the key, claims the period's notice and sends key.quota_exhausted.
    functions["AuditIngestFunction"].invoke(delivery([access_line("iam-q", 429, limited_id, error="QUOTA_EXCEEDED")]))
    # A PATCH moving the chain to other limits (its plan made for them), then back.
    for patched in ({"rate_per_second": 4, "quota": {"limit": 9, "period": "day"}}, limited["limits"]):
        assert api("PATCH", f"{keys}/{limited_id}", admin_key, {"limits": patched}).status == 200
    other_limits = {"grace_seconds": 0, "limits": {"rate_per_second": 3}}
    limited_successor = api("POST", f"{keys}/{limited_id}/roll", admin_key, other_limits).body["key_id"]
    assert api("DELETE", f"{keys}/{limited_successor}", admin_key).status in (200, 202, 204)
    # Each declaration changes on_leak (the default is "revoke"): the update path runs, twice.
    assert api("PUT", env_path("demo", "dev", ""), admin_key, {"on_leak": "report"}).body["on_leak"] == "report"
    assert api("GET", env_path("demo", "dev", ""), admin_key).status == 200
    # A leak reported while the environment only reports marks the key; then, revoking again, revokes one.
    github = GitHub()
    monkeypatch.setenv("SECRET_SCANNING_PUBLIC_KEYS", json.dumps({github.identifier: github.pem()}))
    composition.reset()
    marked = api("POST", keys, admin_key, {"name": "marked", "roles": ["reader"]}).body["key"]
    revoked = api("POST", keys, admin_key, {"name": "revoked", "roles": ["reader"]}).body["key"]
    for token in (marked, "revoke", revoked):
        if token == "revoke":
            on_leak = api("PUT", env_path("demo", "dev", ""), admin_key, {"on_leak": "revoke"})
            assert on_leak.body["on_leak"] == "revoke"
            continue
        leak = alert(token)
        reply = api("POST", "/secret-scanning/github", None, raw_body=leak, headers=github.headers(leak))
        assert reply.body[0]["label"] == "true_positive"
    # A key expiring in seconds: too soon for a schedule, its flush is invoked at once and waits for it.
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
    assert api("POST", keys, admin_key, {"name": "brief", "roles": ["reader"], "expires_at": soon}).status == 201
    # A mass revocation: the rule, the count, its progress; the worker marks the keys in the background.
    api("POST", keys, admin_key, {"name": "t-17", "roles": ["reader"], "context": {"tenant": "t-17"}})
    started = api("POST", f"{keys}/revocations", admin_key, {"context": {"tenant": "t-17"}, "reason": "iam"})
    assert started.status == 202 and started.body["matched"] == 1, started.body
    assert api("GET", f"{keys}/revocations/{started.body['revocation_id']}", admin_key).status == 200
    # The sweep resumes a revocation whose worker fell silent (here one the table no longer has).
    boto3.client("dynamodb").put_item(
        TableName=aws.environment["COORDINATION_TABLE"],
        Item=to_item(
            {
                "pk": "REVOCATIONS",
                "sk": "demo#dev#Vc37AAAAAAAA",
                "project": "demo",
                "environment": "dev",
                "revocation_id": "Vc37AAAAAAAA",
                "heartbeat_ms": 0,
            }
        ),
    )
    assert functions["RevocationWorkerFunction"].invoke({"sweep": True}) == {"resumed": 1}
    assert in_process_functions().wait_idle(60)
    # The deliveries queued above, attempted as Lambda's SQS event source hands them to the function.
    queues = QueueEventSources(boto3.client("sqs"), queue_sources(functions, aws.resolver))
    assert queues.poll_once() > 0
    assert api("GET", f"{hooks}/all/deliveries", admin_key).status == 200
    assert api("POST", f"{hooks}/all/redrive", admin_key, {}).status == 202
    assert api("DELETE", f"{hooks}/all", admin_key).status == 204
    # The synthetic canary, in its own environment, through the management API.
    token = CURRENT.set("CanaryFunction")
    try:
        result = probe(composition.get_services(), lambda path, key: api("GET", path, key).status, lambda _: None)
    finally:
        CURRENT.reset(token)
    assert result.passed, result
    # The second region's stream consumer, which a one-region stack does not create, on its batch.
    monkeypatch.setenv("AWS_REGION", REGION)
    consumer = LocalFunction(template_functions(load_template())["ReplicationFlushFunction"])
    flushed = consumer.invoke(replicated_changes(key_id))
    assert flushed["flushed_environments"] == ["demo/dev"] and flushed["expiries_scheduled"] == 1, flushed

    table_arn = {
        name: aws.resolver.attributes[(name, "Arn")]
        for name in ("KeysTable", "AuditTable", "IdempotencyTable", "CoordinationTable")
    }
    exercised = {function for function, *_ in recorded}
    # A one-region stack has no consumer: every other function's calls are checked against its statements.
    one_region = exercised - {"ReplicationFlushFunction"}
    denied = denied_calls(
        [call for call in recorded if call[0] in one_region],
        statements_by_function(aws.resolver, one_region),
        table_arn,
    )
    # Two regions: the same calls, and the consumer's, on this region's replica of the global table.
    replica = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{STACK_NAME}-keys"
    both = denied_calls(
        recorded, statements_by_function(second_region(aws.resolver), exercised), {**table_arn, "KeysTable": replica}
    )
    assert {
        "AuthorizerFunction",
        "AuditFunction",
        "DeleteKeyFunction",
        "AuditCompactFunction",
        "AuditIngestFunction",
        "EnvironmentsFunction",
        "RolesFunction",
        "CreateKeyFunction",
        "RollKeyFunction",
        "UpdateKeyFunction",
        "SecretScanningFunction",
        "CanaryFunction",
        "RevokeKeysFunction",
        "RevocationWorkerFunction",
        "ExpiryFlushFunction",
        "WebhooksFunction",
        "WebhookDeliveryFunction",
        "TrustFunction",
        "ExchangeKeyFunction",
        "ReplicationFlushFunction",
    } <= exercised
    environment_updates = [
        item["Update"]
        for function, _, operation, params in recorded
        if function == "EnvironmentsFunction" and operation == "TransactWriteItems"
        for item in params["TransactItems"]
        if "Update" in item
    ]
    assert len(environment_updates) == 2  # on_leak changed, twice: the path that writes a declared environment
    assert denied == set(), json.dumps(sorted(denied), indent=1)
    assert both == set(), json.dumps(sorted(both), indent=1)


def test_the_partition_check_catches_a_call_outside_the_partition_a_statement_allows() -> None:
    own = [{"actions": ["dynamodb:PutItem"], "resources": ["arn:keys"], "leading_keys": ["PROJECT#canary#ENV#probe"]}]
    assert allowed(own, "dynamodb:PutItem", "arn:keys", "PROJECT#canary#ENV#probe")
    assert not allowed(own, "dynamodb:PutItem", "arn:keys", "PROJECT#demo#ENV#dev")
    assert not allowed(own, "dynamodb:PutItem", "arn:keys", None)  # a query it cannot place: refused
