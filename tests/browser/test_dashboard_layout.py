"""Nothing spills out of the window: long audit details and long key facts wrap (with a way to see all of a
long detail), and the keys list is readable on a phone with its actions in reach."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.dashboard_actions import NO_HORIZONTAL_SCROLL, PAGE_WIDTH, create_key, open_signed_in, put_role

# Long enough to make the audit's Detail JSON (role.created lists every permission) and the key's own
# page (a 128-character name, a 256-character context value, long role names) far wider than the window.
WIDE_PERMISSIONS = [
    {
        "resource": f"warehouse-inventory-{n}",
        "actions": ["read", "write", "update"],
        "filters": {"tenant_identifier": {"from_context": "tenant"}, "region_code": "eu-central-region-1"},
    }
    for n in range(6)
]


def test_long_audit_details_and_key_facts_stay_inside_a_1280_px_window(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    role = "inventory-clerk-with-an-uncommonly-long-role-name-for-layout"
    put_role(stack, admin, role, WIDE_PERMISSIONS, "reads and writes the inventory of its tenant")
    key = create_key(stack, admin, "layout-" + "x" * 120, [role], {"tenant": "t" * 256})
    open_signed_in(page, stack, admin, "#/audit")
    records = page.get_by_role("table", name="Audit records")
    expect(records).to_contain_text("role.created")
    assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(PAGE_WIDTH)
    # The long detail is cut to one line; opening it shows all of it, wrapped, still inside the window.
    detail = records.locator("tr", has_text="role.created").first.locator("details")
    detail.locator("summary").click()
    expect(detail).to_contain_text("warehouse-inventory-5")
    assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(PAGE_WIDTH)
    screenshot("audit-long-detail")

    page.goto(f"{stack.url()}/#/keys/{key['key_id']}")
    expect(page.get_by_role("table", name="Audit trail of this key")).to_contain_text("key.created")
    expect(page.locator(".details")).to_contain_text("t" * 256)
    assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(PAGE_WIDTH)
    screenshot("key-detail-long-values")


def test_the_keys_list_reads_as_cards_on_a_phone_with_its_actions_in_reach(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "phone-reader", [{"resource": "orders", "actions": ["read"]}], "reads orders")
    created = create_key(stack, admin, "mobile app", ["phone-reader"])
    page.set_viewport_size({"width": 390, "height": 844})
    open_signed_in(page, stack, admin)

    row = page.locator(f'tr[data-key-id="{created["key_id"]}"]')
    expect(row).to_contain_text("mobile app")
    assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(PAGE_WIDTH)
    # Each fact says what it is: the column headings are off screen, every cell carries its own.
    expect(row.get_by_role("cell", name="Roles phone-reader")).to_be_visible()
    expect(row.get_by_role("cell", name="Status active")).to_be_visible()
    for action in ("Roll mobile app", "Delete mobile app"):
        button = row.get_by_role("button", name=action)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    screenshot("keys-phone")
    row.get_by_role("button", name="Delete mobile app").click()
    expect(page.get_by_role("dialog", name="Delete API key?")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()

    # The other pages fit the phone too.
    for address, ready in [
        (f"#/keys/{created['key_id']}", page.get_by_role("table", name="Audit trail of this key")),
        ("#/audit", page.get_by_role("table", name="Audit records")),
        ("#/roles", page.get_by_role("table", name="Roles", exact=True)),
        ("#/webhooks", page.get_by_role("table", name="Webhooks", exact=True)),
    ]:
        page.goto(f"{stack.url()}/{address}")
        expect(ready).to_be_visible()
        assert page.evaluate(NO_HORIZONTAL_SCROLL), (address, page.evaluate(PAGE_WIDTH))
