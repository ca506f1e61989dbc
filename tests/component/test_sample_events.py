"""Every function's sample event in events/ runs through its handler (the ones `sam local invoke -e` takes)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from archie_local.lambdas import FunctionRegistry

EVENTS = Path(__file__).resolve().parents[2] / "events"
# function folder -> (logical id in template.yaml, what a user sees for the sample event)
EXPECTED = {
    "environments": ("EnvironmentsFunction", 200),
    "roles": ("RolesFunction", 201),
    "create_key": ("CreateKeyFunction", 201),
    "list_keys": ("ListKeysFunction", 200),
    "get_key": ("GetKeyFunction", 404),
    "delete_key": ("DeleteKeyFunction", 404),
    "echo": ("EchoFunction", 200),
    "verify": ("VerifyFunction", 200),
    "whoami": ("WhoamiFunction", 200),
    "roll_key": ("RollKeyFunction", 404),
    "update_key": ("UpdateKeyFunction", 404),
    "key_usage": ("KeyUsageFunction", 404),
    "audit": ("AuditFunction", 200),
    "secret_scanning": ("SecretScanningFunction", 401),  # GitHub's signature, but of a key not configured
    "revoke_keys": ("RevokeKeysFunction", 202),  # tenant t-17 has no keys: none matched
    "webhooks": ("WebhooksFunction", 200),
    "trust": ("TrustFunction", 200),  # no policy yet: an empty list
    "exchange_key": ("ExchangeKeyFunction", 401),  # demo/dev trusts no issuer: the token is refused
}


def test_every_function_has_a_sample_event(aws) -> None:
    folders = {spec.code_uri.name for spec in aws.functions.values()}
    assert folders <= {p.stem for p in EVENTS.glob("*.json")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_sample_api_event_runs_through_its_handler(aws, admin_key, name: str) -> None:
    logical_id, status = EXPECTED[name]
    event = json.loads((EVENTS / f"{name}.json").read_text())
    response: dict[str, Any] = FunctionRegistry(aws.functions)[logical_id].invoke(event)
    assert response["statusCode"] == status, response.get("body")
    if name == "create_key":
        assert json.loads(response["body"])["key"].startswith("archie_demo_dev_")
    if name == "verify":
        assert json.loads(response["body"]) == {"valid": False, "code": "malformed"}


def test_the_sample_authorizer_event_is_refused(aws) -> None:
    event = json.loads((EVENTS / "authorizer.json").read_text())
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        FunctionRegistry(aws.functions)["AuthorizerFunction"].invoke(event)


def test_the_sample_subscription_event_is_ingested(aws) -> None:
    event = json.loads((EVENTS / "audit_ingest.json").read_text())
    result = FunctionRegistry(aws.functions)["AuditIngestFunction"].invoke(event)
    # an accepted request, one its key's roles did not allow, and one of a revoked key (the authorizer's Deny)
    assert result == {"records": 3, "refusals": 1, "skipped": 0, "control_messages": 0}


def test_the_sample_expiry_event_flushes_the_stages_serving_its_environment(aws, monkeypatch) -> None:
    from archie_keys.edge.composition import get_services, reset

    monkeypatch.setenv("FLUSH_TARGETS", "mgmt/v1,orders/dev/demo/dev,billing/prod/demo/prod")
    reset()
    flushed: list[tuple[str, str]] = []
    client = get_services().flusher.client  # the boundary to API Gateway's control plane: record, do not call
    monkeypatch.setattr(
        client, "flush_stage_authorizers_cache", lambda **call: flushed.append((call["restApiId"], call["stageName"]))
    )
    event = json.loads((EVENTS / "expiry_flush.json").read_text())
    result = FunctionRegistry(aws.functions)["ExpiryFlushFunction"].invoke(event)
    assert result == {"flushed": ["mgmt/v1", "orders/dev"], "expires_epoch": 1700000000}
    assert set(flushed) == {("mgmt", "v1"), ("orders", "dev")}  # demo/prod's stage is left alone
    # A schedule made per key before schedules were per second still flushes, at once.
    legacy = {"project": "demo", "environment": "dev", "key_id": "Vc37AAAAAAAA"}
    assert FunctionRegistry(aws.functions)["ExpiryFlushFunction"].invoke(legacy)["key_id"] == "Vc37AAAAAAAA"


def test_the_sample_sweep_event_resumes_nothing_when_no_revocation_is_under_way(aws) -> None:
    event = json.loads((EVENTS / "revocation_worker.json").read_text())
    assert FunctionRegistry(aws.functions)["RevocationWorkerFunction"].invoke(event) == {"resumed": 0}


def test_the_sample_delivery_of_a_deleted_webhook_is_dropped_not_retried(aws, table_items) -> None:
    event = json.loads((EVENTS / "webhook_delivery.json").read_text())
    assert FunctionRegistry(aws.functions)["WebhookDeliveryFunction"].invoke(event) == {"batchItemFailures": []}
    records = [i for i in table_items("KEYS_TABLE") if i["sk"]["S"].startswith("WHDLV#billing#")]
    assert [r["result"]["S"] for r in records] == ["dropped"]


def test_the_sample_schedule_event_runs_the_compactor(aws) -> None:
    """The scheduled event carries nothing (the schedule's Input is empty): a run starts from its mark."""
    event = json.loads((EVENTS / "audit_compact.json").read_text())
    compactor = FunctionRegistry(aws.functions)["AuditCompactFunction"]
    first = compactor.invoke(event)
    assert first["buckets"] == 0 and first["records"] == 0  # nothing ingested yet: it only sets its mark
    ingest = json.loads((EVENTS / "audit_ingest.json").read_text())
    FunctionRegistry(aws.functions)["AuditIngestFunction"].invoke(ingest)
    # The next run after the bucket the ingest wrote in has closed (bounded wait: one bucket and the settle
    # time, 0.25 s in the unit tier) compacts the sample's accepted requests into their key's block.
    from archie_keys.aws.audit_blocks import arrival_bucket
    from archie_keys.edge.composition import get_services

    own = get_services().compactor
    landed, deadline = arrival_bucket(time.time(), own.bucket_seconds), time.monotonic() + 10
    while own.newest_closed(time.time()) < landed and time.monotonic() < deadline:
        time.sleep(0.01)
    second = compactor.invoke(event)
    assert set(second) == {
        "buckets",
        "environment_blocks",
        "records",
        "key_blocks",
        "skipped",
        "peak_held_records",
        "behind_seconds",
    }
    assert second["records"] >= 1 and second["key_blocks"] >= 1, second
