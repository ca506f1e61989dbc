"""The local stack, started once per module on free loopback ports and stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import FAST_ENVIRONMENT

# Short minimum key lifetime so expiry can be shown in seconds, not minutes; and a mass revocation's last pass
# a second after it began, not a minute (keys here are created in milliseconds, not by a 60 s function).
INTEGRATION_ENVIRONMENT = {**FAST_ENVIRONMENT, "KEY_MIN_LIFETIME_SECONDS": "1", "REVOCATION_SETTLE_SECONDS": "1"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from archie_local.stack import LocalStack

    with LocalStack(port=0, sample_port=0, environment_overrides=INTEGRATION_ENVIRONMENT) as running:
        yield running


@pytest.fixture(scope="module")
def admin(stack: Any) -> str:
    return stack.bootstrap("demo", "dev")
