"""What a million authorized requests cost, component by component (no I/O: tools/archie_tools/bench/cost_model.py says
where the inputs come from). API Gateway's own fee is not a line: `make cost` adds it beside the total."""

from __future__ import annotations

import math

from archie_keys.app.verification import VerifierConfig
from archie_keys.aws.audit_blocks import BLOCK_MAX_RECORDS
from archie_tools.bench.cost_model import (
    ARGON2_VERIFY_MS,
    COMPACTOR_SECONDS_PER_RECORD,
    COUNTED_ENTRY_BYTES,
    COUNTED_NAME_BYTES,
    DAYS_PER_MONTH,
    DYNAMODB_PER_GB_MONTH,
    DYNAMODB_PER_READ_UNIT,
    DYNAMODB_PER_WRITE_UNIT,
    DYNAMODB_PITR_PER_GB_MONTH,
    DYNAMODB_READ_MS,
    DYNAMODB_WRITE_MS,
    ENVIRONMENTS_PER_INSTANCE,
    ITEM_STORAGE_OVERHEAD_BYTES,
    KEY_ID_BYTES,
    LAMBDA_PER_GB_SECOND,
    LAMBDA_PER_REQUEST,
    LOG_EVENT_OVERHEAD_BYTES,
    LOGS_COMPRESSION,
    LOGS_PER_GB_INGESTED,
    LOGS_PER_GB_MONTH_STORED,
    PLATFORM_LINES_BYTES,
    SECRETS_MANAGER_PER_CALL,
    XRAY_PER_TRACE,
    XRAY_RATE,
    XRAY_RESERVOIR_PER_SECOND,
    Estimate,
    Measured,
    TemplateFacts,
    expected_distinct,
    instances,
    log_ingestion,
    per_delivery,
    write_units,
    zipf_shares,
)

WARM_MS = 1  # Lambda bills whole milliseconds; a warm decision takes ~10 us (make bench)
READ_ROUND_TRIPS = 2  # a refresh: the key (GetItem) and its roles (one BatchGetItem)


def expected_block_units(mean_records: float, fixed: float, per_record: float) -> float:
    """Expected write units of one key's block in a bucket, given it has at least one record: blocks of more
    than 500 records are split, each block rounded up to whole kilobytes."""
    blocks = max(1, math.ceil(mean_records / BLOCK_MAX_RECORDS))
    return blocks * write_units(fixed + per_record * mean_records / blocks)


def usage_write_units(facts: TemplateFacts, measured: Measured) -> int:
    """A usage counter's update at its largest: every bucket of the hour named in it."""
    return write_units(
        measured.usage_item_bytes + COUNTED_NAME_BYTES + COUNTED_ENTRY_BYTES * 3600 / facts.arrival_bucket_seconds
    )


def audit_writes_per_request(rps: float, facts: TemplateFacts, measured: Measured) -> dict[str, float]:
    """Write units per request of the audit of accepted requests, by item kind, at `rps`."""
    shares = zipf_shares()
    lines = per_delivery(rps)
    env_block = write_units(measured.env_block_fixed_bytes + measured.env_block_bytes_per_record * lines)
    # The arrival index entry: the block's keys and the key ids it holds (12 bytes each, in a string set).
    arrival_entry = (
        write_units(measured.arrival_entry_bytes + KEY_ID_BYTES * expected_distinct(lines, shares))
        if "by_arrival" in facts.audit_indexes
        else 0
    )
    per_bucket = rps * facts.arrival_bucket_seconds
    usage_units = usage_write_units(facts, measured)
    key_blocks = usage = touches = 0.0
    for share in shares:
        lam = per_bucket * share
        present = 1 - math.exp(-lam)
        if present <= 0:
            continue
        # A key block is a plain conditional Put; the key's requests of the bucket are added to its usage in
        # one UpdateItem (per hour: one, but for a bucket that straddles an hour), and its last_used_at moved.
        key_blocks += present * expected_block_units(
            lam / present, measured.key_block_fixed_bytes, measured.key_block_bytes_per_record
        )
        usage += present * usage_units
        touches += present * write_units(measured.key_item_bytes)
    return {
        "environment blocks": env_block / lines,
        "by_arrival index entries": arrival_entry / lines,
        "key blocks": key_blocks / per_bucket,
        "usage counters": usage / per_bucket,
        "last_used_at updates": touches / per_bucket,
        "compaction marks": 1 / per_bucket,
    }


def _per_key_per_ttl(rate: float, ttl: float) -> float:
    """Invocations a second that find a key's in-function entry older than `ttl`: each warm instance meets
    each key it sees at most once per `ttl`."""
    warm = instances(rate)
    return warm * expected_distinct(rate / warm * ttl, zipf_shares()) / max(ttl, 1e-9)


def authorizer_refreshes_per_invocation(rps: float, facts: TemplateFacts) -> float:
    """Share of authorizer invocations that re-read the key (its in-function decision older than the TTL)."""
    return min(1.0, _per_key_per_ttl(rps, facts.authorizer_cache_ttl_seconds) / rps)


def authorizer_proofs_per_invocation(rps: float) -> float:
    """Share of authorizer invocations that verify the key's secret again with argon2 (its in-function proof
    older than VerifierConfig.proof_ttl_seconds)."""
    return min(1.0, _per_key_per_ttl(rps, VerifierConfig().proof_ttl_seconds) / rps)


def cold_ms() -> int:
    """A key not proven in this instance: GetItem, then argon2 while its roles are read."""
    return math.ceil(WARM_MS + DYNAMODB_READ_MS + ARGON2_VERIFY_MS)


def key_read_units(measured: Measured) -> float:
    return math.ceil(measured.key_item_bytes / 4096) + measured.roles_per_key * math.ceil(
        measured.role_item_bytes / 4096
    )


def ingest_lines(result: Estimate, rps: float, facts: TemplateFacts, measured: Measured) -> None:
    """The ingest's invocations and what they log, per request: one invocation per delivery."""
    lines = per_delivery(rps)
    gb_second = LAMBDA_PER_GB_SECOND[facts.architecture]
    ingest_ms = math.ceil(20 + DYNAMODB_WRITE_MS * math.ceil(lines / BLOCK_MAX_RECORDS))
    result.add(
        "ingest: Lambda",
        (LAMBDA_PER_REQUEST + facts.ingest_memory_mb / 1024 * ingest_ms / 1000 * gb_second) / lines,
        f"one invocation per delivery of ~{lines:.0f} lines, ~{ingest_ms} ms",
    )
    logged = log_ingestion(measured.ingest_stdout_bytes, measured.ingest_stdout_lines, facts.ingest_platform_lines)
    result.add(
        "ingest: log lines",
        logged / lines / 1e9 * LOGS_PER_GB_INGESTED,
        f"{logged:.0f} bytes per invocation"
        + (" (START/END/REPORT included)" if facts.ingest_platform_lines else " (no platform lines)"),
    )


def estimate(rps: int, cache_hit_ratio: float, facts: TemplateFacts, measured: Measured) -> Estimate:
    result = Estimate(rps)
    invoked = 1 - cache_hit_ratio  # authorizer invocations per request
    invoked_rate = max(1.0, rps * invoked)
    gb = facts.authorizer_memory_mb / 1024
    gb_second = LAMBDA_PER_GB_SECOND[facts.architecture]
    refresh = authorizer_refreshes_per_invocation(invoked_rate, facts)
    proof = min(refresh, authorizer_proofs_per_invocation(invoked_rate))
    refresh_ms = math.ceil(WARM_MS + READ_ROUND_TRIPS * DYNAMODB_READ_MS)
    # The witness (app.authorization_witness): each warm instance writes each key it decides at most once per
    # interval, before the Allow, so those decisions wait for one write more (a small item: one write unit).
    witness_writes = _per_key_per_ttl(invoked_rate, facts.authorizer_witness_seconds)
    witnessed = min(1.0, witness_writes / invoked_rate)
    billed_ms = (
        (1 - refresh) * WARM_MS + (refresh - proof) * refresh_ms + proof * cold_ms() + witnessed * DYNAMODB_WRITE_MS
    )
    result.add("authorizer: Lambda requests", invoked * LAMBDA_PER_REQUEST, "one invocation per uncached request")
    result.add(
        "authorizer: Lambda duration",
        invoked * gb * billed_ms / 1000 * gb_second,
        f"{facts.authorizer_memory_mb} MB {facts.architecture}, {billed_ms:.2f} ms billed on average "
        f"({refresh:.0%} re-read the key, {proof:.1%} verify it with argon2)",
    )
    units = key_read_units(measured)
    result.add(
        "authorizer: KeysTable reads",
        invoked * refresh * units * DYNAMODB_PER_READ_UNIT,
        f"{units:.1f} strongly consistent read units per re-read",
    )
    result.add(
        "authorizer: witness writes",
        invoked * witnessed * DYNAMODB_PER_WRITE_UNIT,
        f"~{witness_writes:,.0f} writes/s: each key once per "
        f"{facts.authorizer_witness_seconds:g} s per warm instance that decides it ({witnessed:.1%} of decisions)",
    )
    warm = instances(invoked_rate)
    state_queries = warm * ENVIRONMENTS_PER_INSTANCE / facts.authorizer_cache_ttl_seconds
    result.add(
        "authorizer: environment state reads",
        state_queries * measured.environment_state_read_units * DYNAMODB_PER_READ_UNIT / rps,
        f"a Query of {measured.environment_state_read_units:.0f} read unit by each of ~{warm} warm instances "
        f"every {facts.authorizer_cache_ttl_seconds:g} s",
    )
    result.add(
        "authorizer: secret reads",
        warm * facts.authorizer_secrets / facts.pepper_max_age_seconds / rps * SECRETS_MANAGER_PER_CALL,
        f"{facts.authorizer_secrets} secrets, each re-read by each warm instance every "
        f"{facts.pepper_max_age_seconds:g} s",
    )
    authorizer_log = measured.authorizer_stdout_bytes_per_allowed
    if authorizer_log:
        authorizer_log += LOG_EVENT_OVERHEAD_BYTES
    if facts.authorizer_platform_lines:
        authorizer_log += PLATFORM_LINES_BYTES
    result.add(
        "authorizer: log ingestion",
        invoked * authorizer_log / 1e9 * LOGS_PER_GB_INGESTED,
        f"{authorizer_log:.0f} bytes per accepted decision"
        + (" (START/END/REPORT included)" if facts.authorizer_platform_lines else " (no platform lines)"),
    )
    access = measured.access_log_line_bytes + LOG_EVENT_OVERHEAD_BYTES
    access_log(result, access, invoked * authorizer_log, facts)
    if facts.tracing_default_on:
        traced = min(1.0, XRAY_RESERVOIR_PER_SECOND / rps + XRAY_RATE)
        result.add("X-Ray traces", traced * XRAY_PER_TRACE, f"{traced:.1%} of requests sampled")
    ingest_lines(result, rps, facts, measured)
    for name, write in audit_writes_per_request(rps, facts, measured).items():
        result.add(f"audit: {name}", write * DYNAMODB_PER_WRITE_UNIT, f"{write:.3f} write units per request")
    per_bucket = rps * facts.arrival_bucket_seconds
    env_read_units = (measured.env_block_bytes_per_record * per_bucket + measured.env_block_fixed_bytes) / 4096
    result.add(
        "compactor: reads and Lambda",
        env_read_units * DYNAMODB_PER_READ_UNIT / per_bucket
        + facts.compactor_memory_mb / 1024 * COMPACTOR_SECONDS_PER_RECORD * gb_second,
        f"environment blocks read once, strongly consistent; {COMPACTOR_SECONDS_PER_RECORD * 1e6:.0f} us a record "
        "(an idle run: fixed costs)",
    )
    stored = (
        measured.env_block_bytes_per_record
        + measured.key_block_bytes_per_record
        + (ITEM_STORAGE_OVERHEAD_BYTES * 2 + measured.arrival_entry_bytes) / per_delivery(rps)
    )
    audit_storage(result, stored, facts)
    return result


def access_log(result: Estimate, access: float, authorizer_log: float, facts: TemplateFacts) -> None:
    """Ingesting `access` bytes of access log per request, and storing them with `authorizer_log` bytes of
    the authorizer's own lines for the log groups' retention."""
    result.add("access log: ingestion", access / 1e9 * LOGS_PER_GB_INGESTED, f"{access:.0f} bytes per request")
    stored_months = facts.log_retention_days / DAYS_PER_MONTH
    result.add(
        "access log: storage",
        (access + authorizer_log) * LOGS_COMPRESSION / 1e9 * LOGS_PER_GB_MONTH_STORED * stored_months,
        f"{facts.log_retention_days} days, compressed",
    )


def audit_storage(result: Estimate, stored: float, facts: TemplateFacts) -> None:
    """`stored` bytes per request kept for the audit's retention, and its continuous backups."""
    months = facts.audit_retention_days / DAYS_PER_MONTH
    result.add(
        "audit: storage",
        stored / 1e9 * DYNAMODB_PER_GB_MONTH * months,
        f"{stored:.0f} bytes per request for {facts.audit_retention_days} days",
    )
    if facts.audit_pitr:
        result.add(
            "audit: point-in-time recovery",
            stored / 1e9 * DYNAMODB_PITR_PER_GB_MONTH * months,
            "continuous backups, billed on the table's size",
        )
