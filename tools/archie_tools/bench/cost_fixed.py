"""What a stack costs a month whatever its traffic (`monthly_fixed`), and what each key adds
(`per_key_monthly`): the template's inventory (tools/archie_tools/bench/cost_template.py) at list prices, with what the
local stack measured of the runs that happen on a schedule (the canary's calls and lines, the compactor's)."""

from __future__ import annotations

from archie_tools.bench.cost_accepted import WARM_MS, cold_ms
from archie_tools.bench.cost_model import (
    API_GATEWAY_REST_TIERS,
    API_GATEWAY_USAGE_PLAN_KEY_MONTH,
    CANARY_RUN_SECONDS,
    CLOUDWATCH_ALARM_METRIC_MONTH,
    CLOUDWATCH_DASHBOARD_MONTH,
    CLOUDWATCH_HIGH_RES_ALARM_METRIC_MONTH,
    CLOUDWATCH_METRIC_MONTH,
    COMPACTOR_IDLE_RUN_SECONDS,
    DYNAMODB_PER_GB_MONTH,
    DYNAMODB_PER_READ_UNIT,
    DYNAMODB_PER_WRITE_UNIT,
    DYNAMODB_PITR_PER_GB_MONTH,
    ITEM_STORAGE_OVERHEAD_BYTES,
    KEYS_TABLE_ITEMS,
    LAMBDA_PER_GB_SECOND,
    LAMBDA_PER_REQUEST,
    LOGS_PER_GB_INGESTED,
    SCHEDULER_PER_INVOCATION,
    SECONDS_PER_MONTH,
    SECRETS_MANAGER_PER_CALL,
    SECRETS_MANAGER_PER_SECRET_MONTH,
    WAF_PER_REQUEST,
    WAF_PER_RULE_MONTH,
    WAF_PER_WEB_ACL_MONTH,
    Line,
    Measured,
    TemplateFacts,
    log_ingestion,
)
from archie_tools.bench.cost_template import Inventory
from archie_tools.bench.cost_webhooks import idle_monthly

CANARY, COMPACTOR = "CanaryFunction", "AuditCompactFunction"


def _lambda(memory_mb: int, seconds: float, facts: TemplateFacts) -> float:
    return LAMBDA_PER_REQUEST + memory_mb / 1024 * seconds * LAMBDA_PER_GB_SECOND[facts.architecture]


def _logs(stdout_bytes: float, lines: float, platform: bool) -> float:
    return log_ingestion(stdout_bytes, lines, platform) / 1e9 * LOGS_PER_GB_INGESTED


def canary_run(facts: TemplateFacts, inventory: Inventory, measured: Measured) -> float:
    """One synthetic canary run: its Lambda, the secrets its instance re-reads (its runs are five minutes
    apart, the secrets' cache lives five), its DynamoDB calls as measured (the authorizer's for its two calls
    included), its requests through API Gateway (the refused one is not billed) and the authorizer calls they
    make, its schedule's invocation and its log lines."""
    authorizer_gb_second = facts.authorizer_memory_mb / 1024 * LAMBDA_PER_GB_SECOND[facts.architecture] / 1000
    return (
        _lambda(inventory.function_memory_mb[CANARY], CANARY_RUN_SECONDS, facts)
        + inventory.function_secrets[CANARY] * SECRETS_MANAGER_PER_CALL
        + measured.canary_read_units * DYNAMODB_PER_READ_UNIT
        + measured.canary_write_units * DYNAMODB_PER_WRITE_UNIT
        + measured.canary_api_requests * API_GATEWAY_REST_TIERS[0][1] / 1e6
        + 2 * (LAMBDA_PER_REQUEST + max(cold_ms(), WARM_MS) * authorizer_gb_second)
        + SCHEDULER_PER_INVOCATION
        + _logs(measured.canary_stdout_bytes, measured.canary_stdout_lines, inventory.function_platform_lines[CANARY])
    )


def compactor_run(facts: TemplateFacts, inventory: Inventory, measured: Measured) -> float:
    """One compactor run beyond its records (which the per-request figures count): an idle run's Lambda,
    reads and writes, its schedule's invocation, and the lines a run logs."""
    return (
        _lambda(inventory.function_memory_mb[COMPACTOR], COMPACTOR_IDLE_RUN_SECONDS, facts)
        + measured.compactor_idle_read_units * DYNAMODB_PER_READ_UNIT
        + measured.compactor_idle_write_units * DYNAMODB_PER_WRITE_UNIT
        + SCHEDULER_PER_INVOCATION
        + _logs(
            measured.compactor_stdout_bytes,
            measured.compactor_stdout_lines,
            inventory.function_platform_lines[COMPACTOR],
        )
    )


def monthly_fixed(facts: TemplateFacts, inventory: Inventory, measured: Measured) -> list[Line]:
    standard = sum(alarm.metrics for alarm in inventory.alarms if not alarm.high_resolution)
    high = sum(alarm.metrics for alarm in inventory.alarms if alarm.high_resolution)
    lines = [
        Line(
            "alarms",
            standard * CLOUDWATCH_ALARM_METRIC_MONTH + high * CLOUDWATCH_HIGH_RES_ALARM_METRIC_MONTH,
            f"{len(inventory.alarms)} alarms reading {standard} metrics at standard resolution, {high} at high "
            "(an alarm on metric math pays for each metric it reads)",
        ),
        Line(
            "custom metrics",
            len(inventory.custom_metrics) * CLOUDWATCH_METRIC_MONTH,
            f"{len(inventory.custom_metrics)} published (EMF names x dimension sets, metric filters); at most: each "
            "is billed for the hours it is published, an incident's rarely are",
        ),
        Line(
            "dashboard",
            inventory.dashboards * CLOUDWATCH_DASHBOARD_MONTH,
            f"{inventory.dashboards} CloudWatch dashboard (an account's first 3 are free; not assumed)",
        ),
        Line(
            "secrets",
            len(inventory.secrets) * SECRETS_MANAGER_PER_SECRET_MONTH,
            f"{len(inventory.secrets)} of the stack ({', '.join(inventory.secrets)}); delivered ones are per key",
        ),
    ]
    if CANARY in inventory.schedules:
        runs = SECONDS_PER_MONTH / inventory.schedules[CANARY]
        lines.append(
            Line(
                "synthetic canary",
                runs * canary_run(facts, inventory, measured),
                f"{runs:,.0f} runs of ~{CANARY_RUN_SECONDS:g} s, each {measured.canary_write_units:.0f} write and "
                f"{measured.canary_read_units:.0f} read units, {inventory.function_secrets[CANARY]} secret reads, "
                f"{measured.canary_api_requests:.0f} billed request, {measured.canary_stdout_bytes:.0f} bytes logged",
            )
        )
    if COMPACTOR in inventory.schedules:
        runs = SECONDS_PER_MONTH / inventory.schedules[COMPACTOR]
        lines.append(
            Line(
                "audit compactor schedule",
                runs * compactor_run(facts, inventory, measured),
                f"{runs:,.0f} runs of ~{COMPACTOR_IDLE_RUN_SECONDS:g} s when idle, each "
                f"{measured.compactor_idle_read_units:g} read units, {measured.compactor_stdout_bytes:.0f} bytes logged"
                + (" and START/END/REPORT" if inventory.function_platform_lines[COMPACTOR] else ""),
            )
        )
    lines.append(idle_monthly())
    size_gb = KEYS_TABLE_ITEMS * (measured.key_item_bytes + ITEM_STORAGE_OVERHEAD_BYTES) / 1e9
    lines.append(
        Line(
            "keys table: storage and point-in-time recovery",
            size_gb * (DYNAMODB_PER_GB_MONTH + (DYNAMODB_PITR_PER_GB_MONTH if facts.keys_pitr else 0)),
            f"{KEYS_TABLE_ITEMS:,} keys, {size_gb * 1000:.0f} MB",
        )
    )
    lines.append(
        Line(
            "management API web ACL",
            inventory.web_acls * WAF_PER_WEB_ACL_MONTH + inventory.web_acl_rules * WAF_PER_RULE_MONTH,
            (
                f"{inventory.web_acls} web ACL, {inventory.web_acl_rules} rules (and ${WAF_PER_REQUEST * 1e6:.2f} per "
                "million management requests)"
            )
            if inventory.web_acls
            else f"off (ManagementApiRateLimitPerIp=0); on: ${WAF_PER_WEB_ACL_MONTH:g} + "
            f"${WAF_PER_RULE_MONTH:g} a rule",
        )
    )
    return lines


def per_key_monthly(facts: TemplateFacts, measured: Measured) -> list[Line]:
    """What one more key adds a month (issue 21: its limits and allow-list here; webhooks belong here too)."""
    stored_gb = (measured.key_item_bytes + ITEM_STORAGE_OVERHEAD_BYTES) / 1e9
    return [
        Line(
            "delivered secret",
            SECRETS_MANAGER_PER_SECRET_MONTH,
            "a key created or rolled with secret_name: its Secrets Manager secret",
        ),
        Line(
            "key record",
            stored_gb * (DYNAMODB_PER_GB_MONTH + (DYNAMODB_PITR_PER_GB_MONTH if facts.keys_pitr else 0)),
            f"{measured.key_item_bytes + ITEM_STORAGE_OVERHEAD_BYTES:.0f} bytes stored"
            + (" and backed up (PITR)" if facts.keys_pitr else ""),
        ),
        Line(
            "rate limits and quota",
            API_GATEWAY_USAGE_PLAN_KEY_MONTH,
            "a key with limits: its rotation chain's API key in a usage plan, enforced by API Gateway (no "
            "request passes the authorizer for it); 3-6 control-plane calls when created or rolled, none per "
            "request; a key without limits shares one API key and makes no call",
        ),
        Line(
            "allow-list",
            0.0,
            "checked by the authorizer on the decision it makes anyway; its cost is cache hits lost to the "
            "source address in the cache key (docs/limits.md: make bench-ip-cache)",
        ),
    ]
