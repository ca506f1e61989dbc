"""A person signs in to the dashboard with SSO through the development issuer (authorization code with PKCE,
as `make run` serves it), acts with what the environment's trust policies give their group, and the audit
names them. Their token is kept in the page's memory: nothing of it is stored, and a reload signs out."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import expect

from archie_local.demo_trust import trust_local_issuer
from tests.support import env_path, http


def sign_in_with_sso(page: Any, stack: Any, person: str, project: str = "demo", environment: str = "dev") -> None:
    page.goto(stack.url() + "/")
    page.get_by_label("Project").fill(project)
    page.get_by_label("Environment").fill(environment)
    page.get_by_role("button", name="Sign in with SSO").click()
    # The issuer's own page: pick the demo person.
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    page.get_by_role("button", name=person).click()


def stored_in_the_browser(page: Any) -> str:
    return page.evaluate("JSON.stringify([{...sessionStorage}, {...localStorage}, document.cookie])")


def test_a_person_signs_in_with_sso_creates_a_key_and_the_audit_names_them(
    stack, oidc_issuer, page, screenshot
) -> None:
    admin = stack.bootstrap("demo", "dev")
    trust_local_issuer(oidc_issuer.url, "demo", "dev")  # make run's demo roles and policies

    sign_in_with_sso(page, stack, "Alice Example")

    expect(page.get_by_role("heading", name="API Keys", exact=True)).to_be_visible()
    expect(page.locator("#identity")).to_contain_text("signed in as Alice Example (user:alice@example.com)")
    assert "code=" not in page.url  # the code left the address bar
    assert "eyJ" not in stored_in_the_browser(page)  # no token in sessionStorage, localStorage or a cookie
    screenshot("sso-signed-in")

    page.get_by_role("button", name="+ Add new API key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Key Name").fill("made by alice")
    dialog.get_by_label("orders-reader").check()
    dialog.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="Your new API key")
    key = shown.get_by_label("New API key").input_value()
    assert re.fullmatch(r"archie_demo_dev_[A-Za-z0-9]{40}", key)
    shown.get_by_label("I have stored this key").check()
    shown.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()

    # The audit names the person, on the page and through the API.
    key_id = re.search(r"archie_demo_dev_([A-Za-z0-9]{12})", key).group(1)
    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Key ID", exact=True).fill(key_id)
    records = page.get_by_role("table", name="Audit records")
    expect(records).to_contain_text("key.created")
    expect(records).to_contain_text("user:alice@example.com")
    events = http(stack.url(), "GET", env_path("demo", "dev", f"/audit?kind=event&key_id={key_id}"), admin)
    (created,) = [r for r in events.body["records"] if r["event"] == "key.created"]
    assert created["actor_key_id"] == "user:alice@example.com"

    # The token was in memory only: a reload is signed out.
    page.reload()
    expect(page.get_by_role("button", name="Sign in with SSO")).to_be_visible()


def test_a_read_only_person_sees_keys_but_cannot_create_one(stack, oidc_issuer, page) -> None:
    stack.bootstrap("demo", "dev")
    trust_local_issuer(oidc_issuer.url, "demo", "dev")

    sign_in_with_sso(page, stack, "Bob Example")

    expect(page.locator("#identity")).to_contain_text("Bob Example (user:bob@example.com)")
    page.get_by_role("button", name="+ Add new API key").click()
    dialog = page.get_by_role("dialog", name="Create API Key")
    dialog.get_by_label("Key Name").fill("made by bob")
    dialog.get_by_label("auditor").check()
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator("#error-form")).not_to_be_empty()


def test_a_person_no_policy_trusts_is_not_let_in(stack, oidc_issuer, page) -> None:
    stack.bootstrap("demo", "dev")
    trust_local_issuer(oidc_issuer.url, "demo", "dev")

    sign_in_with_sso(page, stack, "Carol Example")

    expect(page.locator("#signin-error")).to_have_text("You are not allowed in this environment.")
    expect(page.locator("#app")).to_be_hidden()


def test_a_providers_error_is_shown_only_for_this_pages_sign_in_and_in_the_pages_own_words(stack, page) -> None:
    """Another site can send the browser to the dashboard with any `error` in the address: without the state
    of a sign-in this page started it is a forgery, and even a real refusal is told in fixed words (the
    provider's, or a forger's, text never reaches the page)."""
    lure = "Your session expired. Call +1 555 0100 to restore access"
    page.goto(stack.url() + "/?" + urlencode({"error": lure, "state": "forged"}))
    expect(page.locator("#signin-error")).to_have_text("This sign-in was not started from this page. Sign in again.")

    pending = {"state": "s" * 43, "verifier": "v" * 64, "nonce": "n" * 32, "project": "demo", "environment": "dev"}
    page.evaluate("p => sessionStorage.setItem('archie.sso.pending', JSON.stringify(p))", pending)
    page.goto(stack.url() + "/?" + urlencode({"error": lure, "state": pending["state"]}))
    expect(page.locator("#signin-error")).to_have_text("The identity provider refused the sign-in. Sign in again.")
    assert lure not in page.content()
