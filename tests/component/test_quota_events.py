"""`key.quota_exhausted` (issue 21; docs/limits.md, "Told when a quota is used up"): API Gateway's access-log
line of a request refused for its key's quota (QUOTA_EXCEEDED), read by the real audit ingest, sends the event
once per rotation chain and quota period, to the webhooks that take it and to the events bus; a rate limit's
refusal (THROTTLED) sends nothing, and a failure to send never fails the audit batch."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError

from archie_keys.edge import composition
from archie_local.lambdas import FunctionRegistry
from tests.component import test_per_key_limits, test_webhooks_api
from tests.component.test_audit import access_line, delivery, records
from tests.component.test_per_key_limits import LimitsStack
from tests.component.test_webhooks_api import reader_role, register, spec_verifies
from tests.support import env_path, key_events_tap

# The fixtures of the stacks these tests share: the limits' local gateway, a receiver, the webhook queue.
limits_stack = test_per_key_limits.limits_stack
receiver = test_webhooks_api.receiver
queues = test_webhooks_api.queues

KEYS = env_path("demo", "dev", "/keys")
DAY = {"quota": {"limit": 2, "period": "day"}}


@pytest.fixture
def ingest(aws: Any) -> Callable[[list[str]], dict[str, int]]:
    """The deployed AuditIngestFunction, handed a CloudWatch Logs delivery of these access-log lines."""
    function = FunctionRegistry(aws.functions)["AuditIngestFunction"]
    return lambda lines: dict(function.invoke(delivery(lines)))


@pytest.fixture
def bus_tap(aws: Any) -> Callable[[], list[dict[str, Any]]]:
    """Every event put on the key events bus, through a rule to a queue (as a team would route them)."""
    return key_events_tap(aws.environment, "quota-tap")


def refused(key_id: str | None, error: str = "QUOTA_EXCEEDED", at: float | None = None) -> str:
    """The access-log line of a request API Gateway refused after the authorizer allowed the key."""
    at_ms = int((at if at is not None else time.time()) * 1000)
    return access_line(str(uuid.uuid4()), 429, key_id, at_ms=at_ms, error=error)


def next_midnight() -> str:
    return time.strftime("%Y-%m-%dT00:00:00.000Z", time.gmtime(time.time() + 86400))


def quota_key(api: Any, admin_key: str, name: str = "metered", limits: dict[str, Any] = DAY) -> dict[str, Any]:
    reply = api("POST", KEYS, admin_key, {"name": name, "roles": ["reader"], "limits": limits})
    assert reply.status == 201, reply.body
    return dict(reply.body)


def test_a_key_refused_for_its_quota_sends_key_quota_exhausted_once_a_period_to_its_webhooks_and_the_bus(
    api, admin_key, receiver, queues, ingest, bus_tap
) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    secret = register(api, admin_key, url, ["key.quota_exhausted"])
    key = quota_key(api, admin_key)
    bus_tap()  # the key.created event

    assert ingest([refused(key["key_id"])])["records"] == 1
    assert queues.poll_once() == 1
    [(headers, body, _)] = got.got
    assert spec_verifies(secret, headers, body, time.time())
    event = json.loads(body)
    assert event["type"] == "key.quota_exhausted"
    assert event["data"] == {
        "key_id": key["key_id"],
        "name": "metered",
        "project": "demo",
        "environment": "dev",
        "actor": "quota",
        "quota": {"limit": 2, "period": "day", "resets_at": next_midnight()},
    }
    assert key["key"] not in body.decode() and "$argon2" not in body.decode()
    [routed] = bus_tap()
    assert (routed["detail-type"], routed["detail"]) == ("key.quota_exhausted", event)

    # The same period again: from this warm ingest, and from another instance (a cold one): nothing more.
    assert ingest([refused(key["key_id"]), refused(key["key_id"])])["records"] == 2
    composition.reset()
    assert ingest([refused(key["key_id"])])["records"] == 1
    assert queues.poll_once() == 0 and bus_tap() == []
    # Every refusal is in the key's audit all the same.
    assert len([r for r in records(key["key_id"]) if r.get("error") == "QUOTA_EXCEEDED"]) == 4


def test_a_rolled_key_and_its_successor_share_one_notice_as_they_share_one_quota(
    api, admin_key, receiver, queues, ingest
) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    register(api, admin_key, url, ["key.quota_exhausted"])
    old = quota_key(api, admin_key)
    successor = api("POST", f"{KEYS}/{old['key_id']}/roll", admin_key, {"grace_seconds": 300}).body
    ingest([refused(old["key_id"])])
    ingest([refused(successor["key_id"])])
    assert queues.poll_once() == 1
    assert json.loads(got.got[0][1])["data"]["key_id"] == old["key_id"]


def test_a_rate_limit_an_unproven_key_or_a_period_already_over_sends_nothing(
    api, admin_key, receiver, queues, ingest, bus_tap
) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    register(api, admin_key, url, ["key.quota_exhausted"])
    key = quota_key(api, admin_key, limits={"rate_per_second": 1, **DAY})
    bus_tap()
    yesterday = time.time() - 86400
    for line in (
        refused(key["key_id"], "THROTTLED"),  # over its rate, not its quota
        refused(None),  # no key the authorizer proved
        refused(key["key_id"], at=yesterday),  # yesterday's quota: reset since
    ):
        assert ingest([line])["records"] == 1
        assert queues.poll_once() == 0 and bus_tap() == [] and got.got == []
    # ... and the key's quota used up today still sends its notice.
    ingest([refused(key["key_id"])])
    assert queues.poll_once() == 1


@contextmanager
def failing(monkeypatch: pytest.MonkeyPatch, fails: Callable[[str, dict[str, Any]], bool]) -> Iterator[list[str]]:
    """Every AWS call `fails` picks answers 500, as an outage would; yields the calls it failed."""
    original = botocore.client.BaseClient._make_api_call
    failed: list[str] = []

    def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if fails(operation, params):
            failed.append(operation)
            error = {"Error": {"Code": "InternalServerError", "Message": "injected"}}
            raise ClientError({**error, "ResponseMetadata": {"HTTPStatusCode": 500}}, operation)  # type: ignore[arg-type]
        return original(client, operation, params)

    with monkeypatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", call)
        yield failed


def claims(aws: Any) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=aws.environment["COORDINATION_TABLE"])["Items"]
    return [item["pk"]["S"] for item in items if item["pk"]["S"].startswith("QUOTA#")]


def _sends(operation: str, params: dict[str, Any]) -> bool:
    return operation in ("SendMessageBatch", "PutEvents")


def _claim(operation: str, params: dict[str, Any]) -> bool:
    return operation == "PutItem" and "Coordination" in str(params.get("TableName"))


def _key_read(operation: str, params: dict[str, Any]) -> bool:
    return operation == "Query" and "Keys" in str(params.get("TableName"))  # a key is read as its items


@pytest.mark.parametrize("fails", [_sends, _claim, _key_read], ids=["queue and bus", "claim", "key record"])
def test_a_notice_that_cannot_be_sent_fails_no_audit_batch_and_the_next_refusal_sends_it(
    aws, api, admin_key, receiver, queues, ingest, bus_tap, monkeypatch, fails
) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    register(api, admin_key, url, ["key.quota_exhausted"])
    key = quota_key(api, admin_key)
    bus_tap()
    with failing(monkeypatch, fails) as failed:
        answer = ingest([refused(key["key_id"])])
    assert failed, "the fault was never injected"
    assert answer == {"records": 1, "refusals": 0, "skipped": 0, "control_messages": 0}
    assert claims(aws) == []  # nothing claimed, or the claim given back
    assert queues.poll_once() == 0 and bus_tap() == []
    assert [r["error"] for r in records(key["key_id"]) if r["kind"] == "request"] == ["QUOTA_EXCEEDED"]
    ingest([refused(key["key_id"])])  # the client's next request, refused again
    assert queues.poll_once() == 1 and len(bus_tap()) == 1
    assert json.loads(got.got[0][1])["type"] == "key.quota_exhausted"
    assert len(claims(aws)) == 1


def test_through_the_local_gateway_a_key_past_its_quota_of_2_a_day_is_answered_429_and_its_owner_told(
    aws, limits_stack: LimitsStack, admin_key, receiver, queues, ingest
) -> None:
    got, url = receiver
    register(limits_stack.management, admin_key, url, ["key.quota_exhausted"])
    key = limits_stack.create(admin_key, name="metered", limits=DAY).body
    assert limits_stack.orders(key["key"], 3) == [200, 200, 429]
    assert limits_stack.access_log[-1]["error"] == "QUOTA_EXCEEDED"
    ingest([json.dumps(line) for line in limits_stack.access_log])
    assert queues.poll_once() == 1
    event = json.loads(got.got[0][1])
    assert (event["type"], event["data"]["key_id"], event["data"]["quota"]["limit"]) == (
        "key.quota_exhausted",
        key["key_id"],
        2,
    )
