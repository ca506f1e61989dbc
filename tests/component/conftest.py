"""Fixtures of the decision tests (tests/unit/test_decisions_*.py): one in-process stack per test module, and
for each test a project/environment of its own on it (tests/component/decision_stack.py says why)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.component.decision_stack import Environment, Stack, new_environment, running_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack() as running:
        yield running


@pytest.fixture
def env(stack: Stack) -> Environment:
    return new_environment(stack)
