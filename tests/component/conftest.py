"""Fixtures of the tests that share a stack (`stack`, `env`: the decisions mutation testing reruns, in
test_authorizer, test_verifier, test_idempotency, test_pepper_rotation, test_key_tags, test_environment_isolation
and test_mass_revocation): one in-process stack per test module, and for each test a project/environment of its
own on it (tests/component/decision_stack.py says why). The root conftest's `aws` provisions a stack per test."""

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
