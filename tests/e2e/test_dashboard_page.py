"""The page itself: it names its icon (so the browser does not ask the gateway for a /favicon.ico it
refuses) and no request it makes fails."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.dashboard_actions import sign_in
from tests.support import http


def test_the_page_has_its_own_icon_and_no_request_fails(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: response.status >= 400 and failed.append(f"{response.status} {response.url}"))
    sign_in(page, stack, admin)
    for name in ("Audit", "Roles", "Keys"):
        page.get_by_role("link", name=name).click()
        expect(page.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")
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
