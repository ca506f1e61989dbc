"""A key's usage chart: hour labels in the browser's local time, a tooltip per bar (from the pointer or the
keyboard) with the hour and its allowed and refused requests, the range's totals, and a choice of range."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.dashboard_actions import create_key, open_signed_in, put_role

# Half an hour off UTC: labels and tooltips must be local times, not UTC hours with the zone's name.
KOLKATA = ZoneInfo("Asia/Kolkata")
# The middle of the current hour, for the counters and for the browser's clock alike, so the test means the
# same hours even when the real clock turns an hour while it runs.
NOW = (time.time() // 3600) * 3600 + 1800


def add_usage(key_id: str, hours_ago: int, allowed: int, refused: int = 0) -> None:
    """Hourly counters as the audit ingest adds them (no need to send that many requests)."""
    from archie_keys.domain.audit import hour_of
    from archie_keys.edge.composition import get_services

    hour = hour_of(NOW - hours_ago * 3600)
    get_services().audit_writer.add_usage({("demo", "dev", key_id, hour): {"allowed": allowed, "refused": refused}})


def local_hour(hours_ago: int) -> str:
    """The local start and end of the UTC hour `hours_ago`, as the tooltip writes them (14:30, an en dash,
    15:30)."""
    start = datetime.fromtimestamp((NOW // 3600 - hours_ago) * 3600, KOLKATA)
    return f"{start:%H:%M}\u2013{start + timedelta(hours=1):%H:%M}"


def test_the_usage_chart_has_hour_labels_a_tooltip_per_bar_totals_and_a_range(stack, page, screenshot) -> None:
    admin = stack.bootstrap("demo", "dev")
    put_role(stack, admin, "usage-reader", [{"resource": "orders", "actions": ["read"]}])
    key = create_key(stack, admin, "charted service", ["usage-reader"])
    add_usage(key["key_id"], 0, allowed=5, refused=1)
    add_usage(key["key_id"], 3, allowed=2)
    add_usage(key["key_id"], 72, allowed=40, refused=2)  # three days ago: only in the 7-day range
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
    page.clock.set_fixed_time(NOW)
    open_signed_in(page, stack, admin, f"#/keys/{key['key_id']}")

    chart = page.get_by_role("img", name="Requests per hour over the last 24 hours: 8 in total")
    expect(chart).to_be_visible()
    expect(page.locator("#usage-totals")).to_have_text("Allowed 7 · Refused 1 over the last 24 hours")
    # (Chromium names the zone by its older name.)
    expect(page.get_by_text(re.compile(r"Hours in your local time \(Asia/(Kolkata|Calcutta)\)"))).to_be_visible()
    expect(chart.locator("text.axis")).to_have_count(8)  # every 3 hours
    hours = [label for label in chart.locator("text.axis").all_text_contents() if ":" in label]
    assert hours and all(label.endswith(":30") for label in hours), hours

    # A tooltip per bar, under the pointer: the current hour, then an hour with nothing.
    tooltip = page.get_by_role("tooltip")
    chart.locator("rect.hit").nth(23).hover()
    expect(tooltip).to_contain_text(f"{local_hour(0)}: 5 allowed, 1 refused")
    screenshot("usage-tooltip")
    chart.locator("rect.hit").nth(22).hover()
    expect(tooltip).to_contain_text(f"{local_hour(1)}: 0 allowed, 0 refused")
    page.mouse.move(0, 0)
    expect(tooltip).to_be_hidden()
    # From the keyboard: focus the chart (the current hour), then the arrow keys.
    page.get_by_role("group", name="Requests per hour over the last 24 hours: 8 in total. Use the left").focus()
    expect(tooltip).to_contain_text(f"{local_hour(0)}: 5 allowed")
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    expect(tooltip).to_contain_text(f"{local_hour(3)}: 2 allowed, 0 refused")
    page.keyboard.press("Tab")
    expect(tooltip).to_be_hidden()

    # The week: one label per local midnight, totals of the whole range.
    page.get_by_label("Last 7 days").check()
    week = page.get_by_role("img", name="Requests per hour over the last 7 days: 50 in total")
    expect(week).to_be_visible()
    expect(page.locator("#usage-totals")).to_have_text("Allowed 47 · Refused 3 over the last 7 days")
    expect(week.locator("text.axis")).to_have_count(7)
    week.locator("rect.hit").nth(167 - 72).hover()
    expect(tooltip).to_contain_text(f"{local_hour(72)}: 40 allowed, 2 refused")
    screenshot("usage-week")
