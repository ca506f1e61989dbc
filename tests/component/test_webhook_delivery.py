"""Webhook deliveries to a real receiver on 127.0.0.1: signed so that they verify, retried with backoff on a
clock the test moves, dead-lettered when the schedule runs out, redriven on request; and the sender's refusal
to connect anywhere a name's resolution did not check."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from archie_keys.app.webhook_delivery import Delivery, WebhookDeliverer
from archie_keys.aws.webhook_http import WebhookSender
from archie_keys.domain.limits import WEBHOOK_RETRY_DELAYS_SECONDS
from archie_keys.domain.webhook_retries import MAX_ATTEMPTS, retry_delay, schedule_span_seconds
from archie_keys.domain.webhooks import KeySubject, key_event, new_message_id, new_secret, verify
from archie_local.http_server import HttpRequest, HttpResponse, HttpService
from archie_local.webhook_queue import DeliveryLoop, MemoryDeliveryLog, MemoryDeliveryQueue, MemorySigningSecrets

T0 = 1_790_000_000.0
WEBHOOK = "demo/dev/billing"
KEY = KeySubject("0NxQ3aB7kR2c", "billing ci", "demo", "dev")


@dataclass
class Receiver:
    """Answers each delivery with the next scripted (status, headers), then 204; records what it got."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.got.append(({k.lower(): v for k, v in request.headers}, request.body))
        self.arrived.set()
        status, headers = self.script.pop(0) if self.script else (204, {})
        return HttpResponse(status, headers, b"" if status == 204 else b'{"error": "not now"}')


@dataclass
class Setup:
    receiver: Receiver
    url: str
    secret: str
    queue: MemoryDeliveryQueue
    log: MemoryDeliveryLog
    deliverer: WebhookDeliverer

    def enqueue(self, event_type: str, at: float = T0) -> Delivery:
        delivery = Delivery(
            delivery_id=new_message_id(),
            webhook=WEBHOOK,
            url=self.url,
            message_id=new_message_id(),
            body=key_event(event_type, KEY, "0AdminKey001", at),
        )
        self.queue.put(delivery, at)
        return delivery

    def results(self) -> list[str]:
        return [record.result for record in self.log.records]


@pytest.fixture
def setup() -> Iterator[Setup]:
    receiver = Receiver()
    service = HttpService(receiver, 0).start()
    secret = new_secret()
    queue, log = MemoryDeliveryQueue(), MemoryDeliveryLog()
    sender = WebhookSender(local=True, timeout=5)
    deliverer = WebhookDeliverer(queue, sender, MemorySigningSecrets({WEBHOOK: [secret]}), log, jitter=lambda: 0.5)
    yield Setup(receiver, f"{service.url}/hooks/archie", secret, queue, log, deliverer)
    service.stop()


def test_a_receiver_on_127_0_0_1_gets_signed_key_created_and_key_revoked_deliveries_that_verify(setup: Setup) -> None:
    setup.enqueue("key.created")
    setup.enqueue("key.revoked")
    assert setup.deliverer.run_due(T0) == 2
    assert [json_type(body) for _, body in setup.receiver.got] == ["key.created", "key.revoked"]
    for headers, body in setup.receiver.got:
        verify(setup.secret, headers, body, now=T0 + 1)
        assert headers["content-type"] == "application/json"
    assert setup.results() == ["delivered", "delivered"]


def test_the_local_loop_delivers_within_5_seconds(setup: Setup) -> None:
    import time

    loop = DeliveryLoop(setup.deliverer).start()
    try:
        setup.enqueue("key.revoked", at=time.time())
        assert setup.receiver.arrived.wait(timeout=5), "no delivery within 5 s"
    finally:
        loop.stop()
    headers, body = setup.receiver.got[0]
    verify(setup.secret, headers, body, now=time.time())


def test_a_failing_receiver_is_retried_with_backoff_each_attempt_signed_afresh(setup: Setup) -> None:
    setup.receiver.script = [(500, {}), (502, {})]
    setup.enqueue("key.created")
    setup.deliverer.run_due(T0)
    assert setup.deliverer.run_due(T0 + 4.9) == 0  # the first retry waits 5 s
    assert setup.deliverer.run_due(T0 + 5) == 1
    assert setup.deliverer.run_due(T0 + 5 + 299) == 0  # the second, 5 minutes
    assert setup.deliverer.run_due(T0 + 5 + 300) == 1
    assert setup.results() == ["retrying", "retrying", "delivered"]
    ids = {headers["webhook-id"] for headers, _ in setup.receiver.got}
    stamps = [int(headers["webhook-timestamp"]) for headers, _ in setup.receiver.got]
    assert len(ids) == 1 and stamps == [int(T0), int(T0 + 5), int(T0 + 305)]
    headers, body = setup.receiver.got[-1]
    verify(setup.secret, headers, body, now=T0 + 305)  # past the 5-minute tolerance of the event: signed afresh


def test_a_receivers_retry_after_is_honoured(setup: Setup) -> None:
    setup.receiver.script = [(503, {"Retry-After": "120"})]
    setup.enqueue("key.leaked")
    setup.deliverer.run_due(T0)
    assert setup.log.records[0].next_attempt_at == T0 + 120
    assert setup.deliverer.run_due(T0 + 119) == 0
    assert setup.deliverer.run_due(T0 + 120) == 1


def test_a_receiver_down_for_the_whole_schedule_gets_a_dead_letter_after_more_than_24_hours(setup: Setup) -> None:
    setup.receiver.script = [(500, {})] * MAX_ATTEMPTS
    delivery = setup.enqueue("key.expired")
    now = T0
    for delay in (0, *WEBHOOK_RETRY_DELAYS_SECONDS):
        now += delay
        assert setup.deliverer.run_due(now) == 1
    assert setup.results() == ["retrying"] * (MAX_ATTEMPTS - 1) + ["dead"]
    assert now - T0 == schedule_span_seconds() >= 24 * 3600
    assert setup.queue.waiting() == []
    assert [d.delivery_id for d in setup.log.dead_letters(WEBHOOK)] == [delivery.delivery_id]
    # The receiver is back: a redrive delivers the same event (same webhook-id) on a fresh schedule.
    assert setup.deliverer.redrive(WEBHOOK, now) == 1
    assert setup.deliverer.run_due(now) == 1
    assert setup.results()[-1] == "delivered" and setup.log.dead_letters(WEBHOOK) == []
    assert len({headers["webhook-id"] for headers, _ in setup.receiver.got}) == 1


def test_a_receiver_that_answers_410_gone_is_not_tried_again(setup: Setup) -> None:
    setup.receiver.script = [(410, {})]
    setup.enqueue("key.updated")
    setup.deliverer.run_due(T0)
    assert setup.results() == ["gone"]
    assert setup.deliverer.run_due(T0 + 10**6) == 0 and len(setup.log.dead_letters(WEBHOOK)) == 1


def test_a_redirect_is_a_failed_attempt_never_followed(setup: Setup) -> None:
    setup.receiver.script = [(302, {"Location": "http://169.254.169.254/latest/meta-data/"})]
    setup.enqueue("key.created")
    setup.deliverer.run_due(T0)
    assert setup.results() == ["retrying"] and len(setup.receiver.got) == 1


def test_deliveries_of_a_deleted_webhook_are_dropped(setup: Setup) -> None:
    setup.deliverer.signing_secrets = MemorySigningSecrets({})
    setup.enqueue("key.created")
    setup.deliverer.run_due(T0)
    assert setup.results() == ["dropped"] and setup.receiver.got == []


def test_retry_delays_are_spread_by_at_most_a_tenth() -> None:
    assert retry_delay(1, 0.0) == pytest.approx(4.5) and retry_delay(1, 0.999999) == pytest.approx(5.5, abs=1e-4)
    assert retry_delay(MAX_ATTEMPTS, 0.5) is None and retry_delay(0, 0.5) is None
    assert retry_delay(1, 0.5, retry_after=10**9) == max(WEBHOOK_RETRY_DELAYS_SECONDS)


# --- where the sender connects ----------------------------------------------------------------------------


@dataclass
class Network:
    """A resolver an attacker controls, and a connect that records where it was asked to go."""

    answers: list[list[str]]
    resolved: int = 0
    connected: list[tuple[str, str]] = field(default_factory=list)

    def resolve(self, host: str, port: int) -> list[str]:
        self.resolved += 1
        return self.answers[min(self.resolved, len(self.answers)) - 1]

    def connect(self, url: Any, address: Any, timeout: float) -> Any:
        self.connected.append((url.host, str(address)))
        raise_on_use = ConnectionRefusedError("no network in this test")

        class Unreachable:
            def request(self, *args: Any, **kwargs: Any) -> None:
                raise raise_on_use

            def close(self) -> None:
                pass

        return Unreachable()


def test_the_connection_goes_to_the_address_that_was_checked_never_a_second_resolution() -> None:
    network = Network([["93.184.216.34"], ["127.0.0.1"]])  # a rebinding DNS: public first, loopback next
    outcome = WebhookSender(resolve=network.resolve, connect=network.connect).post(
        "https://hooks.example.com/x", {}, b"{}"
    )
    assert network.resolved == 1
    assert network.connected == [("hooks.example.com", "93.184.216.34")]
    assert outcome.status is None and outcome.error == "connection: ConnectionRefusedError"


@pytest.mark.parametrize(
    ("url", "answer", "reason"),
    [
        ("https://hooks.example.com/x", ["169.254.169.254"], "metadata"),
        ("https://hooks.example.com/x", ["93.184.216.34", "10.0.0.5"], "private"),
        ("https://hooks.example.com/x", ["::1"], "loopback"),
        ("https://[fd00:ec2::254]/x", [], "metadata"),
        ("http://127.0.0.1:8123/x", [], "not a webhook URL"),  # http is local only
    ],
)
def test_a_target_that_is_not_public_is_never_connected_to(url: str, answer: list[str], reason: str) -> None:
    network = Network([answer])
    outcome = WebhookSender(resolve=network.resolve, connect=network.connect).post(url, {}, b"{}")
    assert network.connected == []
    assert outcome.error == f"url_refused: {reason}"


def json_type(body: bytes) -> str:
    import json

    return str(json.loads(body)["type"])
