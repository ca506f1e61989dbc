"""Mass revocation: every active key of an environment whose context holds given values is refused within one
cache TTL of the answer, whatever their number, before the keys themselves are marked; each key then gets its
own `key.deleted` event; keys created after it are untouched; a retry answers the same revocation; a tenant
administrator revokes only its own rows; a worker that dies is resumed and one that runs out of time goes on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from archie_keys.app.revocation_worker import Marker, RevocationJob, run_revocation, sweep
from archie_keys.app.verification import KeyVerifier, VerifierConfig
from archie_keys.aws.dynamo import from_item, to_item
from archie_keys.aws.key_store import partition
from archie_keys.aws.revocation_store import RevocationStore
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.keyformat import generate_key, new_key_id
from archie_keys.edge import composition
from archie_keys.edge.composition import get_services
from tests.component.decision_stack import Environment
from tests.support import in_process_functions

TTL = 1.0
REVOCATIONS = "/keys/revocations"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def warm_verifier(clock: Clock) -> KeyVerifier:
    """An authorizer instance of its own, whose time the test moves."""
    services = get_services()
    config = VerifierConfig(TTL, 5.0, 300.0)
    return KeyVerifier(services.verifier.store, services.hasher, config, clock, tag_keys=services.key_tags)


def refusal(verifier: KeyVerifier, key: str) -> str | None:
    try:
        verifier.verify(key)
    except KeyRefusedError as refused:
        return refused.reason
    return None


def insert_keys(env: Environment, count: int, context: dict[str, str], key_id: str | None = None) -> list[str]:
    """`count` keys holding the role `reader`, written as the store writes a created key (its Put, and the role's
    count), in batches: what 2,000 creations would leave, without 2,000 requests. Returns their values."""
    services = get_services()
    hasher, tag = services.hasher(), services.key_tags().current
    values, items = [], []
    for _ in range(count):
        value, parsed = generate_key("archie_", env.project, env.environment, tag, key_id)
        record = {
            "key_id": parsed.key_id,
            "name": f"consumer {len(values)}",
            "name_folded": f"consumer {len(values)}",
            "prefix": "archie_",
            "start": parsed.start,
            "project": env.project,
            "environment": env.environment,
            "roles": ["reader"],
            "context": context,
            "created_at": "2026-11-26T09:00:00.000Z",
            "created_by": "bootstrap",
            "hash": hasher.hash_secret(parsed.secret),
            "hash_params": hasher.parameters.as_record(),
            "pepper_version": hasher.version,
            "key_format": 2,
        }
        (put,) = [w.item["Put"] for w in services.store.key_create_writes(record) if "Put" in w.item]
        items.append(put["Item"])
        values.append(value)
    client, table = boto3.client("dynamodb"), services.settings.keys_table
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]})
    client.update_item(
        TableName=table,
        Key=to_item({"pk": partition(env.project, env.environment), "sk": "ROLE#reader"}),
        UpdateExpression="ADD key_count :n",
        ExpressionAttributeValues=to_item({":n": count}),
    )
    return values


def key_id(value: str) -> str:
    return value.split("_")[-1][:12]


def stored(env: Environment, prefix: str) -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": get_services().settings.keys_table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": to_item({":pk": partition(env.project, env.environment), ":prefix": prefix}),
    }
    found = []
    while True:
        page = boto3.client("dynamodb").query(**request)
        found += [from_item(item) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def deleted_events(env: Environment, revocation_id: str) -> list[dict[str, Any]]:
    """Every key.deleted event of this revocation (read from the audit table itself: 2,000 are many pages)."""
    client, found = boto3.client("dynamodb"), []
    request: dict[str, Any] = {"TableName": get_services().settings.audit_table}
    while True:
        page = client.scan(**request)
        found += [from_item(item) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [
        item
        for item in found
        if item.get("event") == "key.deleted"
        and item.get("project") == env.project
        and item.get("environment") == env.environment
        and item.get("details", {}).get("revocation_id") == revocation_id
    ]


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The background marking waits until the test releases it (and is released whatever happens)."""
    release = threading.Event()
    original = Marker.mark

    def mark(self: Marker, records: Any) -> int:
        assert release.wait(120), "the marking was never released"
        return original(self, records)

    monkeypatch.setattr(Marker, "mark", mark)
    yield release
    release.set()


def finished() -> None:
    assert in_process_functions().wait_idle(300), "the revocation worker did not finish"


def test_2000_keys_are_refused_within_one_cache_ttl_of_the_answer_before_any_is_marked(env, held) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    covered = insert_keys(env, 2000, {"tenant": "t-17", "team": "billing"})
    other = env.key("reader", context={"tenant": "t-18", "team": "billing"})
    clock = Clock()
    authorizer = warm_verifier(clock)
    sample = covered[::97] + covered[-1:]
    for value in [*sample, other["key"]]:
        assert refusal(authorizer, value) is None  # cached as valid by a warm instance

    answer = env.call("POST", REVOCATIONS, body={"context": {"tenant": "t-17"}, "reason": "contract ended"})

    assert answer.status == 202, answer.body
    revocation_id = answer.body["revocation_id"]
    assert answer.body == {"revocation_id": revocation_id, "matched": 2000}
    assert answer.headers["Location"].endswith(f"{REVOCATIONS}/{revocation_id}")
    progress = env.call("GET", f"{REVOCATIONS}/{revocation_id}").body
    assert (progress["status"], progress["matched"], progress["revoked"]) == ("running", 2000, 0)  # none marked
    # Within one cache TTL every warm instance refuses every covered key, and only those.
    clock.now += TTL
    assert {refusal(authorizer, value) for value in sample} == {"revoked"}
    assert refusal(authorizer, other["key"]) is None
    assert env.call("GET", "/whoami", covered[1234]).status == 403  # a fresh instance, through the gateway
    # A key created after the revocation is not covered, though its context matches.
    later = env.key("reader", context={"tenant": "t-17", "team": "billing"})
    assert env.call("GET", "/whoami", later["key"]).status == 200

    held.set()
    finished()

    progress = env.call("GET", f"{REVOCATIONS}/{revocation_id}").body
    assert (progress["status"], progress["matched"], progress["revoked"]) == ("done", 2000, 2000)
    assert progress["context"] == {"tenant": "t-17"} and progress["reason"] == "contract ended"
    keys = {item["key_id"]: item for item in stored(env, "KEY#")}
    assert all(keys[key_id(v)].get("revocation_id") == revocation_id for v in covered)
    assert "revoked_at" not in keys[other["key_id"]] and "revoked_at" not in keys[later["key_id"]]
    # Each key has its own event, naming the revocation and why, so an investigator finds it by key.
    events = deleted_events(env, revocation_id)
    assert sorted(e["key_id"] for e in events) == sorted(key_id(v) for v in covered)
    assert {e["details"]["reason"] for e in events} == {"contract ended"}
    assert (
        env.call("GET", f"/audit?key_id={key_id(covered[7])}&kind=event").body["records"][0]["event"] == "key.deleted"
    )
    # Done: the rule has left the environment's state every authorizer reads, and the keys stay refused.
    assert get_services().store.environment_state(env.project, env.environment).rules == ()
    assert env.call("GET", "/whoami", covered[7]).status == 403
    assert env.call("GET", "/whoami", later["key"]).status == 200
    assert env.call("GET", "/roles/reader").body["key_count"] == 2


def test_a_retry_with_the_same_idempotency_key_answers_the_same_revocation(env) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    insert_keys(env, 3, {"tenant": "t-17"})
    body, headers = {"context": {"tenant": "t-17"}, "reason": "offboarding"}, {"Idempotency-Key": "revoke-t-17"}

    first = env.call("POST", REVOCATIONS, body=body, headers=headers)
    finished()
    again = env.call("POST", REVOCATIONS, body=body, headers=headers)

    assert first.status == again.status == 202
    assert again.body == first.body == {"revocation_id": first.body["revocation_id"], "matched": 3}
    started = [r for r in env.call("GET", "/audit?kind=event").body["records"] if r["event"] == "revocation.started"]
    assert len(started) == 1
    other = env.call("POST", REVOCATIONS, body={**body, "reason": "another"}, headers=headers)
    assert other.status == 422 and other.body["code"] == "idempotency_key_reused"


def test_a_tenant_administrator_revokes_only_within_its_own_rows(env) -> None:
    env.role(
        "tenant-admin",
        {"resource": "*", "actions": ["read", "write", "delete"], "filters": {"tenant": {"from_context": "tenant"}}},
    )
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    admin = env.key("tenant-admin", context={"tenant": "t1"})["key"]
    theirs = env.key("reader", context={"tenant": "t2", "team": "ops"})
    ours = env.key("reader", context={"tenant": "t1", "team": "ops"})

    # Another tenant's keys, every key, or keys of any tenant: beyond its rows, and nothing happens.
    for context in ({"tenant": "t2"}, {}, {"team": "ops"}):
        refused = env.call("POST", REVOCATIONS, admin, body={"context": context, "reason": "x"})
        assert refused.status == 403 and refused.body["code"] == "privilege_escalation", (context, refused.body)
    assert get_services().store.environment_state(env.project, env.environment).rules == ()

    # Its own tenant's keys, narrowed as it likes, it may revoke.
    narrower = env.call("POST", REVOCATIONS, admin, body={"context": {"tenant": "t1", "team": "ops"}, "reason": "x"})
    finished()
    assert narrower.status == 202 and narrower.body["matched"] == 1
    assert env.call("GET", f"{REVOCATIONS}/{narrower.body['revocation_id']}", admin).body["status"] == "done"
    assert "revoked_at" in env.record(ours["key_id"]) and "revoked_at" not in env.record(theirs["key_id"])
    # A revocation beyond its rows (the environment administrator's) it cannot even see.
    beyond = env.call("POST", REVOCATIONS, body={"context": {"team": "ops"}, "reason": "ops team disbanded"})
    finished()
    assert beyond.status == 202 and beyond.body["matched"] == 1
    assert env.call("GET", f"{REVOCATIONS}/{beyond.body['revocation_id']}", admin).status == 404
    assert env.call("GET", f"{REVOCATIONS}/{beyond.body['revocation_id']}").status == 200


def test_at_most_20_run_at_once_in_an_environment_and_an_unknown_one_is_404(env, held) -> None:
    for number in range(20):
        assert env.call("POST", REVOCATIONS, body={"context": {"n": str(number)}, "reason": "x"}).status == 202
    full = env.call("POST", REVOCATIONS, body={"context": {"n": "20"}, "reason": "x"})
    assert full.status == 409 and full.body["code"] == "too_many_revocations"
    assert len(get_services().store.environment_state(env.project, env.environment).rules) == 20
    assert env.call("GET", f"{REVOCATIONS}/{new_key_id()}").status == 404
    held.set()
    finished()
    assert env.call("POST", REVOCATIONS, body={"context": {"n": "20"}, "reason": "x"}).status == 202
    finished()


def test_a_worker_that_dies_mid_way_is_resumed_and_marks_every_key_once(env, monkeypatch) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    covered = insert_keys(env, 150, {"tenant": "t-17"})  # four transactions
    original, batches = Marker._commit, []

    def dies_on_the_third(self: Marker, batch: Any) -> int:
        batches.append(len(batch))
        if len(batches) == 3:
            raise ConnectionError("the worker's instance died")  # after two batches were committed
        return original(self, batch)

    monkeypatch.setattr(Marker, "_commit", dies_on_the_third)
    answer = env.call("POST", REVOCATIONS, body={"context": {"tenant": "t-17"}, "reason": "x"})
    finished()  # Lambda retries the failed event: the retry goes on where the marking is

    revocation_id = answer.body["revocation_id"]
    progress = env.call("GET", f"{REVOCATIONS}/{revocation_id}").body
    assert (progress["status"], progress["revoked"]) == ("done", 150)
    assert sorted(e["key_id"] for e in deleted_events(env, revocation_id)) == sorted(map(key_id, covered))


def test_a_revocation_whose_worker_never_ran_is_resumed_by_the_sweep(env, monkeypatch) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    insert_keys(env, 5, {"tenant": "t-17"})
    monkeypatch.setenv("REVOCATION_WORKER_FUNCTION", "")  # as if Lambda never took the event
    composition.reset()
    answer = env.call("POST", REVOCATIONS, body={"context": {"tenant": "t-17"}, "reason": "x"})
    revocation_id = answer.body["revocation_id"]
    services = get_services()
    started: list[dict[str, Any]] = []
    assert sweep(services, started.append) == 0  # its worker may still be starting

    assert sweep(services, started.append, now=time.time() + services.config.revocation_stale_seconds + 1) == 1
    assert started == [{"project": env.project, "environment": env.environment, "revocation_id": revocation_id}]
    assert sweep(services, started.append, now=time.time() + services.config.revocation_stale_seconds + 1) == 0
    run_revocation(services, RevocationJob.parse(started[0]), lambda: 300.0, started.append)

    assert env.call("GET", f"{REVOCATIONS}/{revocation_id}").body["revoked"] == 5
    assert services.revocations.registry.registered() == []


def test_a_worker_short_of_time_goes_on_in_a_new_invocation_from_where_it_was(env, monkeypatch) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    insert_keys(env, 450, {"tenant": "t-17"})  # three pages
    monkeypatch.setenv("REVOCATION_WORKER_FUNCTION", "")
    composition.reset()
    revocation_id = env.call("POST", REVOCATIONS, body={"context": {"tenant": "t-17"}, "reason": "x"}).body[
        "revocation_id"
    ]
    services, invoked = get_services(), []
    job = RevocationJob(env.project, env.environment, revocation_id)
    times = iter([300.0, 10.0])  # one page's time, then too little for another

    assert run_revocation(services, job, lambda: next(times), invoked.append)["status"] == "running"
    (event,) = invoked
    assert event["cursor"].startswith("KEY#") and event["phase"] == "mark"
    assert 0 < env.call("GET", f"{REVOCATIONS}/{revocation_id}").body["revoked"] < 450  # a page, or near it
    assert run_revocation(services, RevocationJob.parse(event), lambda: 300.0, invoked.append)["status"] == "done"
    assert env.call("GET", f"{REVOCATIONS}/{revocation_id}").body["revoked"] == 450


def test_a_key_whose_creation_committed_after_the_marking_went_past_is_marked_by_the_last_pass(
    env, monkeypatch
) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    insert_keys(env, 2, {"tenant": "t-17"})
    monkeypatch.setenv("REVOCATION_WORKER_FUNCTION", "")
    composition.reset()
    answer = env.call("POST", REVOCATIONS, body={"context": {"tenant": "t-17"}, "reason": "x"}).body
    rule = get_services().revocations.get(env.project, env.environment, answer["revocation_id"])
    late: list[str] = []
    original = RevocationStore.uncovered_page

    def marking_went_past(self: RevocationStore, *args: Any, **kwargs: Any) -> Any:
        page = original(self, *args, **kwargs)
        if page[1] is None and "since_ms" not in kwargs and not late:
            # The marking has read its last page: a creation that chose its id (its time) before the
            # revocation commits only now.
            late.extend(insert_keys(env, 1, {"tenant": "t-17"}, new_key_id(int(rule["before_ms"]) - 100)))
        return page

    monkeypatch.setattr(RevocationStore, "uncovered_page", marking_went_past)
    job = RevocationJob(env.project, env.environment, answer["revocation_id"])
    run_revocation(get_services(), job, lambda: 300.0, lambda _: None)

    assert late and "revoked_at" in env.record(key_id(late[0]))
    progress = env.call("GET", f"{REVOCATIONS}/{answer['revocation_id']}").body
    assert (progress["status"], progress["revoked"], progress["matched"]) == ("done", 3, 3)
