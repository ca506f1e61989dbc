"""Over HTTP against the local stack: a mass revocation is in force at every layer when it answers, API
Gateway's cached Allows included; its worker, invoked through the local Lambda endpoint, then marks each key."""

from __future__ import annotations

import time

from tests.support import env_path, http, put_orders_reader

ENV = env_path("demo", "dev")


def test_a_tenants_keys_cached_by_the_gateway_are_refused_from_the_answer_on_then_each_is_marked(stack, admin) -> None:
    base, sample = stack.url(), stack.url("SampleApi")
    put_orders_reader(base, admin)
    made = [
        http(base, "POST", f"{ENV}/keys", admin, {"name": f"t-17 {n}", "roles": ["orders-reader"], "context": ctx})
        for n, ctx in enumerate([{"tenant": "t-17"}] * 5 + [{"tenant": "t-18"}])
    ]
    keys = [reply.body["key"] for reply in made]
    for key in keys:
        assert http(sample, "GET", "/orders", key).status == 200  # each Allow now cached by the gateway

    answer = http(
        base,
        "POST",
        f"{ENV}/keys/revocations",
        admin,
        {"context": {"tenant": "t-17"}, "reason": "contract ended"},
        headers={"Idempotency-Key": "t-17-ended"},
    )

    assert answer.status == 202 and answer.body["matched"] == 5, answer.body
    assert [http(sample, "GET", "/orders", key).status for key in keys] == [403] * 5 + [200]
    revocation = f"{ENV}/keys/revocations/{answer.body['revocation_id']}"
    deadline = time.monotonic() + 60
    while (progress := http(base, "GET", revocation, admin).body)["status"] != "done":
        assert time.monotonic() < deadline, progress
        time.sleep(0.2)
    assert progress["revoked"] == 5
    for reply in made[:5]:
        trail = http(base, "GET", f"{ENV}/audit?key_id={reply.body['key_id']}&kind=event", admin).body["records"]
        deleted = [r for r in trail if r["event"] == "key.deleted"]
        assert [r["details"]["revocation_id"] for r in deleted] == [answer.body["revocation_id"]]
    again = http(
        base,
        "POST",
        f"{ENV}/keys/revocations",
        admin,
        {"context": {"tenant": "t-17"}, "reason": "contract ended"},
        headers={"Idempotency-Key": "t-17-ended"},
    )
    assert again.status == 202 and again.body == answer.body
