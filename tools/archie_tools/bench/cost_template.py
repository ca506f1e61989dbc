"""What the template says that costs money, read from template.yaml (never restated): per request
(`template_facts`) and per month (`inventory`: the alarms, custom metrics, dashboards, secrets, schedules and web
ACLs CloudFormation creates with the template's default parameters, as a production stack is deployed).

Custom metrics are what is published: every metric aws/metrics.py writes (each metric name with each of its EMF
dimension sets, and Refused once per refusal reason) and every metric filter's metric. The metrics the
template's alarms and dashboard read in a namespace of ours are listed too: one read but never published (an
alarm reading a switched-off API's metric) costs its alarm, not a metric."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from archie_keys.aws.metrics import METRIC_NAMES, REFUSAL_REASONS, DecisionMetrics, MetricLines
from archie_local.template import (
    REGION,
    STACK_NAME,
    Resolver,
    evaluate_conditions,
    load_template,
    parameter_defaults,
    resources_of_type,
)
from archie_tools.bench.cost_model import TemplateFacts

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}


@dataclass(frozen=True)
class Alarm:
    name: str
    metrics: int  # the metrics it reads: an alarm on metric math pays for each
    high_resolution: bool  # a period under 60 s


@dataclass(frozen=True)
class Inventory:
    alarms: list[Alarm]
    custom_metrics: list[str]  # published: namespace/name{dimension=value,...}
    unpublished_metrics: list[str]  # read by an alarm or the dashboard, never published with these parameters
    dashboards: int
    secrets: list[str]  # the stack's own secrets (logical ids)
    schedules: dict[str, float]  # function -> seconds between runs of its recurring schedule
    function_memory_mb: dict[str, int]
    function_secrets: dict[str, int]  # secrets each function may read
    function_platform_lines: dict[str, bool]
    web_acls: int
    web_acl_rules: int


def production(template: dict[str, Any], overrides: dict[str, str] | None = None) -> Resolver:
    """The template's conditions with its default parameters (and `overrides`, e.g. a region of several):
    what a production deploy creates."""
    resolver = Resolver(parameter_defaults(template, overrides))
    evaluate_conditions(template, resolver)
    return resolver


def _function_property(template: dict[str, Any], name: str, prop: str, default: Any = None) -> Any:
    globals_fn = template["Globals"]["Function"]
    return template["Resources"][name]["Properties"].get(prop, globals_fn.get(prop, default))


def platform_lines(template: dict[str, Any], name: str) -> bool:
    """Whether Lambda's START/END/REPORT lines reach the function's log group: unless it logs JSON with its
    system log level at WARN or above."""
    config = _function_property(template, name, "LoggingConfig", {})
    return not (config.get("LogFormat") == "JSON" and config.get("SystemLogLevel") in ("WARN", "ERROR"))


def secrets_read(template: dict[str, Any], name: str) -> int:
    """Secrets a function may read: the resources of its GetSecretValue statements."""
    count = 0
    for policy in template["Resources"][name]["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement.get("Action", [])
            if "secretsmanager:GetSecretValue" in ([actions] if isinstance(actions, str) else actions):
                resources = statement.get("Resource", [])
                count += len(resources) if isinstance(resources, list) else 1
    return count


def schedule_seconds(expression: str) -> float:
    match = _RATE.match(expression)
    if match is None:
        raise ValueError(f"a schedule make cost cannot price: {expression}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def template_facts(template: dict[str, Any] | None = None) -> TemplateFacts:
    template = template or load_template()
    resources, parameters = template["Resources"], template["Parameters"]
    globals_fn = template["Globals"]["Function"]
    audit = resources["AuditTable"]["Properties"]
    environment = globals_fn.get("Environment", {}).get("Variables", {})

    def memory(name: str) -> int:
        return int(_function_property(template, name, "MemorySize", 128))

    def pitr(table: str) -> bool:
        spec = resources[table]["Properties"].get("PointInTimeRecoverySpecification", {})
        return bool(spec.get("PointInTimeRecoveryEnabled"))

    return TemplateFacts(
        authorizer_memory_mb=memory("AuthorizerFunction"),
        ingest_memory_mb=memory("AuditIngestFunction"),
        compactor_memory_mb=memory("AuditCompactFunction"),
        architecture=globals_fn.get("Architectures", ["x86_64"])[0],
        tracing_default_on=parameters["Tracing"]["Default"] == "Active",
        authorizer_platform_lines=platform_lines(template, "AuthorizerFunction"),
        ingest_platform_lines=platform_lines(template, "AuditIngestFunction"),
        log_retention_days=int(parameters["LogRetentionDays"]["Default"]),
        audit_retention_days=int(parameters["AuditRetentionDays"]["Default"]),
        arrival_bucket_seconds=float(parameters["AuditArrivalBucketSeconds"]["Default"]),
        authorizer_cache_ttl_seconds=float(environment["AUTHORIZER_CACHE_TTL_SECONDS"]),
        authorizer_result_ttl_seconds=float(parameters["AuthorizerResultTtl"]["Default"]),
        authorizer_witness_seconds=float(environment["AUTHORIZER_WITNESS_SECONDS"]),
        pepper_max_age_seconds=float(environment["PEPPER_MAX_AGE_SECONDS"]),
        authorizer_secrets=secrets_read(template, "AuthorizerFunction"),
        audit_indexes={
            index["IndexName"]: index["Projection"]["ProjectionType"] for index in audit["GlobalSecondaryIndexes"]
        },
        audit_pitr=pitr("AuditTable"),
        keys_pitr=pitr("KeysTable"),
        reserved_authorizer_concurrency=int(parameters["AuthorizerReservedConcurrency"]["Default"]),
    )


def _alarm(name: str, properties: dict[str, Any]) -> Alarm:
    stats = [m["MetricStat"] for m in properties.get("Metrics", []) if "MetricStat" in m]
    periods = [int(s["Period"]) for s in stats] or [int(properties["Period"])]
    return Alarm(name, len(stats) or 1, min(periods) < 60)


def _metric_id(namespace: str, name: str, dimensions: list[tuple[str, str]]) -> str:
    return f"{namespace}/{name}{{{','.join(f'{k}={v}' for k, v in sorted(dimensions))}}}"


def _ours(namespace: str) -> bool:
    return not namespace.startswith("AWS/")


def read_metrics(template: dict[str, Any], resolver: Resolver) -> set[str]:
    """The custom metrics the template's alarms and dashboards read."""
    named: set[str] = set()
    for spec in resources_of_type(template, "AWS::CloudWatch::Alarm", resolver).values():
        properties = spec["Properties"]
        metrics = [m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m]
        metrics = metrics or [{k: properties.get(k) for k in ("Namespace", "MetricName", "Dimensions")}]
        for metric in metrics:
            namespace = str(resolver.resolve(metric["Namespace"]))
            if _ours(namespace):
                dims = [(d["Name"], str(resolver.resolve(d["Value"]))) for d in metric.get("Dimensions") or []]
                named.add(_metric_id(namespace, metric["MetricName"], dims))
    for spec in resources_of_type(template, "AWS::CloudWatch::Dashboard", resolver).values():
        body = spec["Properties"]["DashboardBody"]["Fn::Sub"]
        body = body[0] if isinstance(body, list) else body  # [text, variables]: the names the rows need stay names
        body = body.replace("${AWS::StackName}", STACK_NAME).replace("${AWS::Region}", REGION)
        for widget in json.loads(re.sub(r"\$\{([^}]+)\}", r"\1", body))["widgets"]:
            for row in widget.get("properties", {}).get("metrics", []):
                values = [v for v in row if isinstance(v, str)]
                if values and _ours(values[0]):
                    pairs = list(zip(values[2::2], values[3::2], strict=True))
                    named.add(_metric_id(values[0], values[1], pairs))
    return named


def filter_metrics(template: dict[str, Any], resolver: Resolver) -> set[str]:
    """The metrics the template's metric filters publish (no dimensions)."""
    return {
        _metric_id(str(resolver.resolve(transformation["MetricNamespace"])), transformation["MetricName"], [])
        for spec in resources_of_type(template, "AWS::Logs::MetricFilter", resolver).values()
        for transformation in spec["Properties"]["MetricTransformations"]
    }


def published_metrics(namespace: str) -> set[str]:
    """What aws/metrics.py publishes: every metric with each of its EMF dimension sets."""
    documents: list[dict[str, Any]] = []
    lines = MetricLines(namespace, STACK_NAME, write=lambda line: documents.append(json.loads(line)))
    documents += [lines.document(name, 0) for name in METRIC_NAMES]
    decisions = DecisionMetrics(lines)
    for reason in REFUSAL_REASONS:
        decisions.refused(reason)
    published = set()
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    dims = [(d, str(document[d])) for d in dimension_set]
                    published.add(_metric_id(directive["Namespace"], metric["Name"], dims))
    return published


def inventory(template: dict[str, Any] | None = None, overrides: dict[str, str] | None = None) -> Inventory:
    template = template or load_template()
    resolver = production(template, overrides)
    functions = resources_of_type(template, "AWS::Serverless::Function", resolver)
    schedules = {
        name: schedule_seconds(event["Properties"]["ScheduleExpression"])
        for name, spec in functions.items()
        for event in spec["Properties"].get("Events", {}).values()
        if event["Type"] in ("Schedule", "ScheduleV2")
    }
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"]
    acls = resources_of_type(template, "AWS::WAFv2::WebACL", resolver)
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm", resolver)
    published = published_metrics(namespace) | filter_metrics(template, resolver)
    return Inventory(
        alarms=[_alarm(name, spec["Properties"]) for name, spec in alarms.items()],
        custom_metrics=sorted(published),
        unpublished_metrics=sorted(read_metrics(template, resolver) - published),
        dashboards=len(resources_of_type(template, "AWS::CloudWatch::Dashboard", resolver)),
        secrets=sorted(resources_of_type(template, "AWS::SecretsManager::Secret", resolver)),
        schedules=schedules,
        function_memory_mb={name: int(_function_property(template, name, "MemorySize", 128)) for name in functions},
        function_secrets={name: secrets_read(template, name) for name in functions},
        function_platform_lines={name: platform_lines(template, name) for name in functions},
        web_acls=len(acls),
        web_acl_rules=sum(len(spec["Properties"].get("Rules", [])) for spec in acls.values()),
    )
