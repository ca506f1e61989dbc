"""The keys table's DynamoDB stream in this region (an event source mapping): a revocation, role edit, disable
or mass revocation replicated from another region flushes this region's authorizer caches, and a replicated
key's expiry is scheduled here too (app.replicated_changes). Raises when a stage could not be flushed, so the
mapping retries the batch, bisects it, and finally sends it to the on-failure queue."""

from __future__ import annotations

import os
from typing import Any

from archie_keys.app.replicated_changes import flush_replicated
from archie_keys.aws.stream_records import item_change
from archie_keys.edge.composition import get_services, get_settings
from archie_keys.edge.tracing import traced


@traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Lambda sets AWS_REGION in every function's environment: the region whose stages this one flushes.
    changes = [item_change(record) for record in event.get("Records") or []]
    # A key that arrives here may have been refused here before (it was presented before it arrived): the
    # authorizers' negative cache can answer that refusal again after the arrival's flush, so the environment
    # is flushed once more when it has run out, instead of the gateway caching it until ReauthorizeEvery.
    settle = get_settings().authorizer_negative_cache_ttl_seconds
    return flush_replicated(get_services(), changes, os.environ["AWS_REGION"], settle)
