"""The rotation runbook on a key's page: roll with a grace period (the successor shown once), watch the old
key's live traffic, and delete it only once it has been idle for the chosen window, guarded by the server.

Elapsed time is simulated, never waited for: the browser's clock is Playwright's (its timers fire when the
test moves it on), and the server's view of the old key's last use is moved back through the store."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.dashboard_actions import (
    NO_HORIZONTAL_SCROLL,
    PAGE_WIDTH,
    as_if_last_used,
    create_key,
    open_signed_in,
    put_role,
)
from tests.support import http

REFRESH_MS = 10_000  # live-traffic.js REFRESH_SECONDS


def test_a_key_is_rotated_step_by_step_and_the_old_one_deleted_only_once_idle(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    sample = stack.url("SampleApi")
    put_role(stack, admin, "rotation-reader", [{"resource": "orders", "actions": ["read"]}], "reads orders")
    old = create_key(stack, admin, "billing consumer", ["rotation-reader"])
    for _ in range(3):
        assert http(sample, "GET", "/orders/1", old["key"]).status == 200
    stack.settle_audit()  # into the audit, and the key's view of it, now
    page.clock.install()
    open_signed_in(page, stack, admin, f"#/keys/{old['key_id']}")

    # Step 1: roll with a grace period; the successor's value is shown once, with the stored-key check.
    page.get_by_role("button", name="Rotate", exact=True).click()
    flow = page.get_by_role("region", name="Rotate “billing consumer”")
    expect(flow.locator('[data-step="1"]')).to_have_attribute("aria-current", "step")
    expect(flow.locator('[data-step="4"]')).to_contain_text("Next")
    flow.get_by_label("Grace period for the old key").select_option("86400")
    screenshot("rotation-start")
    flow.get_by_role("button", name="Roll key").click()
    shown = page.get_by_role("dialog", name="Your new API key")
    new_key = shown.get_by_label("New API key").input_value()
    shown.get_by_role("button", name="Done").click()
    expect(shown.locator("#secret-error")).to_contain_text("cannot be shown again")
    shown.get_by_label("I have stored this key").check()
    shown.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()
    expect(flow.get_by_role("heading", name="2. Move the consumers")).to_be_focused()  # on to the next step
    new_id = re.search(r"_([A-Za-z0-9]{12})[A-Za-z0-9]{28}$", new_key).group(1)
    expect(flow.locator('[data-step="1"]')).to_contain_text(f"Successor {new_id} created")
    # The old key no longer reads active: rolled, with the end of its grace period.
    expect(page.locator("#key-facts")).to_contain_text("rolled, accepted until")

    # Step 3: its live traffic; step 4 stays disabled while the key is in use.
    traffic = flow.locator("#traffic-total")
    expect(traffic).to_contain_text("3 requests in the last 10 minutes: 3 allowed, 0 refused")
    expect(flow.locator("#traffic-last-used")).to_contain_text("ago")
    expect(page.get_by_role("img", name="Requests per minute over the last 10 minutes: 3 in total")).to_be_visible()
    delete = flow.get_by_role("button", name="Delete old key")
    expect(delete).to_be_disabled()
    expect(flow.locator("#delete-old-reason")).to_contain_text("no accepted request for 1 hour")
    flow.get_by_label("The old key must be idle for").select_option("300")
    expect(flow.locator("#delete-old-reason")).to_contain_text("no accepted request for 5 minutes")
    expect(delete).to_be_disabled()
    page.mouse.move(0, 0)  # no tooltip in the picture
    screenshot("rotation-watching")

    # A forgotten consumer still calls with the old key: the next refresh (the page's timer) shows it.
    assert http(sample, "GET", "/orders/1", old["key"]).status == 200
    stack.settle_audit()
    page.clock.fast_forward(REFRESH_MS)
    expect(traffic).to_contain_text("4 requests in the last 10 minutes")
    expect(delete).to_be_disabled()

    # Leaving the page stops the refreshes; the rolled key's page continues the rotation at step 3.
    watched: list[str] = []
    page.on("request", lambda request: f"key_id={old['key_id']}" in request.url and watched.append(request.url))
    page.get_by_role("link", name="Keys", exact=True).click()
    expect(page.get_by_role("table", name="API keys")).to_be_visible()
    page.clock.fast_forward(3 * REFRESH_MS)
    expect(page.get_by_role("table", name="API keys")).to_be_visible()
    assert watched == []
    page.go_back()
    page.get_by_role("button", name="Continue rotation").click()
    expect(flow.locator('[data-step="1"]')).to_contain_text("Done")
    expect(traffic).to_contain_text("4 requests")
    # Closing the flow stops them too.
    watched.clear()
    flow.get_by_role("button", name="Close rotation").click()
    expect(flow).to_have_count(0)
    page.clock.fast_forward(3 * REFRESH_MS)
    expect(page.get_by_role("button", name="Continue rotation")).to_be_focused()
    assert watched == []
    page.get_by_role("button", name="Continue rotation").click()
    flow.get_by_label("The old key must be idle for").select_option("300")
    expect(traffic).to_contain_text("4 requests")

    # Five minutes later by the browser's clock, the page sees the key idle and enables the delete; the
    # server, whose clock did not move, still sees the use and refuses it: nothing is deleted.
    page.clock.fast_forward("05:00")
    expect(delete).to_be_enabled()
    delete.click()
    refusal = flow.locator("#delete-old-refusal")
    expect(refusal).to_contain_text("Not deleted: the server saw the old key in use")
    expect(refusal).to_contain_text("Accepted requests in the hours of the window: 4")
    assert http(sample, "GET", "/orders/1", old["key"]).status == 200
    screenshot("rotation-key-in-use")

    # The consumers really stopped ten minutes ago: the guarded delete goes through.
    stack.settle_audit()
    as_if_last_used(old["key_id"], 600)
    delete.click()
    expect(flow.locator("#delete-old-done")).to_contain_text("Deleted: the old key is refused from now on")
    expect(flow.locator('[data-step="4"]')).to_contain_text("Done")
    expect(page.locator("#key-facts")).to_contain_text("revoked")
    assert http(sample, "GET", "/orders/1", old["key"]).status == 403
    assert http(sample, "GET", "/orders/1", new_key).status == 200
    screenshot("rotation-done")

    # The flow fits a phone too.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(flow).to_be_visible()
    assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(PAGE_WIDTH)
    screenshot("rotation-phone")
