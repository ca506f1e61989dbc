"""Regressions from an attacker's review and a newcomer's reading: secrets stay in their own environment, the
audit cannot be forged by a chosen request id, the prefix is part of the key, and answers tell the truth."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from archie_keys.domain.keyformat import checksum
from archie_keys.edge.composition import get_services
from archie_local.lambdas import FunctionRegistry
from archie_local.logs import encode_subscription
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
VIEWER = {"permissions": [{"resource": "keys", "actions": ["read"]}]}


@pytest.fixture
def viewer_role(api: Any, admin_key: str) -> None:
    assert api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER).status == 201


def current_secret(name: str) -> str:
    # VersionStage explicitly: moto's default read does not follow a moved AWSCURRENT label.
    return boto3.client("secretsmanager").get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]


# --- Secret delivery stays inside the caller's project and environment --------------------------------------


@pytest.mark.parametrize(
    "name",
    ["archie/keys/acme/prod/billing", "archie/keys/demo/devx/billing", "archie/keys/demo/dev/", "archie/keys/billing"],
)
def test_a_secret_outside_the_callers_environment_is_refused(api, admin_key, viewer_role, name) -> None:
    reply = api("POST", KEYS, admin_key, {"name": "x", "roles": ["viewer"], "secret_name": name})
    assert reply.status == 422 and reply.body["code"] == "secret_name_outside_prefix", reply.body
    names = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    assert sorted(names) == ["KeyTagSecret", "PepperSecret"]  # nothing was created (the stack's own secrets)


def test_a_delivered_secret_is_tagged_with_its_stack_environment_and_key(aws, api, admin_key, viewer_role) -> None:
    name = "archie/keys/demo/dev/billing"
    created = api("POST", KEYS, admin_key, {"name": "x", "roles": ["viewer"], "secret_name": name}).body
    assert current_secret(name) == created["key"]
    tags = {t["Key"]: t["Value"] for t in boto3.client("secretsmanager").describe_secret(SecretId=name)["Tags"]}
    assert tags == {
        "archie-keys:stack": aws.environment["STACK_NAME"],
        "archie-keys:project": "demo",
        "archie-keys:environment": "dev",
        "archie-keys:key-id": created["key_id"],
    }


@pytest.mark.parametrize(
    "tags",
    [
        [],  # a secret someone else created
        [{"Key": "archie-keys:stack", "Value": "another-stack"}],
        [
            {"Key": "archie-keys:stack", "Value": "archie-local"},
            {"Key": "archie-keys:project", "Value": "acme"},
            {"Key": "archie-keys:environment", "Value": "prod"},
        ],
    ],
)
def test_a_secret_this_stack_did_not_create_for_this_environment_is_never_written(
    api, admin_key, viewer_role, table_items, tags
) -> None:
    name = "archie/keys/demo/dev/db-password"
    boto3.client("secretsmanager").create_secret(Name=name, SecretString="hunter2", Tags=tags)
    before = table_items("KEYS_TABLE")
    reply = api("POST", KEYS, admin_key, {"name": "x", "roles": ["viewer"], "secret_name": name})
    assert reply.status == 403 and reply.body["code"] == "secret_not_owned" and reply.body["field"] == "secret_name"
    assert current_secret(name) == "hunter2" and table_items("KEYS_TABLE") == before


def test_a_secret_created_by_someone_else_in_the_meantime_is_a_409_that_changes_nothing(
    api, admin_key, viewer_role, table_items, monkeypatch
) -> None:
    """Between looking and creating, a concurrent request (or a deletion still in its recovery window) holds the
    name: the client is told to retry, and no key is left behind."""
    from archie_keys.aws.secrets import SecretDelivery

    name = "archie/keys/demo/dev/racing"
    looked = SecretDelivery.owned_holder

    def someone_creates_it_meanwhile(self: SecretDelivery, *args: Any) -> str | None:
        holder = looked(self, *args)
        boto3.client("secretsmanager").create_secret(Name=name, SecretString="theirs")
        return holder

    monkeypatch.setattr(SecretDelivery, "owned_holder", someone_creates_it_meanwhile)
    before = table_items("KEYS_TABLE")
    reply = api("POST", KEYS, admin_key, {"name": "x", "roles": ["viewer"], "secret_name": name})
    assert (reply.status, reply.body["code"], reply.body["field"]) == (409, "conflict", "secret_name"), reply.body
    assert current_secret(name) == "theirs" and table_items("KEYS_TABLE") == before


# --- Audit records are keyed by API Gateway's own unique id ----------------------------------------------------


def access_line(client_request_id: str, extended_id: str, status: int, key_id: str = "-", path: str = "") -> str:
    return json.dumps(
        {
            "request_id": client_request_id,
            "extended_request_id": extended_id,
            "time_epoch_ms": str(int(time.time() * 1000)),
            "method": "GET",
            "path": path or "/v1/projects/demo/environments/dev/keys",
            "resource": "/projects/{project}/environments/{environment}/keys",
            "status": str(status),
            "source_ip": "203.0.113.9",
            "user_agent": "curl/8",
            "key_id": key_id,
            "project": "demo" if key_id != "-" else "-",
            "environment": "dev" if key_id != "-" else "-",
            "stage": "v1",
            "api_id": "abc",
            "error": "-",
        }
    )


def deliver(aws: Any, lines: list[str]) -> dict[str, Any]:
    payload = {
        "messageType": "DATA_MESSAGE",
        "logGroup": "/aws/apigateway/access",
        "logEvents": [{"id": str(i), "timestamp": int(time.time() * 1000), "message": m} for i, m in enumerate(lines)],
    }
    return FunctionRegistry(aws.functions)["AuditIngestFunction"].invoke(encode_subscription(payload))


def audit(api: Any, key: str, query: str = "") -> list[dict[str, Any]]:
    reply = api("GET", env_path("demo", "dev", f"/audit?limit=100{query}"), key)
    assert reply.status == 200, reply.body
    return reply.body["records"]


def test_a_client_chosen_request_id_cannot_merge_or_overwrite_records(aws, api, admin_key) -> None:
    admin_id = admin_key.split("_")[-1][:12]
    victim = access_line("chosen-id", "EXTvictim0000A=", 200, admin_id)
    attacker = access_line("chosen-id", "EXTattack0000B=", 403, "Vc37AAAAAAAA")
    assert deliver(aws, [victim, attacker])["records"] == 2
    by_id = {r["id"]: r for r in audit(api, admin_key) if r.get("request_id") == "chosen-id"}
    assert set(by_id) == {"EXTvictim0000A=", "EXTattack0000B="}
    assert by_id["EXTvictim0000A="]["key_id"] == admin_id and by_id["EXTvictim0000A="]["status"] == 200


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/v1/projects/demo/environments/dev/keys", "/projects/demo/environments/dev/keys"),  # execute-api
        ("/projects/demo/environments/dev/keys", "/projects/demo/environments/dev/keys"),  # custom domain, no base
        ("/keys-api/projects/demo/environments/dev/keys", "/projects/demo/environments/dev/keys"),  # base path
    ],
)
def test_audit_paths_are_what_the_routes_see_beside_the_route_template(aws, api, admin_key, path, shown) -> None:
    admin_id = admin_key.split("_")[-1][:12]
    deliver(aws, [access_line("p-1", "EXTpath000000D=", 200, admin_id, path)])
    record = next(r for r in audit(api, admin_key) if r["id"] == "EXTpath000000D=")
    assert record["path"] == shown and record["resource"] == "/projects/{project}/environments/{environment}/keys"


# --- The prefix is part of the key ---------------------------------------------------------------------------


def test_a_key_with_another_prefix_and_a_recomputed_checksum_is_refused(api, admin_key) -> None:
    assert api("GET", env_path("demo", "dev", "/whoami"), admin_key).status == 200  # warm every cache first
    body = "evil_" + admin_key[len("archie_") : -6]
    reprefixed = body + checksum(body)
    assert api("GET", env_path("demo", "dev", "/whoami"), reprefixed).status == 403
    verdict = api("POST", env_path("demo", "dev", "/verify"), admin_key, {"key": reprefixed}).body
    assert verdict == {"valid": False, "code": "not_found"}
    cold = get_services().verifier
    cold.clear()
    verdict = api("POST", env_path("demo", "dev", "/verify"), admin_key, {"key": reprefixed}).body
    assert verdict == {"valid": False, "code": "not_found"}


# --- Answers tell the truth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("then", ["delete", "roll"])
def test_replaying_a_create_after_the_key_stopped_being_active_answers_409(api, admin_key, viewer_role, then) -> None:
    body, headers = {"name": "ci", "roles": ["viewer"]}, {"Idempotency-Key": f"deploy-{then}"}
    created = api("POST", KEYS, admin_key, body, headers=headers).body
    if then == "delete":
        assert api("DELETE", f"{KEYS}/{created['key_id']}", admin_key).status == 204
    else:
        assert api("POST", f"{KEYS}/{created['key_id']}/roll", admin_key, {"grace_seconds": 60}).status == 201

    def sealed_responses() -> list[dict[str, Any]]:
        items = boto3.client("dynamodb").scan(TableName=get_services().settings.idempotency_table)["Items"]
        return [item for item in items if item.get("key_id", {}).get("S") == created["key_id"] and "response" in item]

    # The sealed value is gone from the idempotency store as the key stops being active, whether or not
    # anyone ever replays the request.
    assert sealed_responses() == []
    replay = api("POST", KEYS, admin_key, body, headers=headers)
    assert replay.status == 409 and replay.body["code"] == "key_not_active"
    assert created["key"] not in json.dumps(replay.body)


def test_an_environment_shows_only_its_documented_fields(api, admin_key) -> None:
    shown = api("GET", env_path("demo", "dev"), admin_key).body
    assert set(shown) == {"project", "environment", "created_at", "created_by", "on_leak", "legacy_keys"}
    declared = api("PUT", env_path("demo", "dev"), admin_key)
    assert declared.status == 200 and set(declared.body) == set(shown)


def test_a_role_in_use_says_what_to_do_and_not_to_roll(api, admin_key, viewer_role) -> None:
    api("POST", KEYS, admin_key, {"name": "x", "roles": ["viewer"]})
    reply = api("DELETE", env_path("demo", "dev", "/roles/viewer"), admin_key)
    assert reply.status == 409 and reply.body["code"] == "role_in_use"
    assert "1 key" in reply.body["message"] and "delete those keys" in reply.body["message"]
    assert "rolling a key keeps its roles" in reply.body["message"]


def test_another_environments_routes_are_forbidden_declared_or_not(api, admin_key, bootstrap) -> None:
    bootstrap("demo", "prod")
    for environment in ("prod", "nowhere"):  # declared, and not: the same answer reveals nothing
        reply = api("GET", env_path("demo", environment, "/keys"), admin_key)
        assert reply.status == 403 and reply.body["code"] == "forbidden"
