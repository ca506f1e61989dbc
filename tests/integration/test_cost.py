"""`make cost`'s figures hold, with the bytes the local stack really writes: at most $1.25 per million authorized
requests (0% cache hits, the full audit) and at most $1.25 per million refused ones (forged, revoked, malformed,
keyless: stored in blocks, not an item each); and the model follows the template it reads."""

from __future__ import annotations

import dataclasses

from archie_tools.bench.cost_accepted import estimate
from archie_tools.bench.cost_fixed import monthly_fixed
from archie_tools.bench.cost_measure import measure
from archie_tools.bench.cost_model import DYNAMODB_PER_WRITE_UNIT, REFERENCE_RPS
from archie_tools.bench.cost_refused import estimate_refused
from archie_tools.bench.cost_template import inventory, template_facts


def test_a_million_requests_cost_at_most_a_dollar_twenty_five_accepted_or_refused() -> None:
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

    refused = estimate_refused(REFERENCE_RPS, facts, measured)
    assert refused.total <= 1.25, refused.total
    # Even where forged keys cost a GetItem and argon2 (an environment still accepting untagged keys).
    legacy = estimate_refused(REFERENCE_RPS, facts, measured, legacy_keys_accepted=True).total
    assert refused.total < legacy <= 1.25, legacy
    # Refused requests share compressed blocks (an item each would be a write unit each, and one per index).
    blocks = next(line for line in refused.lines if line.name == "audit: environment blocks")
    assert blocks.usd < 0.2 * DYNAMODB_PER_WRITE_UNIT * 1e6, blocks
    # A refusal writes its metric line and nothing else (a log line each would double the authorizer's share).
    assert all(size < 300 for size in measured.refusal_metric_line_bytes.values()), measured.refusal_metric_line_bytes

    # The fixed costs are the measured runs and the template's own inventory, every line priced.
    fixed = {line.name: line.usd for line in monthly_fixed(facts, inventory(), measured)}
    assert fixed["alarms"] > 0 and fixed["synthetic canary"] > 0 and fixed["audit compactor schedule"] > 0
    assert measured.canary_write_units > 0 and measured.ingest_stdout_bytes > 0
