"""`make cost`'s figure holds: at most $1.25 per million authorized requests (0% cache hits, the full audit),
with the bytes the local stack really writes; and the model follows the template it reads."""

from __future__ import annotations

import dataclasses

from tests.bench.cost import measure, template_facts
from tests.bench.cost_model import REFERENCE_RPS, estimate


def test_a_million_authorized_requests_cost_at_most_a_dollar_twenty_five() -> None:
    facts, measured = template_facts(), measure()
    total = estimate(REFERENCE_RPS, 0.0, facts, measured).total
    assert total <= 1.25, total
    assert estimate(REFERENCE_RPS, 0.9, facts, measured).total < total  # cache hits spare the authorizer
    # What the redesign removed would show at once: tracing on, Lambda's platform lines, per-decision lines.
    traced = dataclasses.replace(facts, tracing_default_on=True)
    assert estimate(REFERENCE_RPS, 0.0, traced, measured).total > total + 0.2
    chatty = dataclasses.replace(facts, authorizer_platform_lines=True)
    assert estimate(REFERENCE_RPS, 0.0, chatty, measured).total > total + 0.15
    assert measured.authorizer_stdout_bytes_per_allowed == 0  # an accepted key writes no line
