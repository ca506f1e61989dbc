"""The cost model behind `make cost`: list prices, stated assumptions and the types the arithmetic shares, with
no I/O.

Inputs come from two places: the template (memory, architecture, tracing, log formats, indexes and their
projections, retention, point-in-time recovery, alarms, metrics, schedules, secrets:
tools/archie_tools/bench/cost_template.py)
and what the local stack measurably writes (the bytes of an access-log line, of a record in a block, of what
each function logs per invocation, of each item the audit and the authorizer touch, the AWS calls of a canary
run: tools/archie_tools/bench/cost_measure.py). The arithmetic: cost_accepted.py (a million authorized requests),
cost_refused.py (a million refused ones), cost_fixed.py (what a stack costs a month whatever its traffic, and
per key), cost_capacity.py (how far each resource stretches).

Prices are AWS's public list prices for us-east-1 (N. Virginia), named below with the month this list was
dated; no free tier is applied. Room for what comes: a per-key feature (issue 21: limits, webhooks) adds its
price here and a line to cost_fixed.per_key_monthly or to the per-request estimates. A second region (issue
22): cost_regions.py, the keys table's writes again in each replica at DYNAMODB_PER_REPLICATED_WRITE_UNIT, their
transfer, the stream consumers, and the fixed costs of the template as the second region deploys it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

# --- List prices: us-east-1, dated December 2026 ----------------------------------------------------------
PRICE_REGION = "us-east-1"
PRICE_DATE = "2026-12"
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6  # on-demand write request unit (1 KB); the November 2024 rates
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6  # on-demand read request unit (4 KB strongly consistent, 8 KB eventually)
DYNAMODB_PER_REPLICATED_WRITE_UNIT = 0.625 / 1e6  # a global table's write, per replica region (issue 22)
DATA_TRANSFER_INTER_REGION_PER_GB = 0.02  # out of us-east-1 to another AWS region (a global table's replication)
DYNAMODB_PER_GB_MONTH = 0.25  # standard table class storage
DYNAMODB_PITR_PER_GB_MONTH = 0.20  # continuous backups (point-in-time recovery), on the table's size
LOGS_PER_GB_INGESTED = 0.50  # CloudWatch Logs standard class ingestion (the first tier of Lambda's logs too)
LOGS_PER_GB_MONTH_STORED = 0.03  # archived (compressed) storage
XRAY_PER_TRACE = 5.00 / 1e6  # traces recorded
SECRETS_MANAGER_PER_CALL = 0.05 / 10_000
SECRETS_MANAGER_PER_SECRET_MONTH = 0.40
# API Gateway charges for requests and caches only: usage plans, API keys and their control-plane calls are free.
API_GATEWAY_USAGE_PLAN_KEY_MONTH = 0.0
CLOUDWATCH_ALARM_METRIC_MONTH = 0.10  # standard resolution; an alarm on metric math pays for each metric it reads
CLOUDWATCH_HIGH_RES_ALARM_METRIC_MONTH = 0.30  # an alarm whose period is under 60 s
CLOUDWATCH_METRIC_MONTH = 0.30  # a custom metric (namespace, name, dimensions), the first 10,000; billed by the hour
CLOUDWATCH_DASHBOARD_MONTH = 3.00  # beyond the account's 3 free dashboards (which this model does not assume)
SCHEDULER_PER_INVOCATION = 1.00 / 1e6  # EventBridge Scheduler, beyond its 14 million free invocations a month
WAF_PER_WEB_ACL_MONTH, WAF_PER_RULE_MONTH, WAF_PER_REQUEST = 5.00, 1.00, 0.60 / 1e6
# API Gateway REST APIs, per million requests, by the account's requests in the region that month (tiers
# cumulative: the first 333 million at $3.50, the next 667 million at $2.80, ...). API Gateway does not bill a
# request its authorizer refuses (401 or 403): AWS's answers on re:Post, and its former pricing FAQ.
API_GATEWAY_REST_TIERS = ((333e6, 3.50), (667e6, 2.80), (19e9, 2.38), (math.inf, 1.51))
API_GATEWAY_BILLS_REFUSED = False

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
# One argon2id verify (m=19456 KiB, t=2) on a 1024 MB arm64 Lambda (~0.6 vCPU): `make bench` measures
# 18.7 ms on a whole core.
ARGON2_VERIFY_MS = 30.0
# Warm authorizer instances: API Gateway's invocations spread over about one instance per this many
# requests per second (each decision takes ~10 microseconds of CPU, `make bench`; the rest is Lambda's).
REQUESTS_PER_SECOND_PER_INSTANCE = 100
# Environments a warm authorizer instance serves (each re-reads its state once per cache TTL).
ENVIRONMENTS_PER_INSTANCE = 1
# X-Ray's default sampling rule when tracing is on: the first request each second, then 5%.
XRAY_RESERVOIR_PER_SECOND, XRAY_RATE = 1, 0.05
# A usage counter names the arrival buckets it counted (`counted`: epoch milliseconds, 13 digits, 8 bytes
# each as DynamoDB sizes numbers); an UpdateItem is billed on the larger of the item before and after.
COUNTED_NAME_BYTES = len("counted")
COUNTED_ENTRY_BYTES = 8
KEY_ID_BYTES = 12
# Item overhead DynamoDB adds to every stored item and index entry (for storage).
ITEM_STORAGE_OVERHEAD_BYTES = 100
DAYS_PER_MONTH = 30.4
# The compactor's run: what an idle run takes (the mark, the index queries), plus its time per record
# (`make bench`: at least 20,000 records a second).
COMPACTOR_IDLE_RUN_SECONDS = 0.2
COMPACTOR_SECONDS_PER_RECORD = 1 / 20_000
# A canary run on AWS: a cold start most runs (five minutes apart), argon2 for its key, two HTTPS calls
# through API Gateway, and a revocation that waits one authorizer cache TTL before it answers.
CANARY_RUN_SECONDS = 3.0
# The keys table's size for its storage and point-in-time recovery: keys kept (active, and revoked or expired
# ones until their purge) with their roles and environments.
KEYS_TABLE_ITEMS = 100_000

# Refused traffic: a mix for `refused_usd_per_million` (shares of refused requests). Forged keys (well formed,
# each value new: a flood), keys revoked or expired still presented by stale clients (REVOKED_KEYS of them,
# answered from API Gateway's cached Deny after the first), and malformed values (garbage, each new) or no
# Authorization header at all (API Gateway answers 401 without calling the authorizer).
REFUSED_MIX = {"forged": 0.5, "revoked": 0.3, "malformed": 0.1, "keyless": 0.1}
REVOKED_KEYS = 20

# A second region (cost_regions.py). Lambda polls each shard of a DynamoDB stream about 4 times a second and
# invokes once per poll that finds records; an on-demand table starts with about 4 partitions, a shard each.
STREAM_POLLS_PER_SECOND_PER_SHARD, STREAM_SHARDS = 4, 4
# The consumer on a batch of bookkeeping only (parse, plan, no call): billed ms.
REPLICATION_BATCH_MS = 20.0
# The consumer on a replicated revocation: two coalesced flushes an instance cache TTL (1 s) apart.
REPLICATION_FLUSH_SECONDS = 1.2
# The authorizer's witness (a SEEN# item: keys, authorized_epoch, purge_epoch), as replicated.
WITNESS_ITEM_BYTES = 100

# The workload the headline is computed for, and the capacity table's rows.
REFERENCE_RPS = 1_000
CAPACITY_RPS = (10, 100, 1_000, 10_000)
ACTIVE_KEYS = 1_000
ZIPF_EXPONENT = 1.0  # key popularity: the k-th most used key gets a share proportional to 1 / k
SECONDS_PER_MONTH = DAYS_PER_MONTH * 86_400


@dataclass(frozen=True)
class TemplateFacts:
    """What the template says that costs money per request."""

    authorizer_memory_mb: int
    ingest_memory_mb: int
    compactor_memory_mb: int
    architecture: str
    tracing_default_on: bool
    authorizer_platform_lines: bool  # Lambda's START/END/REPORT lines reach the log group
    ingest_platform_lines: bool
    log_retention_days: int
    audit_retention_days: int
    arrival_bucket_seconds: float
    authorizer_cache_ttl_seconds: float
    authorizer_result_ttl_seconds: float  # API Gateway's cache of an answer (ReauthorizeEvery)
    authorizer_witness_seconds: float  # an instance records a key's authorization at most this often
    pepper_max_age_seconds: float
    authorizer_secrets: int  # secrets the authorizer reads (and re-reads every pepper_max_age_seconds)
    audit_indexes: dict[str, str]  # index name -> projection type
    audit_pitr: bool
    keys_pitr: bool
    reserved_authorizer_concurrency: int


@dataclass(frozen=True)
class Measured:
    """Bytes the local stack wrote, per unit, and the calls it made."""

    access_log_line_bytes: float  # one accepted request's access-log line
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
    environment_state_read_units: float  # the authorizer's Query of an environment's ENV items
    # Refused requests, by kind (REFUSED_MIX): their access-log lines, what the authorizer writes when it is
    # called for one (its Refused metric line), the line Lambda's runtime writes when it raises (a 401), and
    # the environment blocks holding a mix of them.
    refused_access_log_line_bytes: dict[str, float]
    refusal_metric_line_bytes: dict[str, float]
    runtime_error_line_bytes: float
    refused_env_block_fixed_bytes: float
    refused_env_block_bytes_per_record: float
    # What the ingest and the compactor write to their log groups per invocation (JSON lines and metric lines,
    # without Lambda's platform lines), and how many lines that is.
    ingest_stdout_bytes: float
    ingest_stdout_lines: float
    compactor_stdout_bytes: float
    compactor_stdout_lines: float
    compactor_idle_read_units: float
    compactor_idle_write_units: float
    # One canary run's own calls and lines (cost_measure.CallMeter prices DynamoDB calls by their items).
    canary_read_units: float
    canary_write_units: float
    canary_api_requests: float
    canary_stdout_bytes: float
    canary_stdout_lines: float
    canary_calls: dict[str, int] = field(default_factory=dict)


@dataclass
class Line:
    name: str
    usd: float  # per million requests, or per month
    note: str


@dataclass
class Estimate:
    rps: float
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

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


def instances(rate: float) -> int:
    """Warm authorizer instances serving `rate` invocations a second."""
    return max(1, math.ceil(rate / REQUESTS_PER_SECOND_PER_INSTANCE))


def per_delivery(rps: float) -> float:
    """Access-log lines in one subscription delivery (at least one)."""
    return max(1.0, rps / ACCESS_LOG_STREAMS)


def log_ingestion(stdout_bytes: float, lines: float, platform_lines: bool) -> float:
    """Bytes CloudWatch Logs bills for an invocation that wrote `lines` lines of `stdout_bytes`."""
    return stdout_bytes + lines * LOG_EVENT_OVERHEAD_BYTES + (PLATFORM_LINES_BYTES if platform_lines else 0)


def api_gateway_usd_per_million(monthly_requests: float) -> float:
    """API Gateway's REST fee per million requests for an account and region serving `monthly_requests` a
    month, across the tiers (the first tier below 333 million)."""
    left, cost = monthly_requests, 0.0
    for size, price in API_GATEWAY_REST_TIERS:
        taken = min(left, size)
        cost += taken / 1e6 * price
        left -= taken
        if left <= 0:
            break
    return cost / (monthly_requests / 1e6) if monthly_requests else API_GATEWAY_REST_TIERS[0][1]


def as_json(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value


def rounded(value: Any, digits: int = 2) -> Any:
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    return round(value, digits) if isinstance(value, float) else value
