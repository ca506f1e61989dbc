"""An environment's webhooks in the dashboard (issue 21, point 4): add one (its signing secret shown once, and
it is the secret the deliveries are signed with), send a test event to a receiver on 127.0.0.1 and see the
delivery's result and HTTP status, see a failing receiver's delivery being retried, and delete it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from archie_local.http_server import HttpRequest, HttpResponse, HttpService
from tests.browser.dashboard_actions import NO_HORIZONTAL_SCROLL, PAGE_WIDTH, open_signed_in


class Receiver:
    """A webhook receiver on 127.0.0.1: answers `status` to every delivery and keeps what it got."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with self.lock:
            self.got.append(({k.lower(): v for k, v in request.headers}, request.body))
        return HttpResponse(self.status, {}, b"" if self.status == 204 else b'{"error":"not now"}')

    def first(self, timeout: float = 10) -> tuple[dict[str, str], bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.got:
                    return self.got[0]
            time.sleep(0.05)
        raise AssertionError(f"no delivery within {timeout} s")


@pytest.fixture
def receivers() -> Iterator[Any]:
    started: list[HttpService] = []

    def start(status: int) -> tuple[Receiver, str]:
        receiver = Receiver(status)
        service = HttpService(receiver, 0).start()
        started.append(service)
        return receiver, f"{service.url}/hooks/archie"

    yield start
    for service in started:
        service.stop()


def signed_with(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check, from the specification's text (not the code under test)."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(s, expected) for s in headers["webhook-signature"].split(" "))


def add_webhook(page: Any, name: str, url: str) -> str:
    """Add it through the form; the signing secret shown once."""
    page.get_by_label("Webhook name").fill(name)
    page.get_by_label("Receiver URL").fill(url)
    page.get_by_role("button", name="Add webhook").click()
    shown = page.get_by_role("dialog", name="Your webhook's signing secret")
    expect(shown.get_by_label("Signing secret")).to_have_value(re.compile(r"^whsec_"))
    secret = shown.get_by_label("Signing secret").input_value()
    shown.get_by_label("I have stored this secret").check()
    shown.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()
    return secret


def refreshed_until(page: Any, table: Any, text: str, timeout: float = 10) -> None:
    """Press Refresh until the deliveries table shows `text` (a delivery is recorded once attempted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.get_by_role("button", name="Refresh").click()
        try:
            expect(table).to_contain_text(text, timeout=500)
            return
        except AssertionError:
            continue
    expect(table).to_contain_text(text)


def test_a_webhook_is_added_with_its_secret_shown_once_test_sent_and_deleted(
    stack, page, receivers, screenshot
) -> None:
    admin = stack.bootstrap("demo", "dev")
    receiver, url = receivers(204)
    open_signed_in(page, stack, admin, "#/webhooks")
    expect(page.get_by_role("link", name="Webhooks", exact=True)).to_have_attribute("aria-current", "page")
    listed = page.get_by_role("table", name="Webhooks")

    # The form ticks the events most owners want; one more is added.
    page.get_by_label("key.expiring").check()
    secret = add_webhook(page, "billing-alerts", url)
    row = listed.locator('tr[data-webhook="billing-alerts"]')
    expect(row).to_contain_text(url)
    expect(row).to_contain_text("key.created, key.revoked, key.leaked, key.expiring")
    expect(row).to_contain_text("active")
    screenshot("webhooks")
    # Shown once: the list and the webhook's own page never show it again.
    assert secret not in page.content()

    row.get_by_role("link", name="billing-alerts").click()
    expect(page.get_by_role("heading", name="Webhook billing-alerts")).to_be_visible()
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator("#webhook-message")).to_contain_text("Test event queued")
    headers, body = receiver.first()
    assert json.loads(body)["type"] == "webhook.test"
    assert signed_with(secret, headers, body)  # the secret the page showed is the one deliveries are signed with

    deliveries = page.get_by_role("table", name="Recent deliveries")
    refreshed_until(page, deliveries, "delivered")
    first = deliveries.locator("tbody tr").first
    expect(first).to_contain_text(headers["webhook-id"])
    expect(first.locator('[data-label="HTTP status"]')).to_have_text("204")
    expect(first.locator('[data-label="Attempt"]')).to_have_text("1")
    screenshot("webhook-deliveries")
    # On a phone the deliveries are cards, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(first.get_by_role("cell", name="Result delivered")).to_be_visible()
    assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(PAGE_WIDTH)
    page.set_viewport_size({"width": 1280, "height": 860})

    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("dialog", name="Delete webhook?").get_by_role("button", name="Delete webhook").click()
    expect(page).to_have_url(re.compile(r"#/webhooks$"))
    expect(listed).to_contain_text("No webhooks yet.")


def test_a_failing_receivers_delivery_shows_its_status_and_that_it_will_be_retried(stack, page, receivers) -> None:
    admin = stack.bootstrap("demo", "dev")
    receiver, url = receivers(500)
    open_signed_in(page, stack, admin, "#/webhooks")
    add_webhook(page, "flaky-receiver", url)
    page.get_by_role("link", name="flaky-receiver").click()
    page.get_by_role("button", name="Send test event").click()
    receiver.first()
    deliveries = page.get_by_role("table", name="Recent deliveries")
    refreshed_until(page, deliveries, "retrying")
    first = deliveries.locator("tbody tr").first
    expect(first.locator('[data-label="HTTP status"]')).to_have_text("500")
    # When it is tried again (about 5 s on: the first retry of the Standard Webhooks schedule).
    expect(first.locator('[data-label="Next attempt"] time')).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("dialog", name="Delete webhook?").get_by_role("button", name="Delete webhook").click()
    expect(page.get_by_role("table", name="Webhooks")).not_to_contain_text("flaky-receiver")


def dead_letter_for(name: str, url: str, body: bytes) -> str:
    """A delivery that used up its retries (about 42 hours of them), recorded as the delivery function records
    one, through the local stack's own store (the same process): its message id."""
    from archie_keys.app.webhook_delivery import AttemptRecord, Delivery
    from archie_keys.app.webhook_records import DeliveryRecords
    from archie_keys.domain.webhook_paths import webhook_path
    from archie_keys.edge.composition import get_services

    delivery = Delivery("dlv-e2e-dead-1", webhook_path("demo", "dev", name), url, "msg_e2e_dead_1", body, attempt=8)
    record = AttemptRecord(delivery.delivery_id, delivery.webhook, delivery.message_id, 8, time.time(), "dead", 503)
    records = DeliveryRecords(get_services().webhooks)
    records.attempted(record)
    records.dead_letter(delivery, record)
    return delivery.message_id


def test_a_dead_letter_is_sent_again_from_the_webhooks_page(stack, page, receivers) -> None:
    admin = stack.bootstrap("demo", "dev")
    receiver, url = receivers(204)
    open_signed_in(page, stack, admin, "#/webhooks")
    add_webhook(page, "recovered-receiver", url)
    body = b'{"type":"key.created","timestamp":"2026-12-01T09:00:00.000Z","data":{"key_id":"0NxQ3aB7kR2c"}}'
    dead_id = dead_letter_for("recovered-receiver", url, body)

    page.get_by_role("link", name="recovered-receiver").click()
    deliveries = page.get_by_role("table", name="Recent deliveries")
    dead = deliveries.locator("tbody tr", has_text=dead_id)
    expect(dead.locator('[data-label="Result"]')).to_have_text("dead (dead letter)")
    expect(dead.locator('[data-label="HTTP status"]')).to_have_text("503")
    page.get_by_role("button", name="Send the dead letter again").click()
    expect(page.locator("#webhook-message")).to_have_text("1 dead letter sent again, on a fresh retry schedule.")
    expect(page.get_by_role("button", name="Send the dead letter again")).to_be_hidden()
    headers, got = receiver.first()
    # The row leaves "dead": it reads "redriven" until the fresh schedule's first attempt lands, then "delivered"
    # (the local receiver answers in milliseconds, so which one the page shows depends on its refresh).
    expect(dead.locator('[data-label="Result"]')).to_have_text(re.compile(r"^(redriven|delivered)$"))
    # The same event, with the same webhook-id: a receiver that did process it after all drops it.
    assert got == body and headers["webhook-id"] == dead_id


def test_a_refused_webhook_url_is_shown_as_the_api_words_it(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    open_signed_in(page, stack, admin, "#/webhooks")
    page.get_by_label("Webhook name").fill("metadata")
    page.get_by_label("Receiver URL").fill("https://169.254.169.254/latest/meta-data")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#webhook-error")).to_contain_text("webhook_url_refused: ")
    expect(page.locator("#webhook-error")).to_contain_text("(field: url)")
    expect(page.locator("#webhook-error-url")).not_to_be_empty()
    expect(page.get_by_role("table", name="Webhooks")).not_to_contain_text("metadata")
