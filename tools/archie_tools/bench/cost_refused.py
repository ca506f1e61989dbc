"""What a million refused requests cost: REFUSED_MIX of forged keys, revoked keys and malformed or missing
ones, arriving at `rps` on their own (a flood: their deliveries and blocks hold nothing else, so nothing
accepted shares their costs). API Gateway bills none of them (cost_model.API_GATEWAY_BILLS_REFUSED).

What each kind costs, by the code's path (app.verification, edge.authorizer):
- forged: API Gateway has never seen the value, so the authorizer runs: one keyed hash, no AWS call (its
  environment's state is read once per warm instance every few minutes), an explicit Deny and one Refused
  metric line. Its record names the key only as claimed, so its block is listed nowhere.
- revoked: the authorizer runs once per key per ReauthorizeEvery (GetItem, argon2, its roles read in parallel:
  the secret is proven, so the record is the key's); API Gateway answers the rest from its cached Deny. The
  key's records go to its own blocks and usage, as an accepted key's do.
- malformed: the authorizer runs (each garbage value is new), raises "Unauthorized" (API Gateway's 401) with a
  Refused metric line, and Lambda's runtime writes its error line.
- keyless: no Authorization header, so API Gateway answers 401 without calling the authorizer.
Every one of them is an access-log line and a record in an environment block.
"""

from __future__ import annotations

import math

from archie_keys.app.verification import LEGACY_DECISION_MAX_AGE_SECONDS
from archie_tools.bench.cost_accepted import (
    WARM_MS,
    access_log,
    audit_storage,
    cold_ms,
    expected_block_units,
    ingest_lines,
    key_read_units,
    usage_write_units,
)
from archie_tools.bench.cost_model import (
    COMPACTOR_SECONDS_PER_RECORD,
    DYNAMODB_PER_READ_UNIT,
    DYNAMODB_PER_WRITE_UNIT,
    ITEM_STORAGE_OVERHEAD_BYTES,
    KEY_ID_BYTES,
    LAMBDA_PER_GB_SECOND,
    LAMBDA_PER_REQUEST,
    LOG_EVENT_OVERHEAD_BYTES,
    LOGS_PER_GB_INGESTED,
    REFUSED_MIX,
    REVOKED_KEYS,
    Estimate,
    Measured,
    TemplateFacts,
    expected_distinct,
    instances,
    per_delivery,
    write_units,
)

CALLED = ("forged", "malformed")  # each value new to API Gateway: the authorizer runs every time


def revoked_invocations(rps: float, facts: TemplateFacts, mix: dict[str, float] = REFUSED_MIX) -> float:
    """Authorizer invocations per refused request for the revoked share: one per key per ReauthorizeEvery."""
    rate = rps * mix["revoked"]
    if rate <= 0:
        return 0.0
    ttl = facts.authorizer_result_ttl_seconds
    shares = [1 / REVOKED_KEYS] * REVOKED_KEYS
    return min(rate, expected_distinct(rate * ttl, shares) / max(ttl, 1e-9)) / rps


def estimate_refused(
    rps: float,
    facts: TemplateFacts,
    measured: Measured,
    mix: dict[str, float] = REFUSED_MIX,
    legacy_keys_accepted: bool = False,
) -> Estimate:
    """`legacy_keys_accepted`: the environment still accepts keys of the first, untagged format (declared
    before tags; new environments refuse them), so a forged key is checked the old way: a GetItem and an
    argon2 verify, as an unknown key was."""
    result = Estimate(rps)
    gb_second = LAMBDA_PER_GB_SECOND[facts.architecture] * facts.authorizer_memory_mb / 1024
    revoked_called = revoked_invocations(rps, facts, mix)
    called = sum(mix[kind] for kind in CALLED) + revoked_called
    result.add(
        "authorizer: Lambda requests",
        called * LAMBDA_PER_REQUEST,
        f"{called:.1%} of refused requests reach it (forged and malformed; revoked once per key per "
        f"{facts.authorizer_result_ttl_seconds:g} s; keyless never)",
    )
    forged_ms = cold_ms() if legacy_keys_accepted else WARM_MS
    billed_ms = mix["forged"] * forged_ms + mix["malformed"] * WARM_MS + revoked_called * cold_ms()
    result.add(
        "authorizer: Lambda duration",
        billed_ms / 1000 * gb_second,
        f"{forged_ms} ms for a forged key"
        + (" (GetItem and argon2: legacy keys accepted)" if legacy_keys_accepted else " (no AWS call)")
        + f", {WARM_MS} ms for a malformed one, {cold_ms()} ms for a revoked one (argon2)",
    )
    # A revoked key is read like a cold one; a forged key's environment state (whether it still accepts
    # untagged keys) once per warm instance every LEGACY_DECISION_MAX_AGE_SECONDS.
    forged_rate = rps * mix["forged"]
    state_reads = (
        instances(forged_rate) / LEGACY_DECISION_MAX_AGE_SECONDS * measured.environment_state_read_units / rps
        if forged_rate
        else 0.0
    )
    if legacy_keys_accepted:
        state_reads += mix["forged"]  # its GetItem (no record: no roles read)
    result.add(
        "authorizer: KeysTable reads",
        (revoked_called * key_read_units(measured) + state_reads) * DYNAMODB_PER_READ_UNIT,
        "a revoked key's record and roles when the authorizer runs; forged: its environment's state, rarely",
    )
    logged = sum(
        share * (measured.refusal_metric_line_bytes[kind] + LOG_EVENT_OVERHEAD_BYTES)
        for kind, share in (("forged", mix["forged"]), ("malformed", mix["malformed"]), ("revoked", revoked_called))
    ) + mix["malformed"] * (measured.runtime_error_line_bytes + LOG_EVENT_OVERHEAD_BYTES)
    result.add(
        "authorizer: log ingestion",
        logged / 1e9 * LOGS_PER_GB_INGESTED,
        f"a Refused metric line (~{measured.refusal_metric_line_bytes['forged']:.0f} bytes) per call; a 401 adds "
        f"the runtime's error line ({measured.runtime_error_line_bytes:.0f} bytes)",
    )
    access = sum(
        share * (measured.refused_access_log_line_bytes[kind] + LOG_EVENT_OVERHEAD_BYTES) for kind, share in mix.items()
    )
    access_log(result, access, logged, facts)
    ingest_lines(result, rps, facts, measured)
    lines = per_delivery(rps)
    env_block = write_units(
        measured.refused_env_block_fixed_bytes + measured.refused_env_block_bytes_per_record * lines
    )
    result.add(
        "audit: environment blocks",
        env_block / lines * DYNAMODB_PER_WRITE_UNIT,
        f"{env_block / lines:.3f} write units per request "
        f"({measured.refused_env_block_bytes_per_record:.0f} bytes a record)",
    )
    revoked_keys_audit(result, rps, facts, measured, mix)
    stored = (
        measured.refused_env_block_bytes_per_record
        + mix["revoked"] * measured.key_block_bytes_per_record
        + ITEM_STORAGE_OVERHEAD_BYTES / lines
    )
    audit_storage(result, stored, facts)
    return result


def revoked_keys_audit(
    result: Estimate, rps: float, facts: TemplateFacts, measured: Measured, mix: dict[str, float]
) -> None:
    """A revoked key's records are proven its own: their blocks are listed for the compactor, which copies
    them into the key's blocks and counts them in its usage (refused), as it does an accepted key's."""
    lines = per_delivery(rps)
    revoked_per_delivery = lines * mix["revoked"]
    listed = 1 - math.exp(-revoked_per_delivery)  # a delivery holding at least one revoked key's record
    keys_named = expected_distinct(revoked_per_delivery, [1 / REVOKED_KEYS] * REVOKED_KEYS)
    entry = write_units(measured.arrival_entry_bytes + KEY_ID_BYTES * keys_named)
    result.add(
        "audit: by_arrival index entries",
        listed * entry / lines * DYNAMODB_PER_WRITE_UNIT,
        f"only blocks holding a revoked key's record ({listed:.0%} of deliveries)",
    )
    per_bucket = rps * facts.arrival_bucket_seconds
    per_key = per_bucket * mix["revoked"] / REVOKED_KEYS
    present = 1 - math.exp(-per_key) if per_key > 0 else 0.0
    blocks = (
        REVOKED_KEYS
        * present
        * expected_block_units(per_key / present, measured.key_block_fixed_bytes, measured.key_block_bytes_per_record)
        if present
        else 0.0
    )
    result.add(
        "audit: revoked keys' blocks and usage",
        (blocks + REVOKED_KEYS * present * usage_write_units(facts, measured)) / per_bucket * DYNAMODB_PER_WRITE_UNIT,
        f"{REVOKED_KEYS} revoked keys: a block and a usage update per key and bucket",
    )
    read_units = listed * measured.refused_env_block_bytes_per_record / 4096
    per_record = (
        facts.compactor_memory_mb / 1024 * COMPACTOR_SECONDS_PER_RECORD * LAMBDA_PER_GB_SECOND[facts.architecture]
    )
    result.add(
        "compactor: reads and Lambda",
        read_units * DYNAMODB_PER_READ_UNIT + mix["revoked"] * per_record,
        "the listed blocks read once; the revoked keys' records compacted",
    )
