"""A key's page says where the key may be used from and how much it may do (issue 21, point 4): its allow-list,
its rate limit and quota, and this period's quota used and left as the API counts it from requests that went
through a protected API."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.dashboard_actions import create_key, open_signed_in, put_role
from tests.support import http

ORDERS = [{"resource": "orders", "actions": ["read"]}]


def test_a_keys_page_shows_its_allow_list_its_limits_and_the_quota_used_and_left(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "metered-reader", ORDERS)
    metered = create_key(
        stack,
        admin,
        "partner feed",
        ["metered-reader"],
        allowed_cidrs=["127.0.0.0/8", "2001:db8::/32"],
        limits={"rate_per_second": 5, "burst": 10, "quota": {"limit": 3, "period": "day"}},
    )
    # Two of its three requests a day, through the protected sample API (from 127.0.0.1: inside its list).
    for _ in range(2):
        assert http(stack.url("SampleApi"), "GET", "/orders/1", metered["key"]).status == 200

    open_signed_in(page, stack, admin, f"#/keys/{metered['key_id']}")
    limits = page.get_by_role("region", name="Network and limits")
    expect(limits.locator("#allowed-cidrs li")).to_have_text(["127.0.0.0/8", "2001:db8::/32"])
    expect(limits).to_contain_text("5 requests a second, bursts of 10")
    expect(limits).to_contain_text("3 requests a day")
    quota = limits.locator("#quota")
    expect(quota).to_contain_text("2 used, 1 left of 3 a day; resets in")
    expect(quota.get_by_role("meter", name="Quota used")).to_have_attribute("value", "2")
    # The reset reads as a time from now, with the exact time on hover.
    reset = quota.locator("time")
    assert reset.get_attribute("datetime").endswith("T00:00:00.000Z")
    expect(reset).to_have_attribute("title", re.compile(r"\d{1,2}:\d{2}"))
    screenshot("key-limits")

    # The third request uses the quota up; the fourth is refused, and the page says none is left.
    assert http(stack.url("SampleApi"), "GET", "/orders/1", metered["key"]).status == 200
    assert http(stack.url("SampleApi"), "GET", "/orders/1", metered["key"]).status == 429
    page.reload()
    expect(page.locator("#quota")).to_contain_text("3 used, 0 left of 3 a day")


def test_a_key_without_limits_says_it_may_be_used_from_anywhere_without_limit(stack, page) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "metered-reader", ORDERS)
    plain = create_key(stack, admin, "internal job", ["metered-reader"])
    open_signed_in(page, stack, admin, f"#/keys/{plain['key_id']}")
    limits = page.get_by_role("region", name="Network and limits")
    expect(limits).to_contain_text("Anywhere (no allow-list)")
    expect(limits).to_contain_text("No rate limit")
    expect(limits).to_contain_text("No quota")
    expect(limits.locator("#quota")).to_have_count(0)
