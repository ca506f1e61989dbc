"""A key GitHub's secret scanning reported leaked says so wherever it is shown: a Leaked badge in the list
and on its page, where it was found and what was done. A key revoked because it leaked still has a page:
it says the key is revoked, why, and shows its audit trail."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.dashboard_actions import create_key, open_signed_in, put_role
from tests.support import env_path, http

KEPT_URL = "https://github.com/octo-org/billing/blob/4f2c1e0/config/settings.py"
REVOKED_URL = "https://github.com/octo-org/billing/commit/9a8b7c6"


def report_leak(key: str, url: str, source: str) -> None:
    """What GitHub's signed alert leads to, called in the test process (the local stack's own process)."""
    from archie_keys.app.leaks import LeakedToken, report_leaks
    from archie_keys.edge.composition import get_services

    [answer] = report_leaks(get_services(), [LeakedToken(key, "archie_api_key", url, source)])
    assert answer["label"] == "true_positive"


def test_leaked_keys_are_badged_with_where_they_leaked_and_what_was_done(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "leak-reader", [{"resource": "orders", "actions": ["read"]}])
    kept = create_key(stack, admin, "leaky reporter", ["leak-reader"])
    revoked = create_key(stack, admin, "leaky revoked", ["leak-reader"])
    create_key(stack, admin, "leaky never", ["leak-reader"])
    environment = env_path("demo", "dev")
    # An environment that only wants to be told keeps its leaked key; the default revokes it.
    assert http(stack.url(), "PUT", environment, admin, {"on_leak": "report"}).status == 200
    try:
        report_leak(kept["key"], KEPT_URL, "content")
    finally:
        assert http(stack.url(), "PUT", environment, admin, {"on_leak": "revoke"}).status == 200
    report_leak(revoked["key"], REVOKED_URL, "commit")

    open_signed_in(page, stack, admin, "#/keys?name=leaky")
    reported = page.locator(f'tr[data-key-id="{kept["key_id"]}"]')
    expect(reported.locator(".badge")).to_have_text("Leaked")
    expect(reported).to_contain_text("in content at " + KEPT_URL + ": reported only: still works")
    expect(page.locator(f'tr[data-key-id="{revoked["key_id"]}"]')).to_have_count(0)  # a revoked key is not listed
    expect(page.locator("tr", has_text="leaky never").locator(".badge")).to_have_count(0)
    screenshot("keys-leaked")

    reported.get_by_role("link", name="leaky reporter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("leaky reporter Leaked")
    notice = page.get_by_role("region", name=re.compile("This key was found in public"))
    expect(notice).to_contain_text("Reported only (this environment keeps leaked keys): the key still works")
    expect(notice.get_by_role("link", name=KEPT_URL)).to_have_attribute("href", KEPT_URL)
    expect(notice).to_contain_text("content")
    expect(page.locator("#key-facts")).to_contain_text("active")
    expect(page.get_by_role("table", name="Audit trail of this key")).to_contain_text("key.leaked")
    screenshot("key-leaked-reported")

    # Revoked because it leaked: its page (GET answers it for 30 days, then the trail alone) says why.
    page.goto(f"{stack.url()}/#/keys/{revoked['key_id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("leaky revoked Leaked")
    expect(page.locator(".notice.revoked")).to_contain_text("This key is revoked. Revoked automatically on")
    notice = page.get_by_role("region", name=re.compile("This key was found in public"))
    expect(notice).to_contain_text("Revoked at once: the key is refused everywhere.")
    expect(notice.get_by_role("link", name=REVOKED_URL)).to_be_visible()
    expect(page.locator("#key-facts")).to_contain_text("leak-reader")
    trail = page.get_by_role("table", name="Audit trail of this key")
    expect(trail).to_contain_text("key.leaked")
    expect(trail).to_contain_text("key.created")
    screenshot("key-leaked-revoked")

    # An id with no trail at all is still just not found.
    page.goto(f"{stack.url()}/#/keys/AAAAAAAAAAAA")
    expect(page.get_by_role("alert")).to_contain_text("no such key")

    # The audit's default view, management events, shows both leaks, each key linked to its page.
    page.goto(f"{stack.url()}/#/audit")
    leaks = page.get_by_role("table", name="Audit records").locator("tr", has_text="key.leaked")
    expect(leaks.first).to_be_visible()
    leaks.get_by_role("link", name=revoked["key_id"]).click()
    expect(page).to_have_url(re.compile(f"#/keys/{revoked['key_id']}$"))
    expect(page.locator(".notice.revoked")).to_be_visible()
