"""Finding things: keys are searched by name on the server as a person types (once they pause) and paged
with "Load more"; roles are paged too; the audit shows management events unless requests are asked for."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.browser.dashboard_actions import as_if_last_used, create_key, open_signed_in, put_role

ORDERS = [{"resource": "orders", "actions": ["read"]}]


def test_keys_are_searched_by_name_on_the_server_and_paged(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "pager-reader", ORDERS)
    for n in range(27):
        create_key(stack, admin, f"Zebra worker {n:02d}", ["pager-reader"])
    create_key(stack, admin, "horse worker", ["pager-reader"])
    open_signed_in(page, stack, admin)
    searches: list[str] = []
    page.on("request", lambda request: "name=" in request.url and searches.append(request.url))

    page.get_by_label("Search by name").press_sequentially("zEBRA", delay=40)
    table = page.get_by_role("table", name="API keys")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(25)
    expect(table).not_to_contain_text("horse worker")
    expect(table).to_contain_text("Zebra worker 26")  # newest first
    expect(page).to_have_url(re.compile(r"#/keys\?name=zEBRA$"))
    # One request once the typing paused, not one per keystroke.
    assert 1 <= len(searches) < len("zEBRA") and searches[-1].endswith("name=zEBRA"), searches

    more = page.get_by_role("button", name="Load more keys")
    more.click()
    expect(rows).to_have_count(27)
    expect(table).to_contain_text("Zebra worker 00")
    expect(more).to_have_count(0)
    expect(page.locator(".pager")).to_contain_text("27 keys shown.")
    screenshot("keys-search-paged")

    # The search is in the address: a reload shows it again.
    page.reload()
    expect(page.get_by_label("Search by name")).to_have_value("zEBRA")
    expect(rows).to_have_count(25)
    page.get_by_label("Search by name").fill("no key has this name")
    expect(table).to_contain_text("No keys whose name contains “no key has this name”.")
    page.get_by_label("Search by name").fill("")
    expect(table).to_contain_text("horse worker")
    expect(page).to_have_url(re.compile(r"#/keys$"))


def test_the_keys_dates_read_as_time_ago_with_the_exact_time_on_hover(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "pager-reader", ORDERS)
    in_60_days = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60 * 86400))
    key = create_key(stack, admin, "Dated worker", ["pager-reader"], expires_at=in_60_days)
    as_if_last_used(key["key_id"], 5 * 60 + 10)
    open_signed_in(page, stack, admin, "#/keys?name=Dated")
    found = page.locator(f'tr[data-key-id="{key["key_id"]}"]')
    last_used = found.locator('[data-label="Last used"] time')
    expect(last_used).to_have_text("5 min ago")
    # The exact time, in this browser's local format, on hover; the machine-readable one in datetime.
    stamp = last_used.get_attribute("datetime")
    exact = page.evaluate("iso => new Date(iso).toLocaleString()", stamp)
    expect(last_used).to_have_attribute("title", exact)
    expect(found.locator('[data-label="Created"] time')).to_have_text(re.compile(r"^(just now|\d+ s ago)$"))
    expect(found.locator('[data-label="Expires"] time')).to_have_text(re.compile(r"^in \d+ days$"))
    other = create_key(stack, admin, "Dated never used", ["pager-reader"])
    page.reload()
    idle = page.locator(f'tr[data-key-id="{other["key_id"]}"]')
    expect(idle.locator('[data-label="Last used"]')).to_have_text("never")
    expect(idle.locator('[data-label="Expires"]')).to_have_text("never")


def test_roles_are_paged(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    # Named to sort after the roles other tests of this package look for on the first page.
    for n in range(26):
        put_role(stack, admin, f"zz-paged-{n:02d}", ORDERS)
    open_signed_in(page, stack, admin, "#/roles")
    table = page.get_by_role("table", name="Roles", exact=True)
    expect(table.locator("tbody tr")).to_have_count(25)
    expect(table).not_to_contain_text("zz-paged-25")
    more = page.get_by_role("button", name="Load more roles")
    for _ in range(5):  # every test of this package defines roles: as many pages as that takes
        if not more.count():
            break
        shown = table.locator("tbody tr").count()
        more.click()
        expect(table.locator("tbody tr")).not_to_have_count(shown)
    expect(more).to_have_count(0)
    for n in (0, 25):
        expect(table.get_by_role("button", name=f"zz-paged-{n:02d}", exact=True)).to_be_visible()
    expect(page.locator(".pager")).to_contain_text("roles shown.")


def test_the_audit_shows_management_events_unless_requests_are_asked_for(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    open_signed_in(page, stack, admin, "#/audit")
    records = page.get_by_role("table", name="Audit records")
    expect(records).to_contain_text("key.created")
    expect(page.locator("#audit-shown")).to_contain_text("Management events only")
    expect(records).not_to_contain_text("GET /projects/")
    screenshot("audit-events")

    stack.settle_audit()  # the page's own requests (whoami, this listing) into the audit now
    page.get_by_label("Include requests").check()
    expect(page).to_have_url(re.compile(r"#/audit\?include=requests$"))
    expect(records).to_contain_text("GET /projects/demo/environments/dev/whoami")
    page.reload()
    expect(page.get_by_label("Include requests")).to_be_checked()
    expect(records).to_contain_text("GET /projects/")
