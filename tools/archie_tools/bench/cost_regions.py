"""`make cost`, a second region (issue 22 point 8; docs/regions.md): what one more region of `Regions` adds to
the bill and to the load, beyond the requests it serves (which cost there what the tables above say).

Per million authorized requests, wherever they are served:
- replicated writes: every write to the keys table (the authorizer's witness, the compactor's last_used_at) is
  written again in each other replica, billed there in replicated write request units (rWRU);
- cross-region transfer: each of those items leaves its region once per other replica;
- stream reads: none billed (Lambda's reads of a DynamoDB stream for an event source mapping are free);
- the consumers: each region's ReplicationFlushFunction receives every change of the table, its own region's
  and the replicated ones, in one invocation per poll of a shard that found records.

A month, whatever the traffic: the second region's own stack (monthly_fixed on the template as that region
deploys it: its alarms, the consumer's among them, its dashboard, canary, compactor; no secrets of its own),
the pepper's and the tag keys' replicas there, and what the primary adds (the replication alarms).
"""

from __future__ import annotations

from archie_local.template import REGION
from archie_tools.bench.cost_accepted import _per_key_per_ttl, audit_writes_per_request
from archie_tools.bench.cost_fixed import monthly_fixed
from archie_tools.bench.cost_model import (
    DATA_TRANSFER_INTER_REGION_PER_GB,
    DYNAMODB_PER_REPLICATED_WRITE_UNIT,
    LAMBDA_PER_GB_SECOND,
    LAMBDA_PER_REQUEST,
    REPLICATION_BATCH_MS,
    REPLICATION_FLUSH_SECONDS,
    SECRETS_MANAGER_PER_SECRET_MONTH,
    STREAM_POLLS_PER_SECOND_PER_SHARD,
    STREAM_SHARDS,
    WITNESS_ITEM_BYTES,
    Line,
    Measured,
    TemplateFacts,
)
from archie_tools.bench.cost_template import Inventory, inventory

CONSUMER = "ReplicationFlushFunction"
OTHER_REGION = "eu-west-1" if REGION != "eu-west-1" else "us-east-1"
_ACCOUNT_ARN = "arn:aws:{service}:{region}:123456789012:{rest}"
# The parameters of the stacks of two regions (docs/regions.md, Deploying two regions): the primary here.
PRIMARY = {"Regions": f"{REGION},{OTHER_REGION}"}
SECOND = {
    "Regions": f"{OTHER_REGION},{REGION}",
    "KeysTableStreamArn": _ACCOUNT_ARN.format(
        service="dynamodb", region=REGION, rest="table/archie-keys-keys/stream/2027-01-01T00:00:00.000"
    ),
    "PrimaryPepperSecretArn": _ACCOUNT_ARN.format(
        service="secretsmanager", region=OTHER_REGION, rest="secret:archie-keys-pepper-AbCdEf"
    ),
    "PrimaryKeyTagSecretArn": _ACCOUNT_ARN.format(
        service="secretsmanager", region=OTHER_REGION, rest="secret:archie-keys-tags-AbCdEf"
    ),
}


def keys_table_writes_per_request(rps: float, facts: TemplateFacts, measured: Measured) -> dict[str, float]:
    """Keys-table writes per authorized request (0% cache hits, as the headline), by kind: what replicates."""
    witness = _per_key_per_ttl(max(1.0, rps), facts.authorizer_witness_seconds) / max(1.0, rps)
    return {
        "witness": min(1.0, witness),
        "last_used_at": audit_writes_per_request(rps, facts, measured)["last_used_at updates"],
    }


def per_million(rps: float, facts: TemplateFacts, measured: Measured, second: Inventory) -> list[Line]:
    """What a second region adds per million authorized requests (the first region's traffic and its own)."""
    writes = keys_table_writes_per_request(rps, facts, measured)
    units = sum(writes.values())  # each item under 1 KB: one write unit each
    moved = writes["witness"] * WITNESS_ITEM_BYTES + writes["last_used_at"] * measured.key_item_bytes
    records_per_second = rps * units
    invocations = min(records_per_second, STREAM_POLLS_PER_SECOND_PER_SHARD * STREAM_SHARDS)
    memory_gb = second.function_memory_mb[CONSUMER] / 1024
    per_invocation = (
        LAMBDA_PER_REQUEST + memory_gb * REPLICATION_BATCH_MS / 1000 * LAMBDA_PER_GB_SECOND[facts.architecture]
    )
    return [
        Line(
            "replicated writes (rWRU)",
            units * DYNAMODB_PER_REPLICATED_WRITE_UNIT * 1e6,
            f"{units:.4f} keys-table writes per request (witness {writes['witness']:.4f}, last_used_at "
            f"{writes['last_used_at']:.4f}), each billed again in the other replica",
        ),
        Line(
            "cross-region transfer",
            moved / 1e9 * DATA_TRANSFER_INTER_REGION_PER_GB * 1e6,
            f"~{moved:.0f} bytes replicated per request at ${DATA_TRANSFER_INTER_REGION_PER_GB:.2f}/GB",
        ),
        Line("stream reads", 0.0, "free: Lambda's GetRecords on a DynamoDB stream for a trigger are not billed"),
        Line(
            "replication consumers",
            2 * invocations * per_invocation / rps * 1e6,
            f"each region's {CONSUMER}: ~{invocations:.1f} invocations/s (one per poll of a shard with records, "
            f"{STREAM_POLLS_PER_SECOND_PER_SHARD}/s x {STREAM_SHARDS} shards at most), ~{REPLICATION_BATCH_MS:g} ms "
            f"at {second.function_memory_mb[CONSUMER]} MB for bookkeeping, which flushes nothing",
        ),
    ]


def monthly(facts: TemplateFacts, one: Inventory, measured: Measured) -> tuple[list[Line], Inventory]:
    """What a second region adds a month whatever the traffic, and the second region's inventory."""
    primary, second = inventory(overrides=PRIMARY), inventory(overrides=SECOND)

    def total(stack: Inventory) -> float:
        return sum(line.usd for line in monthly_fixed(facts, stack, measured))

    replicas = len(primary.secrets)
    alarms = len(second.alarms) - len(one.alarms)
    lines = [
        Line(
            "second region's stack",
            total(second),
            f"its own fixed costs ({len(second.alarms)} alarms, {alarms:+d} for the consumer; dashboard, canary, "
            "compactor, pollers, its replica's storage and PITR); no secrets of its own",
        ),
        Line(
            "replica secrets",
            replicas * SECRETS_MANAGER_PER_SECRET_MONTH,
            f"{replicas} replicas ({', '.join(primary.secrets)}) at ${SECRETS_MANAGER_PER_SECRET_MONTH:.2f} each",
        ),
        Line(
            "primary's replication",
            total(primary) - total(one),
            f"{len(primary.alarms) - len(one.alarms)} alarms more (ReplicationLatency, the consumer's)",
        ),
    ]
    return lines, second


def flush_usd(second: Inventory, facts: TemplateFacts) -> float:
    """One replicated revocation's flush in a region: the consumer waits out the instances' cache between
    its two coalesced flushes (FlushStageAuthorizersCache itself is free)."""
    memory_gb = second.function_memory_mb[CONSUMER] / 1024
    return LAMBDA_PER_REQUEST + memory_gb * REPLICATION_FLUSH_SECONDS * LAMBDA_PER_GB_SECOND[facts.architecture]
