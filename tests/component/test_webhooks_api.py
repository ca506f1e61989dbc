"""Webhooks wired end to end (issue 21, point 3): registered through the management API, fed by key changes
after they commit, delivered by WebhookDeliveryFunction from the webhook queue (moto's SQS, consumed as Lambda's
SQS event source would: archie_local.queue_events) to a receiver on 127.0.0.1, signed so that a receiver
written from the Standard Webhooks specification (here, not the code under test) accepts them; retried,
dead-lettered and redriven; and the same events on the key events bus."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from archie_keys.domain.webhook_retries import MAX_ATTEMPTS
from archie_local.http_server import HttpRequest, HttpResponse, HttpService
from archie_local.queue_events import QueueEventSources, queue_sources
from tests.support import env_path, in_process_functions, key_events_tap

HOOKS = env_path("demo", "dev", "/webhooks")
KEYS = env_path("demo", "dev", "/keys")
ROLES = env_path("demo", "dev", "/roles")


def spec_verifies(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """The receiver's check, written from the specification's text: the key is the base64 after `whsec_`; the
    signed content is `{webhook-id}.{webhook-timestamp}.{body}`; a signature is `v1,` and base64 of its
    HMAC-SHA256; the timestamp within five minutes; any one of the space-separated signatures may match."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    fresh = abs(now - int(headers["webhook-timestamp"])) <= 300
    return fresh and any(hmac.compare_digest(s, expected) for s in headers["webhook-signature"].split(" "))


@dataclass
class Receiver:
    """Answers each delivery with the next scripted status, then 204; keeps what it got."""

    script: list[int] = field(default_factory=list)
    got: list[tuple[dict[str, str], bytes, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with self.lock:
            self.got.append(({k.lower(): v for k, v in request.headers}, request.body, time.time()))
            status = self.script.pop(0) if self.script else 204
        return HttpResponse(status, {}, b"" if status == 204 else b'{"error":"not now"}')

    def wait_for(self, count: int, timeout: float) -> list[tuple[dict[str, str], bytes, float]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.got) >= count:
                    return list(self.got)
            time.sleep(0.02)
        with self.lock:
            return list(self.got)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    handler = Receiver()
    service = HttpService(handler, 0).start()
    try:
        yield handler, f"{service.url}/hooks/archie"
    finally:
        service.stop()


@pytest.fixture
def queues(aws: Any) -> QueueEventSources:
    """The webhook queue's event source, driven by the test (poll_once) or run as the local stack runs it."""
    return QueueEventSources(boto3.client("sqs"), queue_sources(in_process_functions(), aws.resolver), interval=0.05)


def reader_role(api: Any, admin_key: str) -> None:
    role = {"permissions": [{"resource": "orders", "actions": ["read"]}]}
    assert api("PUT", f"{ROLES}/reader", admin_key, role).status == 201


def register(api: Any, admin_key: str, url: str, events: list[str] | None = None, name: str = "billing") -> str:
    events = events or ["key.created", "key.revoked"]
    reply = api("PUT", f"{HOOKS}/{name}", admin_key, {"url": url, "events": events})
    assert reply.status == 201, reply.body
    assert reply.headers.get("Cache-Control") == "no-store"
    return str(reply.body["secret"])


def test_a_receiver_gets_signed_key_created_and_key_revoked_within_5_seconds(api, admin_key, receiver, queues) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    secret = register(api, admin_key, url)
    assert secret.startswith("whsec_")
    queues.start()
    try:
        began = time.time()
        created = api("POST", KEYS, admin_key, {"name": "billing ci", "roles": ["reader"]}).body
        assert api("DELETE", f"{KEYS}/{created['key_id']}", admin_key).status == 204
        deliveries = got.wait_for(2, timeout=5)
    finally:
        queues.stop()
    assert len(deliveries) == 2, deliveries
    types = []
    for headers, body, arrived in deliveries:
        assert arrived - began < 5
        assert spec_verifies(secret, headers, body, time.time())
        assert not spec_verifies(secret, headers, body + b" ", time.time())  # the check can fail
        event = json.loads(body)
        types.append(event["type"])
        data = event["data"]
        assert data["key_id"] == created["key_id"] and data["name"] == "billing ci"
        assert (data["project"], data["environment"]) == ("demo", "dev")
        assert created["key"] not in body.decode()  # never the key value
    assert sorted(types) == ["key.created", "key.revoked"]
    assert deliveries[0][0]["webhook-id"] != deliveries[1][0]["webhook-id"]


def test_a_refused_change_sends_nothing(api, admin_key, receiver, queues) -> None:
    got, url = receiver
    register(api, admin_key, url)
    assert api("POST", KEYS, admin_key, {"name": "x", "roles": ["no-such-role"]}).status == 422
    assert api("DELETE", f"{KEYS}/AAAAAAAAAAAA", admin_key).status == 404
    assert queues.poll_once() == 0
    assert got.got == []


def test_a_failing_receiver_is_retried_dead_lettered_and_redriven(api, admin_key, receiver, queues) -> None:
    got, url = receiver
    got.script = [500]
    reader_role(api, admin_key)
    secret = register(api, admin_key, url, ["key.created"])
    api("POST", KEYS, admin_key, {"name": "billing ci", "roles": ["reader"]})
    assert queues.poll_once() == 1  # the first attempt: 500
    first = api("GET", f"{HOOKS}/billing/deliveries", admin_key).body["deliveries"]
    assert [(d["result"], d["attempt"], d["status"]) for d in first] == [("retrying", 1, 500)]
    attempted_at = got.got[0][2]
    # SQS holds the message until the schedule's first delay (5 s, spread by 10%), then the second attempt.
    assert queues.poll_once() == 0
    deadline = time.monotonic() + 8
    while len(got.got) < 2 and time.monotonic() < deadline:
        queues.poll_once()
        time.sleep(0.1)
    assert len(got.got) == 2
    (headers1, body1, _), (headers2, body2, at2) = got.got
    assert 4.5 - 0.3 <= at2 - attempted_at <= 5.5 + 1.0
    assert headers2["webhook-id"] == headers1["webhook-id"] and body2 == body1
    assert spec_verifies(secret, headers2, body2, time.time())
    second = api("GET", f"{HOOKS}/billing/deliveries", admin_key).body["deliveries"]
    assert [(d["result"], d["attempt"], d["dead_letter"]) for d in second] == [("delivered", 2, False)]

    # The last attempt of the schedule (SQS's receive count says which) fails: a dead letter, deleted from the
    # queue (no batch item failure), listed with the webhook's deliveries.
    got.script = [503]
    api("POST", KEYS, admin_key, {"name": "second", "roles": ["reader"]})
    message = boto3.client("sqs").receive_message(
        QueueUrl=queues.sources[0].queue_url, MaxNumberOfMessages=1, AttributeNames=["All"]
    )["Messages"][0]
    message["Attributes"]["ApproximateReceiveCount"] = str(MAX_ATTEMPTS)
    from archie_local.queue_events import sqs_event

    answer = queues.sources[0].function.invoke(sqs_event(queues.sources[0], [message]))
    assert answer == {"batchItemFailures": []}
    dead = api("GET", f"{HOOKS}/billing/deliveries", admin_key).body["deliveries"][0]
    assert (dead["result"], dead["attempt"], dead["status"], dead["dead_letter"]) == ("dead", MAX_ATTEMPTS, 503, True)
    dead_id = got.got[-1][0]["webhook-id"]

    redriven = api("POST", f"{HOOKS}/billing/redrive", admin_key, {})
    assert (redriven.status, redriven.body) == (202, {"redriven": 1})
    deadline = time.monotonic() + 5
    while queues.poll_once() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    headers, body, _ = got.got[-1]
    assert headers["webhook-id"] == dead_id and spec_verifies(secret, headers, body, time.time())
    after = api("GET", f"{HOOKS}/billing/deliveries", admin_key).body["deliveries"]
    assert not any(d["dead_letter"] for d in after)
    assert api("POST", f"{HOOKS}/billing/redrive", admin_key, {}).body == {"redriven": 0}


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "https://10.0.0.5/x",  # private
        "https://169.254.169.254/latest/meta-data",  # the metadata endpoint
        "https://[fd00:ec2::254]/x",  # its IPv6 address
        "https://192.168.1.10/x",  # private
        "https://localhost/x",
        "https://user:pw@hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://hooks.example.com/x#frag",
        "",
    ],
)
def test_bad_webhook_urls_are_refused_with_422(api, admin_key, url) -> None:
    reply = api("PUT", f"{HOOKS}/bad", admin_key, {"url": url, "events": ["key.created"]})
    assert reply.status == 422, reply.body
    assert reply.body["field"] in ("url", "body.url"), reply.body
    assert api("GET", HOOKS, admin_key).body == {"webhooks": []}


def test_unknown_event_types_and_names_are_refused(api, admin_key, receiver) -> None:
    _, url = receiver
    assert api("PUT", f"{HOOKS}/x", admin_key, {"url": url, "events": ["key.eaten"]}).status == 422
    assert api("PUT", f"{HOOKS}/x", admin_key, {"url": url, "events": []}).status == 422
    assert api("PUT", f"{HOOKS}/Bad Name", admin_key, {"url": url, "events": ["key.created"]}).status in (404, 422)


def test_http_to_loopback_is_the_local_stack_s_exception_only() -> None:
    from archie_keys.aws.webhook_http import WebhookSender
    from archie_keys.domain.errors import ValidationFailedError

    assert WebhookSender(local=True).check("http://127.0.0.1:8123/hook") == "http://127.0.0.1:8123/hook"
    with pytest.raises(ValidationFailedError):
        WebhookSender(local=False).check("http://127.0.0.1:8123/hook")
    # A name is resolved at registration: one that resolves inside the network is refused.
    inside = WebhookSender(local=False, resolve=lambda host, port: ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(ValidationFailedError) as refused:
        inside.check("https://hooks.example.com/x")
    assert refused.value.code == "webhook_url_refused"


def test_the_signing_secret_is_shown_once_and_never_logged_stored_or_answered_again(
    api, admin_key, receiver, queues, caplog, table_items
) -> None:
    got, url = receiver
    caplog.set_level(logging.DEBUG)
    secret = register(api, admin_key, url, ["key.created"])
    answers = [
        api("GET", HOOKS, admin_key),
        api("GET", f"{HOOKS}/billing", admin_key),
        api("PUT", f"{HOOKS}/billing", admin_key, {"url": url, "events": ["key.created", "key.leaked"]}),
        api("POST", f"{HOOKS}/billing/test", admin_key),
    ]
    assert [a.status for a in answers] == [200, 200, 200, 202]
    assert "secret" not in answers[2].body  # changed, not created: the secret is kept, not shown
    queues.poll_once()
    answers.append(api("GET", f"{HOOKS}/billing/deliveries", admin_key))
    assert answers[-1].body["deliveries"][0]["result"] == "delivered"
    headers, body, _ = got.got[0]
    assert json.loads(body)["type"] == "webhook.test" and spec_verifies(secret, headers, body, time.time())
    raw = secret.removeprefix("whsec_")
    for answer in answers:
        assert raw not in json.dumps(answer.body)
    assert raw not in caplog.text and secret not in caplog.text
    for table in ("KEYS_TABLE", "AUDIT_TABLE"):
        assert raw not in json.dumps(table_items(table))  # sealed, never in clear


def test_deleting_a_webhook_drops_what_is_queued_for_it(api, admin_key, receiver, queues) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    register(api, admin_key, url, ["key.created"])
    api("POST", KEYS, admin_key, {"name": "a", "roles": ["reader"]})
    assert api("DELETE", f"{HOOKS}/billing", admin_key).status == 204
    assert queues.poll_once() == 1
    assert got.got == []
    assert api("GET", f"{HOOKS}/billing", admin_key).status == 404


def test_key_events_go_to_the_events_bus_whatever_the_webhooks(aws, api, admin_key) -> None:
    tap = key_events_tap(aws.environment, "bus-tap")
    reader_role(api, admin_key)
    created = api("POST", KEYS, admin_key, {"name": "bus", "roles": ["reader"]}).body
    routed = tap()
    assert [(e["detail-type"], e["detail"]["data"]["key_id"]) for e in routed] == [("key.created", created["key_id"])]


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def test_expiry_notices_are_scheduled_and_sent_only_while_the_key_is_as_scheduled(
    aws, api, admin_key, receiver, queues
) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    secret = register(api, admin_key, url, ["key.expiring", "key.expired"])
    expires = int(time.time()) + 8 * 86_400
    created = api("POST", KEYS, admin_key, {"name": "ci", "roles": ["reader"], "expires_at": iso(expires)}).body
    scheduler = boto3.client("scheduler")
    group = aws.environment["EXPIRY_SCHEDULE_GROUP"]
    notices = {}
    for summary in scheduler.list_schedules(GroupName=group)["Schedules"]:
        if summary["Name"].startswith(f"notice-{created['key_id']}-"):
            schedule = scheduler.get_schedule(GroupName=group, Name=summary["Name"])
            event = json.loads(schedule["Target"]["Input"])
            notices[event["notice_days"]] = (schedule["ScheduleExpression"], event)
    assert sorted(notices) == [0, 1, 7]
    assert notices[1][0] == f"at({iso((expires - 86_400) // 60 * 60)[:-1]})"  # the minute of the moment
    assert notices[0][0] == f"at({iso(-(-expires // 60) * 60)[:-1]})"  # the minute after the expiry, never before
    expiry = in_process_functions()["ExpiryFlushFunction"]
    assert expiry.invoke(notices[1][1]) == {"key_id": created["key_id"], "sent": "key.expiring"}
    assert queues.poll_once() == 1
    headers, body, _ = got.got[0]
    assert spec_verifies(secret, headers, body, time.time())
    event = json.loads(body)
    assert event["type"] == "key.expiring" and event["data"]["days_left"] == 1
    assert event["data"]["expires_at"] == created["record"]["expires_at"]
    # Revoked since: the schedule left behind sends nothing.
    assert api("DELETE", f"{KEYS}/{created['key_id']}", admin_key).status == 204
    assert expiry.invoke(notices[7][1]) == {"key_id": created["key_id"], "sent": None}
    assert queues.poll_once() == 0


def test_a_key_expiring_too_soon_for_a_schedule_sends_key_expired_once_it_has(
    api, admin_key, receiver, queues, monkeypatch
) -> None:
    from archie_keys.edge import composition

    monkeypatch.setenv("KEY_MIN_LIFETIME_SECONDS", "1")
    composition.reset()
    got, url = receiver
    reader_role(api, admin_key)
    register(api, admin_key, url, ["key.expired"])
    expires = int(time.time()) + 3
    created = api("POST", KEYS, admin_key, {"name": "brief", "roles": ["reader"], "expires_at": iso(expires)}).body
    deadline = time.monotonic() + 10
    while not got.got and time.monotonic() < deadline:
        queues.poll_once()
        time.sleep(0.1)
    assert len(got.got) == 1
    _, body, arrived = got.got[0]
    event = json.loads(body)
    assert (event["type"], event["data"]["key_id"]) == ("key.expired", created["key_id"])
    assert arrived >= expires  # never before the expiry


def test_a_filtered_grant_reaches_no_webhook(api, admin_key, receiver) -> None:
    """A webhook hears every key of its environment: a tenant administrator's filtered grant must not add one."""
    _, url = receiver
    tenant_admin = {
        "permissions": [
            {"resource": "webhooks", "actions": ["read", "write"], "filters": {"tenant": {"from_context": "tenant"}}}
        ]
    }
    assert api("PUT", f"{ROLES}/tenant-admin", admin_key, tenant_admin).status == 201
    body = {"name": "t-17 admin", "roles": ["tenant-admin"], "context": {"tenant": "t-17"}}
    key = api("POST", KEYS, admin_key, body).body["key"]
    assert api("PUT", f"{HOOKS}/mine", key, {"url": url, "events": ["key.created"]}).status == 403
    assert api("GET", HOOKS, key).status == 403
    assert api("GET", HOOKS, admin_key).body == {"webhooks": []}


def test_a_mass_revocation_sends_key_revoked_for_each_key_it_revokes(api, admin_key, receiver, queues) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    register(api, admin_key, url, ["key.revoked"])
    tenant = [
        api("POST", KEYS, admin_key, {"name": f"t{n}", "roles": ["reader"], "context": {"tenant": "t-17"}}).body
        for n in range(3)
    ]
    api("POST", KEYS, admin_key, {"name": "other", "roles": ["reader"], "context": {"tenant": "t-18"}})
    started = api("POST", f"{KEYS}/revocations", admin_key, {"context": {"tenant": "t-17"}, "reason": "offboarding"})
    assert started.status == 202 and started.body["matched"] == 3, started.body
    assert in_process_functions().wait_idle(60)
    deadline = time.monotonic() + 5
    while len(got.got) < 3 and time.monotonic() < deadline:
        queues.poll_once()
    events = [json.loads(body) for _, body, _ in got.got]
    assert sorted(e["data"]["key_id"] for e in events) == sorted(k["key_id"] for k in tenant)
    assert {(e["type"], e["data"]["reason"]) for e in events} == {("key.revoked", "offboarding")}


def test_a_patch_sends_key_updated_naming_the_fields_it_changed(api, admin_key, receiver, queues) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    register(api, admin_key, url, ["key.updated"])
    created = api("POST", KEYS, admin_key, {"name": "billing ci", "roles": ["reader"]}).body
    changed = api("PATCH", f"{KEYS}/{created['key_id']}", admin_key, {"name": "billing ci (old)", "enabled": False})
    assert changed.status == 200, changed.body
    assert api("PATCH", f"{KEYS}/{created['key_id']}", admin_key, {"enabled": False}).status == 200  # no change
    deadline = time.monotonic() + 5
    while not got.got and time.monotonic() < deadline:
        queues.poll_once()
    events = [json.loads(body) for _, body, _ in got.got]
    assert [(e["type"], e["data"]["key_id"], e["data"]["changed"]) for e in events] == [
        ("key.updated", created["key_id"], ["enabled", "name"])
    ]


def test_a_patched_expiry_moves_the_keys_expiry_notices(aws, api, admin_key, receiver, queues) -> None:
    got, url = receiver
    reader_role(api, admin_key)
    register(api, admin_key, url, ["key.expiring"])
    first = int(time.time()) + 8 * 86_400
    created = api("POST", KEYS, admin_key, {"name": "ci", "roles": ["reader"], "expires_at": iso(first)}).body
    later = first + 10 * 86_400
    moved = api("PATCH", f"{KEYS}/{created['key_id']}", admin_key, {"expires_at": iso(later)})
    assert moved.status == 200, moved.body
    scheduler = boto3.client("scheduler")
    group = aws.environment["EXPIRY_SCHEDULE_GROUP"]
    name = next(
        s["Name"]
        for s in scheduler.list_schedules(GroupName=group)["Schedules"]
        if s["Name"].startswith(f"notice-{created['key_id']}-1d")
    )
    schedule = scheduler.get_schedule(GroupName=group, Name=name)
    assert schedule["ScheduleExpression"] == f"at({iso((later - 86_400) // 60 * 60)[:-1]})"  # the new moment
    notice = json.loads(schedule["Target"]["Input"])
    expiry = in_process_functions()["ExpiryFlushFunction"]
    assert expiry.invoke(notice) == {"key_id": created["key_id"], "sent": "key.expiring"}  # as the key now is
    assert queues.poll_once() == 1
    assert json.loads(got.got[0][1])["data"]["expires_at"] == moved.body["expires_at"]
