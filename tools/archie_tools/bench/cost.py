"""`make cost`: what a million authorized requests cost, what a million refused ones cost, what a stack costs a
month whatever its traffic, and how far each resource stretches: from the template and from what the local stack
writes (tools/archie_tools/bench/cost_measure.py), at list prices with stated assumptions
(tools/archie_tools/bench/cost_model.py).

Prints the tables, then the capacity table; the last line is one JSON object: `usd_per_million_requests` (0%
API Gateway cache hits, the full per-request audit, API Gateway's own fee excluded), the same at 90% hits and
with API Gateway's fee, `refused_usd_per_million`, the fixed monthly costs, the figures by request rate, the
breakdowns and every input.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Sequence

from archie_keys.aws.audit_writer import AUDIT_SHARDS
from archie_tools.bench.cost_accepted import estimate
from archie_tools.bench.cost_capacity import Capacity, capacity
from archie_tools.bench.cost_fixed import monthly_fixed, per_key_monthly
from archie_tools.bench.cost_measure import measure
from archie_tools.bench.cost_model import (
    ACCESS_LOG_STREAMS,
    ACTIVE_KEYS,
    API_GATEWAY_REST_TIERS,
    CAPACITY_RPS,
    PRICE_DATE,
    PRICE_REGION,
    REFERENCE_RPS,
    REFUSED_MIX,
    REVOKED_KEYS,
    SECONDS_PER_MONTH,
    ZIPF_EXPONENT,
    Line,
    api_gateway_usd_per_million,
    as_json,
    rounded,
    zipf_shares,
)
from archie_tools.bench.cost_refused import estimate_refused
from archie_tools.bench.cost_regions import PRIMARY, flush_usd, monthly, per_million
from archie_tools.bench.cost_template import inventory, template_facts
from archie_tools.bench.cost_webhooks import delivery_costs, event_costs

FIRST_TIER = API_GATEWAY_REST_TIERS[0][1]


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


def lines_table(lines: list[Line], unit: str, total_note: str) -> str:
    rows = [("component", unit, "how")] + [(line.name, f"{line.usd:.4f}", line.note) for line in lines]
    rows.append(("total", f"{sum(line.usd for line in lines):.4f}", total_note))
    return table(rows)


def usd_text(usd: float) -> str:
    if usd == 0:
        return "$0"  # free (usage plans, API keys), not a rounding of something small
    return f"${usd:.2f}" if usd >= 0.01 else f"${usd:.1e}"


def mix_text() -> str:
    return ", ".join(f"{share:.0%} {kind}" for kind, share in REFUSED_MIX.items())


def capacity_rows(capacities: list[Capacity], by_rate: dict[str, dict[str, float]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        (
            "requests/s",
            "$/M",
            "+ API GW $/M",
            "+ fixed $/M",
            "authorizer concurrency",
            "KeysTable RCU/s (hottest partition)",
            "AuditTable WCU/s (hottest partition)",
            "ingest invocations/s (concurrency)",
            "audit lag: environment / key",
        )
    ]
    for c in capacities:
        figures = by_rate[str(c.rps)]
        rows.append(
            (
                f"{c.rps:,}",
                f"{figures['usd_per_million']:.3f}",
                f"{figures['with_api_gateway']:.3f}",
                f"{figures['all_in']:.3f}",
                f"{c.authorizer_concurrency}",
                f"{c.keys_table_read_units_per_second} ({c.keys_hottest_partition_read_units})",
                f"{c.audit_write_units_per_second} ({c.audit_hottest_partition_write_units})",
                f"{c.ingest_invocations_per_second} ({c.ingest_concurrency})",
                f"~{c.audit_lag_environment_seconds:.0f} s / ~{c.audit_lag_key_seconds:.0f} s",
            )
        )
    return rows


def limits_rows(top: Capacity, reserved: int) -> list[tuple[str, ...]]:
    return [
        ("what", f"at {top.rps:,}/s", "AWS limit it approaches", "past the limit"),
        (
            "authorizer concurrency",
            f"{top.authorizer_concurrency}",
            f"AuthorizerReservedConcurrency ({reserved}); account 1,000 by default",
            "raise the parameter (and the account quota); raise ReauthorizeEvery to serve more from the cache",
        ),
        (
            "KeysTable hottest partition",
            f"{top.keys_hottest_partition_read_units} RCU/s",
            "3,000 RCU/s per partition",
            "the hottest key is re-read by each warm instance once a second: raise AUTHORIZER_CACHE_TTL_SECONDS",
        ),
        (
            "AuditTable hottest partition",
            f"{top.audit_hottest_partition_write_units} WCU/s",
            "1,000 WCU/s per partition",
            "the compactor's own pace for a hot key's blocks (800 WCU/s a partition); "
            "raise AUDIT_SHARDS to spread wider",
        ),
        (
            "one key's audit (compactor)",
            f"hottest key {zipf_shares()[0] * top.rps:,.0f} requests/s",
            f"1,000 WCU/s per partition, {AUDIT_SHARDS} partitions a key: "
            f"~{top.one_key_max_requests_per_second:,.0f}/s",
            "raise AUDIT_SHARDS; the compactor paces each partition at 800 WCU/s (app.compaction_writes)",
        ),
        (
            "ingest",
            f"{top.ingest_invocations_per_second}/s, {top.ingest_concurrency} concurrent",
            "account concurrency; 2 subscription filters per log group",
            "reserve concurrency for the ingest; one log group per API stage keeps filters free",
        ),
    ]


def main() -> int:
    out = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the handlers' own lines, for the whole run
    facts, stack = template_facts(), inventory()
    measured = measure()
    cold, warm = estimate(REFERENCE_RPS, 0.0, facts, measured), estimate(REFERENCE_RPS, 0.9, facts, measured)
    refused = estimate_refused(REFERENCE_RPS, facts, measured)
    legacy = estimate_refused(REFERENCE_RPS, facts, measured, legacy_keys_accepted=True)
    fixed, per_key = monthly_fixed(facts, stack, measured), per_key_monthly(facts, measured)
    fixed_total = sum(line.usd for line in fixed)

    def say(text: str = "") -> None:
        print(text, file=out)

    say(
        f"Cost per million authorized requests at {REFERENCE_RPS:,} requests/s over {ACTIVE_KEYS:,} active keys "
        f"(Zipf {ZIPF_EXPONENT}), list prices {PRICE_REGION} {PRICE_DATE}:\n"
    )
    rows: list[tuple[str, ...]] = [("component", "0% hits $/M", "90% hits $/M", "how")]
    for a, b in zip(cold.lines, warm.lines, strict=True):
        rows.append((a.name, f"{a.usd:.4f}", f"{b.usd:.4f}", a.note))
    rows.append(("total", f"{cold.total:.4f}", f"{warm.total:.4f}", "API Gateway's own request fee excluded"))
    rows.append(
        (
            "total with API Gateway",
            f"{cold.total + FIRST_TIER:.4f}",
            f"{warm.total + FIRST_TIER:.4f}",
            f"its REST fee at its first tier, ${FIRST_TIER:.2f}/M (an account's first 333 million a month)",
        )
    )
    say(table(rows))
    say(
        f"\nA million refused requests at {REFERENCE_RPS:,}/s on their own ({mix_text()}; the revoked over "
        f"{REVOKED_KEYS} keys); API Gateway bills none of them:\n"
    )
    say(lines_table(refused.lines, "$/M", "API Gateway's fee: none (it does not bill refused requests)"))
    say(
        "In an environment still accepting keys of the first, untagged format (legacy_keys: accept), a forged key "
        f"is a GetItem and an argon2 verify: ${legacy.total:.4f} per million refused requests."
    )
    say("\nFixed costs a month, whatever the traffic (the template's default parameters):\n")
    say(lines_table(fixed, "$/month", f"${fixed_total * 12:,.0f} a year"))
    deliveries, key_events = delivery_costs(), event_costs()
    say("\nWebhooks: a million deliveries that succeed at once, and a million key events (whatever their webhooks):\n")
    say(
        lines_table(
            deliveries, "$/M deliveries", "a failed attempt costs a receive, a visibility change, an invocation"
        )
    )
    say(lines_table(key_events, "$/M events", "each matching webhook adds a delivery"))
    say("\nPer key and month: " + "; ".join(f"{line.name} {usd_text(line.usd)} ({line.note})" for line in per_key))
    second_fixed, second = monthly(facts, stack, measured)
    replicated = per_million(REFERENCE_RPS, facts, measured, second)
    flush = flush_usd(second, facts)
    say(
        f"\nA second region (Regions={PRIMARY['Regions']}, docs/regions.md): what replication adds per million "
        f"authorized requests at {REFERENCE_RPS:,}/s, and a month; requests served there cost what they cost above:\n"
    )
    say(lines_table(replicated, "$/M", "beside the tables above, whichever region serves the requests"))
    say(lines_table(second_fixed, "$/month", f"${sum(line.usd for line in second_fixed) * 12:,.0f} a year"))
    say(
        f"Capacity: a replicated revocation costs each other region's consumer ~${flush:.1e} and one coalesced "
        "FlushStageAuthorizersCache per stage (at most one a second per stage); one concurrent batch per stream "
        "shard; replicated writes draw on the replica's partitions as local ones do (1,000 WCU/s each); each "
        "region reserves its own AuthorizerReservedConcurrency for the requests it serves."
    )
    capacities = [capacity(rps, facts, measured) for rps in CAPACITY_RPS]
    by_rate = {}
    for rps in CAPACITY_RPS:
        dollars = estimate(rps, 0.0, facts, measured).total
        millions = rps * SECONDS_PER_MONTH / 1e6
        gateway = api_gateway_usd_per_million(millions * 1e6)
        by_rate[str(rps)] = {
            "usd_per_million": round(dollars, 4),
            "api_gateway_usd_per_million": round(gateway, 4),
            "with_api_gateway": round(dollars + gateway, 4),
            "all_in": round(dollars + gateway + fixed_total / millions, 4),
            "usd_per_month": round(dollars * millions + fixed_total, 2),
            "usd_per_month_with_api_gateway": round((dollars + gateway) * millions + fixed_total, 2),
        }
    say(
        "\nCapacity and cost by rate (0% cache hits; key popularity Zipf 1.0 over 1,000 keys). + API GW: its REST "
        "fee at that month's volume, across its tiers; + fixed: that and the fixed costs spread over the month:\n"
    )
    say(table(capacity_rows(capacities, by_rate)))
    say("\n" + table(limits_rows(capacities[-1], facts.reserved_authorizer_concurrency)))
    say(
        f"Assumptions: deliveries of ~1 s from {ACCESS_LOG_STREAMS} access-log streams; "
        "see tools/archie_tools/bench/cost_model.py."
    )
    slower = dataclasses.replace(facts, arrival_bucket_seconds=300.0)
    quiet = {str(rps): round(estimate(rps, 0.0, slower, measured).total, 4) for rps in CAPACITY_RPS}
    say(
        "With AuditArrivalBucketSeconds=300 (keys' view ~10 minutes behind): "
        + ", ".join(f"${quiet[str(rps)]:.3f}/M at {rps:,}/s" for rps in CAPACITY_RPS)
    )
    result = {
        "usd_per_million_requests": round(cold.total, 4),
        "usd_per_million_requests_90pct_cache_hits": round(warm.total, 4),
        "usd_per_million_requests_with_api_gateway": round(cold.total + FIRST_TIER, 4),
        "api_gateway_usd_per_million": FIRST_TIER,
        "refused_usd_per_million": round(refused.total, 4),
        "refused_usd_per_million_legacy_keys_accepted": round(legacy.total, 4),
        "refused_mix": REFUSED_MIX,
        "reference_requests_per_second": REFERENCE_RPS,
        "fixed_usd_per_month": round(fixed_total, 2),
        "fixed_breakdown": {line.name: round(line.usd, 4) for line in fixed},
        "webhooks": {
            "usd_per_million_deliveries": round(sum(line.usd for line in deliveries), 4),
            "usd_per_million_key_events": round(sum(line.usd for line in key_events), 4),
            "deliveries_breakdown": {line.name: round(line.usd, 4) for line in deliveries},
        },
        "per_key_usd_per_month": {line.name: float(f"{line.usd:.3g}") for line in per_key},
        "second_region": {
            "usd_per_million_requests": round(sum(line.usd for line in replicated), 4),
            "breakdown": {line.name: round(line.usd, 5) for line in replicated},
            "fixed_usd_per_month": round(sum(line.usd for line in second_fixed), 2),
            "fixed_breakdown": {line.name: round(line.usd, 4) for line in second_fixed},
            "revocation_flush_usd": float(f"{flush:.3g}"),
        },
        "breakdown": {line.name: round(line.usd, 5) for line in cold.lines},
        "breakdown_90pct_cache_hits": {line.name: round(line.usd, 5) for line in warm.lines},
        "refused_breakdown": {line.name: round(line.usd, 5) for line in refused.lines},
        "usd_per_million_by_rate": {rps: figures["usd_per_million"] for rps, figures in by_rate.items()},
        "by_rate": by_rate,
        "usd_per_million_by_rate_with_300s_buckets": quiet,
        "capacity": [as_json(c) for c in capacities],
        "template": as_json(facts),
        "inventory": {
            "alarms": len(stack.alarms),
            "alarm_metrics": sum(alarm.metrics for alarm in stack.alarms),
            "custom_metrics": stack.custom_metrics,
            "unpublished_metrics": stack.unpublished_metrics,
            "dashboards": stack.dashboards,
            "secrets": stack.secrets,
            "schedules_seconds": stack.schedules,
            "web_acls": stack.web_acls,
        },
        "measured": rounded(as_json(measured)),
        "prices": {"region": PRICE_REGION, "date": PRICE_DATE},
    }
    print(json.dumps(result), file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
