"""Creating a key in the dialog: roles explain themselves and what context they need, a key can be given an
expiry and a Secrets Manager secret (errors land next to those fields), and the value shown once is whole
and cannot be dismissed by accident."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.dashboard_actions import open_signed_in, put_role
from tests.support import env_path, http

NEW_YORK = ZoneInfo("America/New_York")


def open_create_dialog(page):
    page.get_by_role("link", name="Keys", exact=True).click()
    page.get_by_role("button", name="+ Add new API key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    expect(dialog).to_be_visible()
    return dialog


def local_input(moment: datetime, seconds: bool = False) -> str:
    """What a datetime-local input holds for `moment` in New York."""
    return moment.astimezone(NEW_YORK).strftime("%Y-%m-%dT%H:%M:%S" if seconds else "%Y-%m-%dT%H:%M")


def test_a_key_gets_an_expiry_and_a_secret_and_their_errors_show_next_to_them(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "expiring-reader", [{"resource": "orders", "actions": ["read"]}], "reads orders")
    # The person is in New York: the time they type is New York time; the API gets it with its zone.
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    open_signed_in(page, stack, admin)
    dialog = open_create_dialog(page)
    expect(dialog.locator("#hint-expires")).to_contain_text("America/New_York")
    expect(dialog.locator("#hint-secret")).to_contain_text("archie/keys/demo/dev/")
    dialog.get_by_label("Key Name").fill("expiring ci")
    dialog.get_by_label("expiring-reader").check()

    # What the page can tell by itself: a time already past, a secret outside this environment's folder.
    dialog.get_by_label("Expires at").fill("2020-01-01T09:30")
    dialog.get_by_label("Secret name").fill("archie/keys/other/prod/ci")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator("#error-expires_at")).to_contain_text("in the future")
    expect(dialog.get_by_label("Expires at")).to_have_attribute("aria-invalid", "true")
    expect(dialog.locator("#error-secret_name")).to_contain_text("archie/keys/demo/dev/")
    expect(dialog.get_by_label("Secret name")).to_have_attribute("aria-invalid", "true")
    screenshot("create-dialog-expiry-and-secret")

    # What only the server knows (its minimum key lifetime) comes back from the API, next to the field.
    soon = datetime.now(UTC) + timedelta(seconds=20)
    dialog.get_by_label("Expires at").fill(local_input(soon, seconds=True))
    dialog.get_by_label("Secret name").fill("archie/keys/demo/dev/expiring-ci")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator("#error-expires_at")).to_contain_text("at least 60 seconds")
    expect(dialog.locator("#error-secret_name")).to_be_empty()

    # A secret_name error from the API lands next to Secret name (answered here by the test, as a
    # deployment with another SECRET_NAME_PREFIX would answer).
    refusal = '{"code": "secret_name_outside_prefix", "message": "secret_name must start with \'keys/\'", "field": "secret_name"}'
    page.route(
        re.compile(r".*/keys$"),
        lambda route: (
            route.fulfill(status=422, content_type="application/json", body=refusal)
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    in_two_days = (
        (datetime.now(UTC) + timedelta(days=2)).astimezone(NEW_YORK).replace(hour=9, minute=30, second=0, microsecond=0)
    )
    dialog.get_by_label("Expires at").fill(local_input(in_two_days))
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator("#error-secret_name")).to_contain_text("must start with 'keys/'")
    expect(dialog.locator("#error-expires_at")).to_be_empty()
    page.unroute(re.compile(r".*/keys$"))

    dialog.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="Your new API key")
    expect(shown).to_contain_text("Also stored in the Secrets Manager secret archie/keys/demo/dev/expiring-ci")
    key_id = re.search(r"_([A-Za-z0-9]{12})[A-Za-z0-9]{28}$", shown.get_by_label("New API key").input_value()).group(1)
    shown.get_by_role("button", name="Copy").click()
    shown.get_by_role("button", name="Done").click()
    record = http(stack.url(), "GET", env_path("demo", "dev", f"/keys/{key_id}"), admin).body
    assert datetime.fromisoformat(record["expires_at"]) == in_two_days  # 09:30 in New York, whatever the zone
    # The list reads "in 2 days"; the exact time, in the person's zone, is on hover.
    expires = page.locator(f'tr[data-key-id="{key_id}"] [data-label="Expires"] time')
    expect(expires).to_have_text(re.compile(r"^in (1 day|2 days)$"))
    expect(expires).to_have_attribute("title", re.compile(r"9:30"))


def test_roles_show_what_they_are_for_and_ticking_one_adds_the_context_it_reads(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    tenant_rows = {"tenant_id": {"from_context": "tenant"}, "region": {"from_context": "region"}}
    permissions = [{"resource": "orders", "actions": ["read"], "filters": tenant_rows}]
    put_role(stack, admin, "tenant-reader", permissions, "reads the orders of its tenant")
    put_role(stack, admin, "plain-reader", [{"resource": "orders", "actions": ["read"]}], "reads every order")
    open_signed_in(page, stack, admin)
    dialog = open_create_dialog(page)
    tenant_reader = dialog.get_by_label("tenant-reader")
    expect(tenant_reader).to_have_accessible_description(
        "reads the orders of its tenant · Needs context: region, tenant"
    )
    expect(dialog.get_by_label("plain-reader")).to_have_accessible_description("reads every order")

    tenant_reader.check()
    expect(dialog.get_by_label("Context key 1")).to_have_value("region")
    expect(dialog.get_by_label("Context key 2")).to_have_value("tenant")
    expect(dialog.get_by_label("Context value 2")).to_have_value("")
    expect(dialog.locator("#context-added")).to_contain_text("region, tenant")
    # Unticking takes back the rows it added while they are untouched; ticking again brings them back.
    tenant_reader.uncheck()
    expect(dialog.locator(".ctxrow")).to_have_count(0)
    tenant_reader.check()
    expect(dialog.locator(".ctxrow")).to_have_count(2)

    dialog.get_by_label("Key Name").fill("tenant service")
    dialog.locator(".ctxrow", has=page.locator('input[value="tenant"]')).locator(".ctx-value").fill("t-7")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator("#error-context")).to_contain_text("“region” needs a value")
    screenshot("create-dialog-role-needs")
    dialog.locator(".ctxrow", has=page.locator('input[value="region"]')).locator(".ctx-value").fill("eu")
    dialog.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="Your new API key")
    expect(shown).to_be_visible()
    shown.get_by_role("button", name="Copy").click()
    shown.get_by_role("button", name="Done").click()
    expect(page.locator("tr", has_text="tenant service")).to_contain_text("tenant-reader")


def test_the_key_shown_once_is_whole_and_is_not_dismissed_by_accident(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "once-reader", [{"resource": "orders", "actions": ["read"]}])
    page.set_viewport_size({"width": 390, "height": 844})
    open_signed_in(page, stack, admin)

    dialog = open_create_dialog(page)
    dialog.get_by_label("Key Name").fill("shown once")
    dialog.get_by_label("Key Prefix").fill("a_very_long_pre_")
    dialog.get_by_label("once-reader").check()
    dialog.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="Your new API key")
    value = shown.get_by_label("New API key")
    key = value.input_value()
    assert key.startswith("a_very_long_pre_demo_dev_")
    # All of it on screen: at 390 px an 80-character key only fits its box wrapped, with nothing scrolled
    # away; and selectable, all at once.
    assert value.evaluate("el => el.scrollHeight <= el.clientHeight && el.scrollWidth <= el.clientWidth")
    assert value.evaluate("el => el.getBoundingClientRect().right <= window.innerWidth")
    value.focus()
    assert value.evaluate("el => el.selectionStart === 0 && el.selectionEnd === el.value.length")

    # Neither Done nor Escape throws the key away before it was copied or confirmed as stored.
    shown.get_by_role("button", name="Done").click()
    expect(shown).to_be_visible()
    expect(shown.locator("#secret-error")).to_contain_text("cannot be shown again")
    expect(shown.get_by_label("I have stored this key")).to_be_focused()
    for _ in range(3):  # chromium stops honouring a refused close request after a couple of presses
        page.keyboard.press("Escape")
    expect(shown).to_be_visible()
    assert value.input_value() == key
    screenshot("key-shown-once-unconfirmed")
    # From the keyboard: the refusal put focus on the box; Space ticks it, Tab and Enter press Done.
    page.keyboard.press("Space")
    expect(shown.get_by_label("I have stored this key")).to_be_checked()
    page.keyboard.press("Tab")
    expect(shown.get_by_role("button", name="Done")).to_be_focused()
    page.keyboard.press("Enter")
    expect(shown).to_be_hidden()
    assert key not in page.content()

    # Once copied, Escape closes it.
    dialog = open_create_dialog(page)
    dialog.get_by_label("Key Name").fill("copied then escaped")
    dialog.get_by_label("once-reader").check()
    dialog.get_by_role("button", name="Create").click()
    shown.get_by_role("button", name="Copy").click()
    expect(shown.locator("#secret-copied")).to_contain_text("Copied")
    page.keyboard.press("Escape")
    expect(shown).to_be_hidden()


def test_roles_on_later_pages_of_the_list_are_offered_too(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    open_signed_in(page, stack, admin)

    # The API pages roles 100 at a time; here it answers two pages of one role each.
    def two_pages(route) -> None:
        later = "next_token=" in route.request.url
        role = {"name": "second-page" if later else "first-page", "description": "", "permissions": [], "key_count": 0}
        route.fulfill(json={"roles": [role], "next_token": None if later else "page-2"})

    page.route(re.compile(r".*/roles\?limit=100.*"), two_pages)
    dialog = open_create_dialog(page)
    expect(dialog.get_by_label("first-page")).to_be_visible()
    expect(dialog.get_by_label("second-page")).to_be_visible()


def test_a_secret_holding_another_live_key_is_replaced_only_after_a_confirmation(stack, page, screenshot) -> None:
    import boto3

    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "secret-reader", [{"resource": "orders", "actions": ["read"]}])
    secret = "archie/keys/demo/dev/shared-by-dialog"
    body = {"name": "first holder", "roles": ["secret-reader"], "secret_name": secret}
    first = http(stack.url(), "POST", env_path("demo", "dev", "/keys"), admin, body).body

    def current() -> str:
        client = boto3.client("secretsmanager")
        return str(client.get_secret_value(SecretId=secret, VersionStage="AWSCURRENT")["SecretString"])

    open_signed_in(page, stack, admin)
    dialog = open_create_dialog(page)
    dialog.get_by_label("Key Name").fill("second holder")
    dialog.get_by_label("secret-reader").check()
    dialog.get_by_label("Secret name").fill(secret)
    dialog.get_by_role("button", name="Create").click()
    # The 409 secret_in_use says which key the secret holds, next to the field, and writes nothing.
    error = dialog.locator("#error-secret_name")
    expect(error).to_contain_text(f"holds key {first['key_id']}, which still works")
    expect(dialog.get_by_label("Secret name")).to_have_attribute("aria-invalid", "true")
    screenshot("create-dialog-secret-in-use")
    offer = error.get_by_role("button", name="Replace it with the new key")
    offer.click()
    confirm = page.get_by_role("dialog", name="Replace the key in this secret?")
    expect(confirm).to_contain_text(f"Key {first['key_id']} keeps working")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert current() == first["key"]

    # Confirmed: the create is sent again with replace_secret, and the new key is the secret's.
    offer.click()
    confirm.get_by_role("button", name="Replace", exact=True).click()
    shown = page.get_by_role("dialog", name="Your new API key")
    expect(shown).to_contain_text(f"Also stored in the Secrets Manager secret {secret}")
    assert current() == shown.get_by_label("New API key").input_value()
    shown.get_by_role("button", name="Copy").click()
    shown.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()
