"""The cost model behind `make cost`: list prices, stated assumptions and the arithmetic, with no I/O.

Inputs come from two places: the template (memory, architecture, tracing, log format, indexes and their
projections, retention) and what the local stack measurably writes (the bytes of an access-log line, of a
record in a block, of each item the audit and the authorizer touch). tests/bench/cost.py gathers both.

Prices are AWS's public list prices for us-east-1 (N. Virginia) as published in November 2026 (DynamoDB
on-demand at the rates of its November 2024 reduction). API Gateway's own request fee is excluded, as the
issue asks: it is the same whatever this service does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from archie_keys.app.compaction_writes import PARTITION_WRITE_UNITS_PER_SECOND
from archie_keys.aws.audit_blocks import BLOCK_MAX_RECORDS
from archie_keys.aws.audit_writer import AUDIT_SHARDS

# --- List prices: us-east-1, November 2026 --------------------------------------------------------------
PRICE_REGION = "us-east-1"
PRICE_DATE = "2026-11"
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6  # on-demand write request unit (1 KB)
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6  # on-demand read request unit (4 KB strongly consistent, 8 KB eventually)
DYNAMODB_PER_GB_MONTH = 0.25  # standard table class storage
LOGS_PER_GB_INGESTED = 0.50  # CloudWatch Logs standard class ingestion
LOGS_PER_GB_MONTH_STORED = 0.03  # archived (compressed) storage
XRAY_PER_TRACE = 5.00 / 1e6  # traces recorded
SECRETS_MANAGER_PER_CALL = 0.05 / 10_000

# --- Assumptions (what the local stack cannot show), each stated in `make cost`'s output ----------------
# CloudWatch Logs counts 26 bytes of overhead per log event against ingestion.
LOG_EVENT_OVERHEAD_BYTES = 26
# START, END and REPORT lines Lambda writes per invocation when its system log level lets them through
# (text format: about 90, 60 and 190 bytes with the overhead above).
PLATFORM_LINES_BYTES = 340
# Archived log storage is billed compressed; JSON access logs compress about 6:1.
LOGS_COMPRESSION = 0.15
# A subscription delivery carries one log stream's events of about a second; API Gateway writes a busy
# stage's access log to about this many streams (so each delivery holds rate / streams events).
ACCESS_LOG_STREAMS = 10
# Latencies on AWS, for billed durations: DynamoDB read and write round trips from Lambda.
DYNAMODB_READ_MS = 5.0
DYNAMODB_WRITE_MS = 8.0
# Warm authorizer instances: API Gateway's invocations spread over about one instance per this many
# requests per second (each decision takes ~10 microseconds of CPU, `make bench`; the rest is Lambda's).
REQUESTS_PER_SECOND_PER_INSTANCE = 100
# X-Ray's default sampling rule when tracing is on: the first request each second, then 5%.
XRAY_RESERVOIR_PER_SECOND, XRAY_RATE = 1, 0.05
# The pepper is re-read by each warm instance every PEPPER_MAX_AGE_SECONDS (template: 300).
PEPPER_MAX_AGE_SECONDS = 300
# A usage counter names the arrival buckets it counted (`counted`: epoch milliseconds, 13 digits, 8 bytes
# each as DynamoDB sizes numbers); an UpdateItem is billed on the larger of the item before and after.
COUNTED_NAME_BYTES = len("counted")
COUNTED_ENTRY_BYTES = 8
KEY_ID_BYTES = 12
# Item overhead DynamoDB adds to every stored item and index entry (for storage).
ITEM_STORAGE_OVERHEAD_BYTES = 100
DAYS_PER_MONTH = 30.4

# The workload the headline is computed for, and the capacity table's rows.
REFERENCE_RPS = 1_000
CAPACITY_RPS = (100, 1_000, 10_000)
ACTIVE_KEYS = 1_000
ZIPF_EXPONENT = 1.0  # key popularity: the k-th most used key gets a share proportional to 1 / k


@dataclass(frozen=True)
class TemplateFacts:
    """What the template says that costs money."""

    authorizer_memory_mb: int
    ingest_memory_mb: int
    compactor_memory_mb: int
    architecture: str
    tracing_default_on: bool
    authorizer_platform_lines: bool  # Lambda's START/END/REPORT lines reach the log group
    log_retention_days: int
    audit_retention_days: int
    arrival_bucket_seconds: float
    authorizer_cache_ttl_seconds: float
    audit_indexes: dict[str, str]  # index name -> projection type
    reserved_authorizer_concurrency: int


@dataclass(frozen=True)
class Measured:
    """Bytes the local stack wrote, per unit."""

    access_log_line_bytes: float  # one request's access-log line
    authorizer_stdout_bytes_per_allowed: float  # what the authorizer writes per accepted decision
    env_block_fixed_bytes: float  # an environment block's size beyond its records
    env_block_bytes_per_record: float
    key_block_fixed_bytes: float
    key_block_bytes_per_record: float
    arrival_entry_bytes: float  # a by_arrival index entry without its key ids
    usage_item_bytes: float
    key_item_bytes: float  # the key record the compactor's last_used_at update rewrites
    role_item_bytes: float  # one role, read with the key on a refresh
    roles_per_key: float


@dataclass
class Line:
    name: str
    usd_per_million: float
    note: str


@dataclass
class Estimate:
    rps: int
    cache_hit_ratio: float
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.usd_per_million for line in self.lines)

    def add(self, name: str, usd_per_request: float, note: str) -> None:
        self.lines.append(Line(name, usd_per_request * 1e6, note))


def zipf_shares(keys: int = ACTIVE_KEYS, exponent: float = ZIPF_EXPONENT) -> list[float]:
    weights = [1 / (rank**exponent) for rank in range(1, keys + 1)]
    total = sum(weights)
    return [w / total for w in weights]


def expected_distinct(draws: float, shares: list[float]) -> float:
    """Expected number of distinct keys among `draws` requests (Poisson)."""
    return sum(1 - math.exp(-draws * share) for share in shares)


def write_units(size_bytes: float) -> int:
    return max(1, math.ceil(size_bytes / 1024))


def expected_block_units(mean_records: float, fixed: float, per_record: float) -> float:
    """Expected write units of one key's block in a bucket, given it has at least one record: blocks of more
    than 500 records are split, each block rounded up to whole kilobytes."""
    blocks = max(1, math.ceil(mean_records / BLOCK_MAX_RECORDS))
    return blocks * write_units(fixed + per_record * mean_records / blocks)


def audit_writes_per_request(rps: float, facts: TemplateFacts, measured: Measured) -> dict[str, float]:
    """Write units per request of the audit of accepted requests, by item kind, at `rps`."""
    shares = zipf_shares()
    per_delivery = max(1.0, rps / ACCESS_LOG_STREAMS)
    env_block = write_units(measured.env_block_fixed_bytes + measured.env_block_bytes_per_record * per_delivery)
    # The arrival index entry: the block's keys and the key ids it holds (12 bytes each, in a string set).
    distinct_in_delivery = expected_distinct(per_delivery, shares)
    arrival_entry = (
        write_units(measured.arrival_entry_bytes + KEY_ID_BYTES * distinct_in_delivery)
        if "by_arrival" in facts.audit_indexes
        else 0
    )
    per_bucket = rps * facts.arrival_bucket_seconds
    # A usage counter at its largest: every bucket of the hour named in it.
    usage_units = write_units(
        measured.usage_item_bytes + COUNTED_NAME_BYTES + COUNTED_ENTRY_BYTES * 3600 / facts.arrival_bucket_seconds
    )
    key_blocks = usage = touches = 0.0
    for share in zipf_shares():
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
        "environment blocks": env_block / per_delivery,
        "by_arrival index entries": arrival_entry / per_delivery,
        "key blocks": key_blocks / per_bucket,
        "usage counters": usage / per_bucket,
        "last_used_at updates": touches / per_bucket,
        "compaction marks": 1 / per_bucket,
    }


def authorizer_refreshes_per_invocation(rps: float, facts: TemplateFacts) -> float:
    """Share of authorizer invocations that re-read the key (its in-function decision older than the TTL):
    each warm instance re-reads each key it sees at most once per TTL."""
    instances = max(1, math.ceil(rps / REQUESTS_PER_SECOND_PER_INSTANCE))
    per_instance_window = rps / instances * facts.authorizer_cache_ttl_seconds
    refreshes_per_second = (
        instances
        * expected_distinct(per_instance_window, zipf_shares())
        / max(facts.authorizer_cache_ttl_seconds, 1e-9)
    )
    return min(1.0, refreshes_per_second / rps)


def estimate(rps: int, cache_hit_ratio: float, facts: TemplateFacts, measured: Measured) -> Estimate:
    result = Estimate(rps, cache_hit_ratio)
    invoked = 1 - cache_hit_ratio  # authorizer invocations per request
    gb = facts.authorizer_memory_mb / 1024
    gb_second = LAMBDA_PER_GB_SECOND[facts.architecture]
    refresh = authorizer_refreshes_per_invocation(max(1, round(rps * invoked)), facts)
    read_round_trips = 2  # the key (GetItem) and its roles (one BatchGetItem)
    warm_ms = 1  # Lambda bills whole milliseconds; a warm decision takes ~10 us (make bench)
    refresh_ms = math.ceil(1 + read_round_trips * DYNAMODB_READ_MS)
    billed_ms = (1 - refresh) * warm_ms + refresh * refresh_ms
    result.add("authorizer: Lambda requests", invoked * LAMBDA_PER_REQUEST, "one invocation per uncached request")
    result.add(
        "authorizer: Lambda duration",
        invoked * gb * billed_ms / 1000 * gb_second,
        f"{facts.authorizer_memory_mb} MB {facts.architecture}, {billed_ms:.2f} ms billed on average "
        f"({refresh:.0%} re-read the key)",
    )
    read_units = math.ceil(measured.key_item_bytes / 4096) + measured.roles_per_key * math.ceil(
        measured.role_item_bytes / 4096
    )
    result.add(
        "authorizer: KeysTable reads",
        invoked * refresh * read_units * DYNAMODB_PER_READ_UNIT,
        f"{read_units:.1f} strongly consistent read units per re-read",
    )
    instances = max(1, math.ceil(rps * invoked / REQUESTS_PER_SECOND_PER_INSTANCE))
    result.add(
        "authorizer: pepper reads",
        instances / PEPPER_MAX_AGE_SECONDS / rps * SECRETS_MANAGER_PER_CALL,
        f"each of ~{instances} warm instances every {PEPPER_MAX_AGE_SECONDS} s",
    )
    authorizer_log = measured.authorizer_stdout_bytes_per_allowed
    if measured.authorizer_stdout_bytes_per_allowed:
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
    result.add(
        "access log: ingestion", access / 1e9 * LOGS_PER_GB_INGESTED, f"{access:.0f} bytes per request, every request"
    )
    stored_months = facts.log_retention_days / DAYS_PER_MONTH
    result.add(
        "access log: storage",
        (access + invoked * authorizer_log) * LOGS_COMPRESSION / 1e9 * LOGS_PER_GB_MONTH_STORED * stored_months,
        f"{facts.log_retention_days} days, compressed",
    )
    if facts.tracing_default_on:
        traced = min(1.0, XRAY_RESERVOIR_PER_SECOND / rps + XRAY_RATE)
        result.add("X-Ray traces", traced * XRAY_PER_TRACE, f"{traced:.1%} of requests sampled")
    per_delivery = max(1.0, rps / ACCESS_LOG_STREAMS)
    ingest_ms = math.ceil(20 + DYNAMODB_WRITE_MS * math.ceil(per_delivery / BLOCK_MAX_RECORDS))
    result.add(
        "ingest: Lambda",
        (LAMBDA_PER_REQUEST + facts.ingest_memory_mb / 1024 * ingest_ms / 1000 * gb_second) / per_delivery,
        f"one invocation per delivery of ~{per_delivery:.0f} lines, ~{ingest_ms} ms",
    )
    writes = audit_writes_per_request(rps, facts, measured)
    for name, units in writes.items():
        result.add(f"audit: {name}", units * DYNAMODB_PER_WRITE_UNIT, f"{units:.3f} write units per request")
    per_bucket = rps * facts.arrival_bucket_seconds
    env_read_units = (measured.env_block_bytes_per_record * per_bucket + measured.env_block_fixed_bytes) / 4096
    result.add(
        "compactor: reads and Lambda",
        (env_read_units * DYNAMODB_PER_READ_UNIT + facts.compactor_memory_mb / 1024 * 2.0 * gb_second) / per_bucket,
        "environment blocks read once, strongly consistent; ~2 s a run",
    )
    months = facts.audit_retention_days / DAYS_PER_MONTH
    stored = (
        measured.env_block_bytes_per_record
        + measured.key_block_bytes_per_record
        + (ITEM_STORAGE_OVERHEAD_BYTES * 2 + measured.arrival_entry_bytes) / per_delivery
    )
    result.add(
        "audit: storage",
        stored / 1e9 * DYNAMODB_PER_GB_MONTH * months,
        f"{stored:.0f} bytes per request for {facts.audit_retention_days} days",
    )
    return result


@dataclass
class Capacity:
    rps: int
    authorizer_concurrency: float
    keys_table_read_units_per_second: float
    keys_hottest_partition_read_units: float
    audit_write_units_per_second: float
    audit_hottest_partition_write_units: float
    ingest_invocations_per_second: float
    ingest_concurrency: float
    audit_lag_environment_seconds: float
    audit_lag_key_seconds: float
    # Requests a second of one key whose blocks the compactor keeps up with (its partitions' budget)
    one_key_max_requests_per_second: float
    limits: dict[str, str]


def capacity(rps: int, facts: TemplateFacts, measured: Measured) -> Capacity:
    refresh = authorizer_refreshes_per_invocation(rps, facts)
    mean_ms = (1 - refresh) * 1 + refresh * (1 + 2 * DYNAMODB_READ_MS)
    read_units = math.ceil(measured.key_item_bytes / 4096) + measured.roles_per_key
    instances = max(1, math.ceil(rps / REQUESTS_PER_SECOND_PER_INSTANCE))
    writes = audit_writes_per_request(rps, facts, measured)
    per_delivery = max(1.0, rps / ACCESS_LOG_STREAMS)
    hottest_share = zipf_shares()[0]
    # The hottest key's blocks of one bucket: the compactor writes them side by side, spread over AUDIT_SHARDS
    # partitions, each paced at PARTITION_WRITE_UNITS_PER_SECOND; they go out in a burst, so a partition
    # takes them at that rate, or all of them within a second when they are fewer.
    hottest_records = rps * facts.arrival_bucket_seconds * hottest_share
    hottest_blocks = max(1, math.ceil(hottest_records / BLOCK_MAX_RECORDS))
    block_units = write_units(
        measured.key_block_fixed_bytes + measured.key_block_bytes_per_record * hottest_records / hottest_blocks
    )
    key_per_partition = min(PARTITION_WRITE_UNITS_PER_SECOND, block_units * math.ceil(hottest_blocks / AUDIT_SHARDS))
    env_per_partition = writes["environment blocks"] * rps / AUDIT_SHARDS  # one environment's blocks, sharded
    hottest_write = max(env_per_partition, key_per_partition)
    ingest_per_second = rps / per_delivery
    return Capacity(
        rps=rps,
        authorizer_concurrency=round(rps * mean_ms / 1000, 2),
        keys_table_read_units_per_second=round(rps * refresh * read_units, 1),
        keys_hottest_partition_read_units=round(instances / facts.authorizer_cache_ttl_seconds * read_units, 1),
        audit_write_units_per_second=round(rps * sum(writes.values()), 1),
        audit_hottest_partition_write_units=round(hottest_write, 1),
        ingest_invocations_per_second=round(ingest_per_second, 1),
        ingest_concurrency=round(ingest_per_second * (20 + DYNAMODB_WRITE_MS) / 1000, 2),
        audit_lag_environment_seconds=2.0,
        audit_lag_key_seconds=round(2 * facts.arrival_bucket_seconds + 60, 0),
        one_key_max_requests_per_second=round(
            AUDIT_SHARDS
            * PARTITION_WRITE_UNITS_PER_SECOND
            / write_units(measured.key_block_fixed_bytes + measured.key_block_bytes_per_record * BLOCK_MAX_RECORDS)
            * BLOCK_MAX_RECORDS,
            -2,
        ),
        limits={
            "authorizer_concurrency": f"reserved {facts.reserved_authorizer_concurrency} (account default 1,000)",
            "partition": "1,000 WCU / 3,000 RCU per partition",
            "subscription": "2 subscription filters per log group; the ingest's concurrency is the account's",
        },
    )


def as_json(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value
