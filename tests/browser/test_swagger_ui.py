"""Swagger UI as a user opens it from the running stack: the document renders, and "Try it out" is aimed at
this stack's own API, the one the served document names too."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect


def test_swagger_ui_renders_the_contract_and_tries_requests_on_this_stack(stack: Any, page: Any) -> None:
    origin = stack.url()
    page.goto(f"{origin}/docs/")
    expect(page.get_by_text("Create a key").first).to_be_visible()
    servers = page.locator(".servers select option")
    expect(servers.first).to_have_attribute("value", origin)
    # The served document names this stack too (not a fixed port): it is listed once.
    assert [servers.nth(n).get_attribute("value") for n in range(servers.count())] == [origin]
