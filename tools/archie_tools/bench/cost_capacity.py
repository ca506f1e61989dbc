"""How far each resource stretches with traffic: the capacity table of `make cost` (0% cache hits)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from archie_keys.app.compaction_writes import PARTITION_WRITE_UNITS_PER_SECOND
from archie_keys.aws.audit_blocks import BLOCK_MAX_RECORDS
from archie_keys.aws.audit_writer import AUDIT_SHARDS
from archie_tools.bench.cost_accepted import audit_writes_per_request, authorizer_refreshes_per_invocation
from archie_tools.bench.cost_model import (
    DYNAMODB_READ_MS,
    DYNAMODB_WRITE_MS,
    Measured,
    TemplateFacts,
    instances,
    per_delivery,
    write_units,
    zipf_shares,
)


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
    writes = audit_writes_per_request(rps, facts, measured)
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
    ingest_per_second = rps / per_delivery(rps)
    return Capacity(
        rps=rps,
        authorizer_concurrency=round(rps * mean_ms / 1000, 2),
        keys_table_read_units_per_second=round(rps * refresh * read_units, 1),
        keys_hottest_partition_read_units=round(instances(rps) / facts.authorizer_cache_ttl_seconds * read_units, 1),
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
