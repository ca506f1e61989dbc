"""Creating a key in the dialog: the value shown once is whole and cannot be dismissed by accident."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.dashboard_actions import put_role, sign_in


def open_create_dialog(page):
    page.get_by_role("link", name="Keys").click()
    page.get_by_role("button", name="+ Add new API key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    expect(dialog).to_be_visible()
    return dialog


def test_the_key_shown_once_is_whole_and_is_not_dismissed_by_accident(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "once-reader", [{"resource": "orders", "actions": ["read"]}])
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, stack, admin)

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
    shown.get_by_label("I have stored this key").check()
    shown.get_by_role("button", name="Done").click()
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
