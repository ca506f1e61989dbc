"""Keys as their owners run them, in the dashboard (issue 20, points 1 and 2): a key's name, roles, context and
expiry edited from its page, with the API's refusals shown as it words them; a Disable/Enable switch that a
protected API obeys; and the keys list by status, where a leaked key revoked long ago is still found by name."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.sync_api import expect

from tests.browser.dashboard_actions import NO_HORIZONTAL_SCROLL, PAGE_WIDTH, create_key, open_signed_in, put_role
from tests.browser.test_dashboard_leaks import report_leak
from tests.support import env_path, http

ORDERS = [{"resource": "orders", "actions": ["read"]}]
TENANT_ORDERS = [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}]


def key_record(stack, admin: str, key_id: str) -> dict:
    reply = http(stack.url(), "GET", env_path("demo", "dev", f"/keys/{key_id}"), admin)
    assert reply.status == 200, reply.body
    return reply.body


def test_a_keys_name_roles_context_and_expiry_are_edited_from_its_page(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "owner-reader", ORDERS)
    put_role(stack, admin, "owner-by-tenant", TENANT_ORDERS)
    key = create_key(stack, admin, "billing ci", ["owner-reader"])
    open_signed_in(page, stack, admin, f"#/keys/{key['key_id']}")

    page.get_by_role("button", name="Edit", exact=True).click()
    form = page.locator("#edit-form")
    form.get_by_label("Name", exact=True).fill("billing ci (tenant t-9)")
    form.get_by_label("owner-by-tenant").check()
    form.get_by_role("button", name="Save changes").click()
    # The role reads a context value the key lacks: the server refuses, and the page says it as the API does.
    error = form.locator("#edit-error")
    expect(error).to_contain_text(re.compile(r"^missing_context: .+\(field: context[.\w]*\)$"))
    expect(form.locator("#edit-error-context")).not_to_be_empty()
    assert key_record(stack, admin, key["key_id"])["name"] == "billing ci"  # nothing changed
    screenshot("key-edit-refused")

    form.get_by_role("button", name="Add context").click()
    form.get_by_label("Context key 1").fill("tenant")
    form.get_by_label("Context value 1").fill("t-9")
    form.get_by_label("Never expires").uncheck()
    expires = (datetime.now() + timedelta(days=30)).replace(second=0, microsecond=0)
    form.get_by_label("Expires at").fill(expires.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("heading", name="billing ci (tenant t-9)")).to_be_visible()
    facts = page.locator("#key-facts")
    expect(facts.locator('dd[data-fact="Roles"]')).to_have_text(
        re.compile(r"^(owner-reader, owner-by-tenant|owner-by-tenant, owner-reader)$")
    )
    expect(facts).to_contain_text("tenant=t-9")
    expect(facts.locator('dd[data-fact="Expires"]')).to_have_text(re.compile(r"^in (29|30) days$"))
    record = key_record(stack, admin, key["key_id"])
    assert record["name"] == "billing ci (tenant t-9)"
    assert sorted(record["roles"]) == ["owner-by-tenant", "owner-reader"]
    assert record["context"] == {"tenant": "t-9"}
    local_expiry = page.evaluate("text => new Date(text).toISOString()", expires.strftime("%Y-%m-%dT%H:%M"))
    assert datetime.fromisoformat(record["expires_at"]) == datetime.fromisoformat(local_expiry)
    screenshot("key-edited")

    # And back to no expiry: null, not an omitted field; the editor fits a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Edit", exact=True).click()
    expect(page.locator("#edit-form").get_by_label("Context value 1")).to_have_value("t-9")
    assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(PAGE_WIDTH)
    page.locator("#edit-form").get_by_label("Never expires").check()
    page.locator("#edit-form").get_by_role("button", name="Save changes").click()
    expect(page.locator("#edit-form")).to_have_count(0)
    assert key_record(stack, admin, key["key_id"])["expires_at"] is None


def test_a_disabled_key_is_refused_by_a_protected_api_until_enabled_again(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "owner-reader", ORDERS)
    key = create_key(stack, admin, "nightly export", ["owner-reader"])
    sample = stack.url("SampleApi")
    assert http(sample, "GET", "/orders/1", key["key"]).status == 200
    open_signed_in(page, stack, admin, f"#/keys/{key['key_id']}")

    switch = page.get_by_role("switch", name="Enabled")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(page.get_by_role("switch", name="Enabled")).to_have_attribute("aria-checked", "false")
    expect(page.locator("#enabled-hint")).to_contain_text("refused with the reason “disabled”")
    expect(page.locator("#key-facts")).to_contain_text("disabled")
    assert http(sample, "GET", "/orders/1", key["key"]).status == 403
    screenshot("key-disabled")

    page.get_by_role("switch", name="Enabled").click()
    expect(page.get_by_role("switch", name="Enabled")).to_have_attribute("aria-checked", "true")
    assert http(sample, "GET", "/orders/1", key["key"]).status == 200

    # Rolled meanwhile (from elsewhere): the switch of the page still open is refused, in the API's words.
    rolled = http(
        stack.url(), "POST", env_path("demo", "dev", f"/keys/{key['key_id']}/roll"), admin, {"grace_seconds": 3600}
    )
    assert rolled.status == 201, rolled.body
    page.get_by_role("switch", name="Enabled").click()
    expect(page.locator("#enabled-error")).to_contain_text(re.compile(r"^key_not_active: "))
    assert http(sample, "GET", "/orders/1", key["key"]).status == 200  # still accepted for its grace
    # Drawn again, the page says why the switch is off.
    page.reload()
    expect(page.get_by_role("switch", name="Enabled")).to_be_disabled()
    expect(page.locator("#enabled-hint")).to_have_text("A rolled key cannot be changed: change its successor.")
    expect(page.get_by_role("button", name="Edit", exact=True)).to_be_disabled()


def test_keys_are_listed_by_status_and_a_leaked_revoked_key_is_found_by_name(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "owner-reader", ORDERS)
    keys = {
        name: create_key(stack, admin, f"status {name}", ["owner-reader"]) for name in ("live", "off", "old", "gone")
    }
    ids = {name: created["key_id"] for name, created in keys.items()}
    base = stack.url()
    assert http(base, "PATCH", env_path("demo", "dev", f"/keys/{ids['off']}"), admin, {"enabled": False}).status == 200
    rolled = http(base, "POST", env_path("demo", "dev", f"/keys/{ids['old']}/roll"), admin, {"grace_seconds": 3600})
    assert rolled.status == 201
    ids["successor"] = rolled.body["key_id"]
    assert http(base, "DELETE", env_path("demo", "dev", f"/keys/{ids['gone']}"), admin).status == 204
    leaked = create_key(stack, admin, "status leaked partner", ["owner-reader"])
    report_leak(leaked["key"], "https://github.com/octo-org/billing/commit/1a2b3c4", "commit")

    open_signed_in(page, stack, admin, "#/keys?name=status")
    table = page.get_by_role("table", name="API keys")
    shown = lambda: table.locator("tbody tr[data-key-id]")  # noqa: E731 - read afresh after each choice

    def listed_ids() -> set[str]:
        return {row.get_attribute("data-key-id") for row in shown().all()}

    # By default every status but revoked.
    expect(shown()).to_have_count(4)
    assert listed_ids() == {ids["live"], ids["off"], ids["old"], ids["successor"]}
    for choice, expected in (
        ("Active", {ids["live"], ids["successor"]}),
        ("Disabled", {ids["off"]}),
        ("Rolled", {ids["old"]}),
        ("Revoked", {ids["gone"], leaked["key_id"]}),
    ):
        page.get_by_label(choice, exact=True).check()
        # The rows of this choice, not those of the last one still on screen: each expected row, and no more.
        for key_id in expected:
            expect(table.locator(f'tr[data-key-id="{key_id}"]')).to_have_count(1)
        expect(shown()).to_have_count(len(expected))
        assert listed_ids() == expected, choice
    expect(page).to_have_url(re.compile(r"#/keys\?status=revoked&name=status$"))
    expect(table.locator(f'tr[data-key-id="{ids["gone"]}"]')).to_contain_text("revoked (deleted)")
    screenshot("keys-by-status")

    # A leaked key, revoked by the leak report, found by its name among the revoked keys; its page says why.
    page.get_by_label("Search by name").fill("leaked partner")
    expect(shown()).to_have_count(1)
    found = table.locator(f'tr[data-key-id="{leaked["key_id"]}"]')
    expect(found).to_contain_text("revoked (leaked)")
    expect(found.locator(".badge")).to_have_text("Leaked")
    expect(found.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
    page.reload()
    expect(page.get_by_label("Revoked", exact=True)).to_be_checked()
    found.get_by_role("link", name="status leaked partner").click()
    expect(page.locator(".notice.revoked")).to_contain_text("This key is revoked.")
    expect(page.locator("#key-facts")).to_contain_text("revoked (leaked)")
    expect(page.get_by_role("switch", name="Enabled")).to_be_disabled()
    expect(page.locator("#enabled-hint")).to_have_text("A revoked key cannot be changed.")
    expect(page.get_by_role("button", name="Delete", exact=True)).to_be_hidden()
