"""Saving a role that keys already hold: when the edit grants anything new, the page says what and to how
many keys, and saves only when the person confirms; narrowing edits and roles no key holds save at once."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.dashboard_actions import create_key, get_role, open_signed_in, put_role

TENANT_ORDERS = [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}]


def test_widening_a_role_that_keys_hold_asks_first_and_says_how_many_keys(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "widened-reader", TENANT_ORDERS, "reads its tenant's orders")
    for name in ("widened one", "widened two"):
        create_key(stack, admin, name, ["widened-reader"], {"tenant": "t-1"})
    open_signed_in(page, stack, admin, "#/roles/widened-reader")
    expect(page.get_by_text("Held by 2 keys")).to_be_visible()

    # A new action: asked, with the count; Cancel saves nothing.
    page.get_by_label("Write on resource 1").check()
    page.get_by_role("button", name="Save role").click()
    confirm = page.get_by_role("dialog", name="Widen role “widened-reader”?")
    expect(confirm).to_contain_text("2 keys hold this role")
    expect(confirm).to_contain_text("write on orders")
    screenshot("role-widening-confirmation")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert get_role(stack, admin, "widened-reader")["permissions"] == TENANT_ORDERS

    # A removed filter is a widening too; confirming saves.
    page.get_by_role("button", name="Remove filter").click()
    page.get_by_role("button", name="Save role").click()
    expect(confirm).to_contain_text("read on orders with filter tenant_id removed")
    confirm.get_by_role("button", name="Save and widen 2 keys").click()
    expect(page.get_by_role("table", name="Roles", exact=True)).to_be_visible()
    saved = get_role(stack, admin, "widened-reader")["permissions"]
    assert saved == [{"resource": "orders", "actions": ["read", "write"], "filters": {}}]


def test_narrowing_a_held_role_or_widening_an_unheld_one_saves_without_asking(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    both = [{"resource": "orders", "actions": ["read", "write"]}, {"resource": "audit", "actions": ["read"]}]
    put_role(stack, admin, "narrowed-reader", both)
    create_key(stack, admin, "narrowed one", ["narrowed-reader"])
    put_role(stack, admin, "unheld-reader", TENANT_ORDERS)
    open_signed_in(page, stack, admin, "#/roles/narrowed-reader")
    page.get_by_label("Write on resource 1").uncheck()
    page.get_by_role("button", name="Add filter").first.click()
    page.get_by_label("Filter field", exact=True).fill("region")
    page.get_by_label("Value", exact=True).fill("eu")
    page.get_by_role("button", name="Save role").click()
    expect(page.get_by_role("table", name="Roles", exact=True)).to_be_visible()
    assert get_role(stack, admin, "narrowed-reader")["permissions"][0] == {
        "resource": "orders",
        "actions": ["read"],
        "filters": {"region": "eu"},
    }

    page.goto(f"{stack.url()}/#/roles/unheld-reader")
    expect(page.get_by_text("Held by no key")).to_be_visible()
    page.get_by_role("button", name="Remove filter").click()
    page.get_by_role("button", name="Save role").click()
    expect(page.get_by_role("table", name="Roles", exact=True)).to_be_visible()
    assert get_role(stack, admin, "unheld-reader")["permissions"][0]["filters"] == {}


def orders(actions, filters=None, resource="orders"):
    return {"resource": resource, "actions": actions, "filters": filters or {}}


WIDENING_CASES = [
    # (before, after, what the warning lists)
    ([orders(["read"])], [orders(["read"])], []),
    ([orders(["read"])], [orders(["read"], {"region": "eu"})], []),  # a filter added: fewer rows
    ([orders(["read"], {"n": 1})], [orders(["read"], {"n": "1"})], ["read on orders with filter n changed"]),
    (
        [orders(["read"], {"t": {"from_context": "tenant"}})],
        [orders(["read"], {"t": {"from_context": "org"}})],
        ["read on orders with filter t changed"],
    ),
    ([orders(["read"], resource="*")], [orders(["read"])], []),  # "*" already covered orders
    ([orders(["read"])], [orders(["read"], resource="*")], ["read on *"]),
    ([orders(["read"])], [orders(["read"]), orders(["delete"], resource="audit")], ["delete on audit"]),
]


def test_what_counts_as_widening_matches_the_servers_escalation_rule(stack, page) -> None:
    page.goto(stack.url() + "/")
    found = page.evaluate(
        """async (cases) => {
            const { widenings } = await import("/js/permissions.js");
            return cases.map(([before, after]) => widenings(before, after));
        }""",
        [[before, after] for before, after, _ in WIDENING_CASES],
    )
    assert found == [expected for _, _, expected in WIDENING_CASES]
