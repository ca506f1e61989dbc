"""Every view has an address: reload, back and forward keep a person where they were, a role editor or an
audit search can be linked, and the two keys of a rotation link to each other."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.dashboard_actions import create_key, open_signed_in, put_role
from tests.support import env_path, http


def test_a_role_editor_has_an_address_that_survives_reload_back_and_forward(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "route-reader", [{"resource": "orders", "actions": ["read"]}], "reads orders")
    open_signed_in(page, stack, admin, "#/roles")
    page.get_by_role("button", name="route-reader").click()
    editor = page.get_by_role("heading", name="Role route-reader")
    expect(editor).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/roles/route-reader$"))
    expect(page).to_have_title(re.compile("Role route-reader"))

    page.reload()
    expect(editor).to_be_visible()
    expect(page.get_by_label("Description", exact=True)).to_have_value("reads orders")
    page.go_back()
    expect(page.get_by_role("table", name="Roles", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Roles", exact=True)).to_have_attribute("aria-current", "page")
    page.go_forward()
    expect(editor).to_be_visible()
    screenshot("role-editor-address")

    # Someone the link was sent to signs in and lands on the editor, not on the keys list.
    other = page.context.new_page()
    other.goto(f"{stack.url()}/#/roles/route-reader")
    other.get_by_label("API key", exact=True).fill(admin)
    other.get_by_role("button", name="Sign in", exact=True).click()
    expect(other.get_by_role("heading", name="Role route-reader")).to_be_visible()
    other.goto(f"{stack.url()}/#/roles/no-such-role")
    expect(other.get_by_role("alert")).to_contain_text("does not exist")
    other.close()

    # A new role has its own address too, and Cancel goes back to the list.
    page.get_by_role("link", name="Roles", exact=True).click()
    page.get_by_role("button", name="+ New role").click()
    expect(page).to_have_url(re.compile(r"#/new-role$"))
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("table", name="Roles", exact=True)).to_be_visible()


def test_an_audit_search_is_kept_in_the_address(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "route-reader", [{"resource": "orders", "actions": ["read"]}])
    first = create_key(stack, admin, "searched first", ["route-reader"])
    second = create_key(stack, admin, "searched second", ["route-reader"])
    open_signed_in(page, stack, admin, "#/audit")
    page.get_by_label("Key ID", exact=True).fill(first["key_id"])
    page.get_by_role("button", name="Search").click()
    records = page.get_by_role("table", name="Audit records")
    expect(records).to_contain_text(first["key_id"])
    expect(records).not_to_contain_text(second["key_id"])
    expect(page).to_have_url(re.compile(f"#/audit\\?key_id={first['key_id']}$"))

    page.reload()
    expect(page.get_by_label("Key ID", exact=True)).to_have_value(first["key_id"])
    expect(records).to_contain_text(first["key_id"])
    expect(records).not_to_contain_text(second["key_id"])
    page.go_back()
    expect(page.get_by_label("Key ID", exact=True)).to_have_value("")
    expect(records).to_contain_text(second["key_id"])


def test_the_two_keys_of_a_rotation_link_to_each_other(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "route-reader", [{"resource": "orders", "actions": ["read"]}])
    old = create_key(stack, admin, "rotated service", ["route-reader"])
    rolled = http(
        stack.url(), "POST", env_path("demo", "dev", f"/keys/{old['key_id']}/roll"), admin, {"grace_seconds": 3600}
    )
    assert rolled.status == 201, rolled.body
    new_id = rolled.body["key_id"]
    open_signed_in(page, stack, admin, f"#/keys/{old['key_id']}")
    page.get_by_role("link", name=new_id).click()
    expect(page).to_have_url(re.compile(f"#/keys/{new_id}$"))
    expect(page.locator(".details")).to_contain_text(new_id)
    screenshot("key-rolled-from-link")
    page.get_by_role("link", name=old["key_id"]).click()
    expect(page).to_have_url(re.compile(f"#/keys/{old['key_id']}$"))
    expect(page.get_by_role("link", name=new_id)).to_be_visible()
