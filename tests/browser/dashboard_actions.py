"""What the dashboard tests do over and over: sign in through the page, and set up roles and keys through the
API (faster than the page, and the page is not what those steps test)."""

from __future__ import annotations

import json
import time
from typing import Any

from playwright.sync_api import expect

from tests.support import env_path, http

NO_HORIZONTAL_SCROLL = "document.scrollingElement.scrollWidth <= window.innerWidth"
PAGE_WIDTH = "[document.scrollingElement.scrollWidth, window.innerWidth]"


def sign_in(page: Any, stack: Any, key: str) -> None:
    page.goto(stack.url() + "/")
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="API Keys", exact=True)).to_be_visible()


def open_signed_in(page: Any, stack: Any, key: str, address: str = "#/keys") -> None:
    """Open `address` already signed in, as a reload of a signed-in tab would (the key in sessionStorage):
    for tests about something else than the sign-in form, which sign_in goes through."""
    page.add_init_script(f"sessionStorage.setItem('archie.apiKey', {json.dumps(key)})")
    page.goto(f"{stack.url()}/{address}")
    expect(page.locator("#app")).to_be_visible()


def put_role(stack: Any, admin: str, name: str, permissions: list[dict[str, Any]], description: str = "") -> dict:
    reply = http(
        stack.url(),
        "PUT",
        env_path("demo", "dev", f"/roles/{name}"),
        admin,
        {"description": description, "permissions": permissions},
    )
    assert reply.status in (200, 201), reply.body
    return reply.body


def create_key(
    stack: Any, admin: str, name: str, roles: list[str], context: dict[str, str] | None = None, **fields: Any
) -> dict:
    """The 201 answer: `key` (the value), `key_id`, `record`. `fields`: more of the body (`allowed_cidrs`,
    `limits`, `expires_at`)."""
    body = {"name": name, "roles": roles, "context": context or {}, **fields}
    reply = http(stack.url(), "POST", env_path("demo", "dev", "/keys"), admin, body)
    assert reply.status == 201, reply.body
    return reply.body


def get_role(stack: Any, admin: str, name: str) -> dict:
    reply = http(stack.url(), "GET", env_path("demo", "dev", f"/roles/{name}"), admin)
    assert reply.status == 200, reply.body
    return reply.body


def as_if_last_used(key_id: str, seconds_ago: float) -> None:
    """Move a key's last accepted request back in time, as if its consumers had stopped `seconds_ago`. The
    store's touch_last_used only ever moves it forward (as the audit ingest needs), so this writes the
    attribute itself, through the test process's own access to the local stack's table."""
    from archie_keys.aws.key_store import partition
    from archie_keys.domain.clock import to_iso
    from archie_keys.edge.composition import get_services

    store = get_services().store
    store.client.update_item(
        TableName=store.table,
        Key={"pk": {"S": partition("demo", "dev")}, "sk": {"S": f"KEY#{key_id}"}},
        UpdateExpression="SET last_used_at = :t",
        ExpressionAttributeValues={":t": {"S": to_iso(time.time() - seconds_ago)}},
    )
