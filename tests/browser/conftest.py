"""Headless Debian chromium driven by Playwright (never a downloaded browser) against the local stack."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import FAST_ENVIRONMENT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
# Without these, chromium tries Google's services at start and this machine's closed network refuses them.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def oidc_issuer() -> Iterator[Any]:
    """The development issuer the dashboard signs people in with, as `make run` starts it."""
    from archie_local.oidc_issuer import LocalOidcIssuer

    with LocalOidcIssuer().serve() as running:
        yield running


@pytest.fixture(scope="package")
def stack(oidc_issuer: Any) -> Iterator[Any]:
    from archie_local.stack import LocalStack

    with LocalStack(
        port=0, sample_port=0, environment_overrides=FAST_ENVIRONMENT, oidc_issuer=oidc_issuer.url
    ) as running:
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make chromium` installs it (`make browser` does first)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


@pytest.fixture
def screenshot(page: Any):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
