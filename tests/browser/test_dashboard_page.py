"""The page itself: it names its icon (so the browser does not ask the gateway for a /favicon.ico it
refuses) and no request it makes fails; it runs under a strict Content-Security-Policy, and every control
of every view has a label."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.dashboard_actions import create_key, open_signed_in, put_role, sign_in
from tests.support import http

# What a strict deployment would send: only this origin's own files, nothing inline.
STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def test_the_page_has_its_own_icon_and_no_request_fails(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: response.status >= 400 and failed.append(f"{response.status} {response.url}"))
    sign_in(page, stack, admin)
    for name in ("Audit", "Roles", "Keys"):
        page.get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("link", name=name, exact=True)).to_have_attribute("aria-current", "page")
    page.wait_for_load_state("networkidle")
    assert failed == []

    # The icon the page names is there and is an image; without it a browser asks for /favicon.ico, which
    # the gateway refuses (headless chromium does not ask, so that refusal is checked directly).
    href = page.locator('link[rel="icon"]').evaluate("link => link.href")
    icon = page.request.get(href)
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    width = page.evaluate(
        "href => new Promise(done => { const img = new Image(); img.onload = () => done(img.naturalWidth);"
        " img.onerror = () => done(0); img.src = href; })",
        href,
    )
    assert width > 0
    assert http(stack.url(), "GET", "/favicon.ico").status == 403


# Every control a person can reach, and the ones without a name a screen reader could say.
UNLABELLED = """() => [...document.querySelectorAll('input, select, button, textarea')]
    .filter(el => !el.closest('[hidden]'))
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
    .map(el => el.outerHTML)"""


def test_the_dashboard_works_under_a_strict_content_security_policy(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(
        stack,
        admin,
        "csp-reader",
        [{"resource": "orders", "actions": ["read"], "filters": {"t": {"from_context": "t"}}}],
    )
    key = create_key(stack, admin, "csp key", ["csp-reader"], {"t": "1"})
    editable = create_key(stack, admin, "csp key to edit", ["csp-reader"], {"t": "2"})  # the other is rolled
    page.add_init_script(
        "window.violations = []; document.addEventListener('securitypolicyviolation',"
        " e => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`))"
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    def with_csp(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    page.route(f"{stack.url()}/", with_csp)
    open_signed_in(page, stack, admin)
    # Every view and dialog once (every control in each with a label): the list, the create dialog with
    # its role hints, a key's page with its chart and its rotation, the audit with a folded detail opened,
    # the role editor, a key's settings editor, the webhooks page.
    unlabelled = []
    page.get_by_role("button", name="+ Add new API key").click()
    page.get_by_label("csp-reader").check()
    expect(page.get_by_label("Context key 1")).to_have_value("t")
    unlabelled += page.evaluate(UNLABELLED)
    page.keyboard.press("Escape")
    page.goto(f"{stack.url()}/#/keys/{key['key_id']}")
    chart = page.get_by_role("img", name="Requests per hour over the last 24 hours: 0 in total")
    expect(chart).to_be_visible()
    unlabelled += page.evaluate(UNLABELLED)
    # The chart's tooltip (placed through CSSOM), and the rotation flow rolled and watching the old key.
    chart.locator("rect.hit").last.hover()
    expect(page.get_by_role("tooltip")).to_contain_text("0 allowed, 0 refused")
    page.get_by_role("button", name="Rotate", exact=True).click()
    page.get_by_role("button", name="Roll key").click()
    shown = page.get_by_role("dialog", name="Your new API key")
    shown.get_by_label("I have stored this key").check()
    shown.get_by_role("button", name="Done").click()
    expect(page.locator("#traffic-total")).to_contain_text("requests in the last 10 minutes")
    unlabelled += page.evaluate(UNLABELLED)
    page.goto(f"{stack.url()}/#/audit")
    page.get_by_role("table", name="Audit records").locator("details summary").first.click()
    unlabelled += page.evaluate(UNLABELLED)
    page.goto(f"{stack.url()}/#/roles/csp-reader")
    expect(page.get_by_label("Context name", exact=True)).to_have_value("t")
    unlabelled += page.evaluate(UNLABELLED)
    # A key's settings editor open, and the webhooks page with its form.
    page.goto(f"{stack.url()}/#/keys/{editable['key_id']}")
    page.get_by_role("button", name="Edit", exact=True).click()
    expect(page.locator("#edit-form").get_by_label("csp-reader")).to_be_checked()
    unlabelled += page.evaluate(UNLABELLED)
    page.goto(f"{stack.url()}/#/webhooks")
    expect(page.get_by_label("key.created")).to_be_checked()
    unlabelled += page.evaluate(UNLABELLED)
    assert page.evaluate("window.violations") == []
    assert errors == []
    assert unlabelled == []
