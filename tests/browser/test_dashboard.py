"""The dashboard in a real browser: sign in, create a key and see it once, use it, find it in the audit,
roll it, delete it; roles are edited in a grid; every control has a label and works from the keyboard."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.dashboard_actions import sign_in
from tests.support import env_path, http


def test_a_person_manages_a_key_from_creation_to_deletion(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    base, sample = stack.url(), stack.url("SampleApi")
    http(
        base,
        "PUT",
        env_path("demo", "dev", "/roles/orders-reader"),
        admin,
        {
            "description": "reads orders of its tenant",
            "permissions": [
                {"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}
            ],
        },
    )

    sign_in(page, stack, admin)
    assert page.evaluate("sessionStorage.getItem('archie.apiKey')") == admin
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    expect(page.locator("#identity")).to_contain_text("demo / dev")
    screenshot("keys")

    # The black button at the top right opens the modal.
    add = page.get_by_role("button", name="+ Add new API key")
    assert add.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 0, 0)"
    add.click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Key Prefix")).to_have_value("archie_")
    dialog.get_by_label("Key Prefix").fill("Bad-prefix")
    expect(dialog.locator("#error-prefix")).to_contain_text("end with _")
    dialog.get_by_label("Key Prefix").fill("shop_")
    expect(dialog.locator("#error-prefix")).to_be_empty()
    # At least one role, and an API error lands next to the field it names.
    dialog.get_by_label("Key Name").fill("checkout service")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator("#error-roles")).to_contain_text("at least one role")
    dialog.get_by_label("orders-reader").check()
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator("#error-context")).to_contain_text("tenant")
    dialog.get_by_role("button", name="Add context").click()
    dialog.get_by_label("Context key 1").fill("tenant")
    dialog.get_by_label("Context value 1").fill("t-42")
    screenshot("create-dialog")
    dialog.get_by_role("button", name="Create").click()

    shown = page.get_by_role("dialog", name="Your new API key")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text("secrets manager")
    key = shown.get_by_label("New API key").input_value()
    assert re.fullmatch(r"shop_demo_dev_[A-Za-z0-9]{40}", key)
    shown.get_by_role("button", name="Copy").click()
    expect(shown.locator("#secret-copied")).not_to_be_empty()
    screenshot("key-shown-once")
    shown.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()
    assert key not in page.content() and key not in page.evaluate("JSON.stringify(sessionStorage)")
    row = page.locator("tr", has_text="checkout service")
    expect(row).to_contain_text("orders-reader")

    # The key works on the sample protected API, with its filter filled from the context.
    used = http(sample, "GET", "/orders/1", key)
    assert used.status == 200 and '"t-42"' in used.body["authorizer"]["filters"]
    stack.settle_audit()

    # Its request is on the audit page, filtered by key.
    key_id = re.search(r"shop_demo_dev_([A-Za-z0-9]{12})", key).group(1)
    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Key ID", exact=True).fill(key_id)
    page.get_by_label("Include requests").check()  # the audit shows management events unless asked
    expect(page).to_have_url(re.compile(f"key_id={key_id}&include=requests$"))
    records = page.get_by_role("table", name="Audit records")
    expect(records).to_contain_text("GET /orders/1")
    expect(records).to_contain_text("key.created")
    screenshot("audit")

    # The key's page: usage per hour and its own trail.
    page.get_by_role("link", name="Keys").click()
    page.get_by_role("link", name="checkout service").click()
    expect(page.get_by_role("img", name=re.compile("Requests per hour"))).to_be_visible()
    expect(page.get_by_role("table", name="Audit trail of this key")).to_contain_text("GET /orders/1")
    screenshot("key-detail")

    # Rotate, rolling with no grace: a new key shown once, the old one refused at once.
    page.get_by_role("button", name="Rotate").click()
    page.get_by_label("Grace period for the old key").select_option("0")
    page.get_by_role("button", name="Roll key").click()
    rolled = page.get_by_role("dialog", name="Your new API key")
    new_key = rolled.get_by_label("New API key").input_value()
    assert new_key.startswith("shop_demo_dev_") and new_key != key
    # Not copied: closing asks the person to confirm the key is stored (it cannot be shown again).
    rolled.get_by_label("I have stored this key").check()
    rolled.get_by_role("button", name="Done").click()
    assert http(sample, "GET", "/orders/1", key).status == 403
    assert http(sample, "GET", "/orders/1", new_key).status == 200

    # Delete the successor, with a confirmation.
    page.get_by_role("link", name="Keys").click()
    new_id = re.search(r"shop_demo_dev_([A-Za-z0-9]{12})", new_key).group(1)
    page.locator(f'tr[data-key-id="{new_id}"]').get_by_role("button", name="Delete checkout service").click()
    confirm = page.get_by_role("dialog", name="Delete API key?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Delete key").click()
    expect(page.locator(f'tr[data-key-id="{new_id}"]')).to_have_count(0)
    assert http(sample, "GET", "/orders/1", new_key).status == 403


def test_roles_are_edited_in_a_permission_grid(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    sign_in(page, stack, admin)
    page.get_by_role("link", name="Roles").click()
    page.get_by_role("button", name="+ New role").click()
    page.get_by_label("Role name", exact=True).fill("auditor")
    page.get_by_label("Description", exact=True).fill("reads keys and audit")
    page.get_by_label("Resource 1", exact=True).fill("keys")
    page.get_by_label("Update on resource 1").check()
    page.get_by_role("button", name="Add resource").click()
    page.get_by_label("Resource 2", exact=True).fill("audit")
    page.get_by_label("Read on resource 2").check()
    page.get_by_role("button", name="Add filter").nth(1).click()
    page.get_by_label("Filter field", exact=True).fill("region")
    page.get_by_label("Value", exact=True).fill("eu")
    assert not page.get_by_label("From context").is_checked()
    screenshot("role-editor")
    page.get_by_role("button", name="Save role").click()
    roles = page.get_by_role("table", name="Roles")
    expect(roles).to_contain_text("auditor")
    expect(roles).to_contain_text("keys: read/update")
    expect(roles).to_contain_text("audit: read (filtered)")
    screenshot("roles")
    saved = http(stack.url(), "GET", env_path("demo", "dev", "/roles/auditor"), admin).body
    assert saved["permissions"][1] == {"resource": "audit", "actions": ["read"], "filters": {"region": "eu"}}
    # A server-side validation error is shown, not swallowed.
    page.get_by_role("button", name="auditor").click()
    page.get_by_label("Resource 1", exact=True).fill("Not Valid")
    page.get_by_role("button", name="Save role").click()
    expect(page.locator("tbody.permission").first.locator(".perm-error")).to_contain_text("permissions.0.resource")


def test_every_control_has_a_label_and_the_modal_works_from_the_keyboard(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    sign_in(page, stack, admin)
    page.get_by_role("button", name="+ Add new API key").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create API Key")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Key Name")).to_be_focused()
    page.keyboard.type("keyboard key")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, button, textarea')]
        .filter(el => !el.closest('[hidden]'))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
        .map(el => el.outerHTML)""")
    assert unlabelled == []


def test_a_bad_key_is_refused_at_sign_in(stack, page) -> None:
    page.goto(stack.url() + "/")
    page.get_by_label("API key", exact=True).fill("archie_demo_dev_" + "A" * 40)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    page.get_by_label("API key", exact=True).fill("hello")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#signin-error")).to_contain_text("not an Archie API key")
