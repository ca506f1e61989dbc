"""Webhooks on the local stack as `make run` serves it (HTTP gateway, moto's server, the SQS event source
polling the webhook queue): a receiver on 127.0.0.1 gets signed key.created and key.revoked deliveries within
5 seconds, and they verify under the Standard Webhooks scheme, checked here from the specification's text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from archie_local.http_server import HttpRequest, HttpResponse, HttpService
from tests.support import env_path, http, put_orders_reader

KEYS = env_path("demo", "dev", "/keys")
HOOKS = env_path("demo", "dev", "/webhooks")


def verifies(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    fresh = abs(now - int(headers["webhook-timestamp"])) <= 300
    return fresh and expected in headers["webhook-signature"].split(" ")


@pytest.fixture
def receiver() -> Iterator[tuple[list[tuple[dict[str, str], bytes, float]], str]]:
    got: list[tuple[dict[str, str], bytes, float]] = []
    lock = threading.Lock()

    def handle(request: HttpRequest) -> HttpResponse:
        with lock:
            got.append(({k.lower(): v for k, v in request.headers}, request.body, time.time()))
        return HttpResponse(204, {}, b"")

    service = HttpService(handle, 0).start()
    try:
        yield got, f"{service.url}/hook"
    finally:
        service.stop()


def test_a_receiver_on_loopback_gets_signed_key_created_and_key_revoked_within_5_seconds(
    stack: Any, admin: str, receiver: Any
) -> None:
    got, url = receiver
    base = stack.url()
    put_orders_reader(base, admin)
    registered = http(
        base, "PUT", f"{HOOKS}/integration", admin, {"url": url, "events": ["key.created", "key.revoked"]}
    )
    assert registered.status == 201, registered.body
    secret = registered.body["secret"]
    began = time.time()
    created = http(base, "POST", KEYS, admin, {"name": "hooked", "roles": ["orders-reader"]}).body
    assert http(base, "DELETE", f"{KEYS}/{created['key_id']}", admin).status in (202, 204)
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(got) == 2, got
    seen: dict[str, Any] = {}
    for headers, body, arrived in got:
        assert arrived - began < 5 and verifies(secret, headers, body, time.time())
        event = json.loads(body)
        assert event["data"]["key_id"] == created["key_id"]
        seen[event["type"]] = event
    assert set(seen) == {"key.created", "key.revoked"}
    assert http(base, "DELETE", f"{HOOKS}/integration", admin).status == 204
