"""The rotation runbook end to end: create a key delivered to a secret, roll it, consumers move by reading
the secret, traffic on the old key is shown to stop, the old key is deleted."""

from __future__ import annotations

import time

import boto3

from tests.support import env_path, http, put_orders_reader

KEYS = env_path("demo", "dev", "/keys")
SECRET = "archie/keys/demo/dev/billing-service"


def wait_for(condition, seconds: float = 15):
    """Poll a condition about the audit trail, which arrives through the (emulated) log subscription."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_rotate_a_key_and_prove_the_old_one_idle_before_deleting_it(stack, admin) -> None:
    base, sample = stack.url(), stack.url("SampleApi")
    secrets = boto3.client("secretsmanager")
    put_orders_reader(base, admin)
    created = http(
        base, "POST", KEYS, admin, {"name": "billing-service", "roles": ["orders-reader"], "secret_name": SECRET}
    )
    assert created.status == 201
    old_id = created.body["key_id"]

    def consumer_call() -> int:
        """A consumer that reads its key from the secret on every call."""
        key = secrets.get_secret_value(SecretId=SECRET, VersionStage="AWSCURRENT")["SecretString"]
        return http(sample, "GET", "/orders", key).status

    assert consumer_call() == 200
    # The request shows up in the audit trail and in the key's usage within seconds.
    assert wait_for(
        lambda: (
            http(base, "GET", env_path("demo", "dev", f"/audit?key_id={old_id}"), admin).body["records"][0].get("kind")
            == "request"
        )
    )
    usage = wait_for(lambda: http(base, "GET", f"{KEYS}/{old_id}/usage", admin).body["last_used_at"])
    assert usage

    # 1. Roll: the successor goes to the secret (AWSCURRENT); the old value stays readable as AWSPREVIOUS.
    rolled = http(base, "POST", f"{KEYS}/{old_id}/roll", admin, {"grace_seconds": 3600, "secret_name": SECRET})
    assert rolled.status == 201
    new_id = rolled.body["key_id"]
    assert secrets.get_secret_value(SecretId=SECRET, VersionStage="AWSPREVIOUS")["SecretString"] == created.body["key"]
    # 2. Consumers move by reading the secret again.
    before_move = http(base, "GET", f"{KEYS}/{old_id}/usage", admin).body
    assert consumer_call() == 200
    # 3. Verify traffic on the old key has stopped: the new key is used, the old one's usage does not grow.
    assert wait_for(lambda: http(base, "GET", f"{KEYS}/{new_id}/usage", admin).body["last_used_at"])
    after_move = http(base, "GET", f"{KEYS}/{old_id}/usage", admin).body
    assert sum(h["requests"] for h in after_move["hours"]) == sum(h["requests"] for h in before_move["hours"])
    assert after_move["last_used_at"] == before_move["last_used_at"]
    # 4. Delete the old key; the consumer is unaffected.
    assert http(base, "DELETE", f"{KEYS}/{old_id}", admin).status == 204
    assert consumer_call() == 200
    trail = http(base, "GET", env_path("demo", "dev", f"/audit?key_id={old_id}"), admin).body["records"]
    assert [r["event"] for r in trail if r["kind"] == "event"] == ["key.deleted", "key.rolled", "key.created"]
