"""Safe deploys and real alarms: every API reaches the authorizer through an alias a canary deployment shifts
and rolls back on alarm; every alarm notifies the required topic, fires on M of N unless one event already
needs a person, and links a runbook that exists; the signals an SRE needs are all alarmed; the sample API
and the canary are switches; recurring schedules are named per stack; the audit table has a cost ceiling."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from archie_local.logs import matches
from archie_local.template import REPO_ROOT, load_template
from tests.infrastructure.conftest import NoManagedPolicies, packaged
from tests.infrastructure.test_production import alarm_metrics, as_list
from tests.infrastructure.test_template import of_type

RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
ROLLBACK_ALARMS = {"AuthorizerErrorsAlarm", "AuthorizerForbiddenSpikeAlarm"}
# The alarms a single event fires, each because that one event already needs a person (the description
# says "one is enough"); every other alarm needs M of N periods.
ONE_IS_ENOUGH = {
    "AuditIngestDeadLetterQueueAlarm",
    "ExpiryFlushDeadLetterQueueAlarm",
    "ReplicationFlushDeadLetterQueueAlarm",
    "WebhookDeadLetterQueueAlarm",
    "AuditIngestDroppedEventsAlarm",
    "ExpiryFlushDroppedEventsAlarm",
    "UnflushedStagesAlarm",
    "SecretsNeverPromotedAlarm",
    "AuditBucketsSkippedAlarm",
    "BootstrapKeyUsedAlarm",  # the break-glass key: every use needs a person
}
# The signals issue 18 names, each with the alarm that watches it.
NEW_SIGNALS = {
    "AuditIngestEventAgeAlarm": ["AsyncEventAge"],
    "AuditSubscriptionDeliveryAlarm": ["DeliveryErrors", "DeliveryThrottling"],
    "AuditSilenceAlarm": ["IncomingLogEvents", "Count"],
    "ManagementApi429Alarm": ["ManagementApiTooManyRequests"],
    "AuthorizerForbiddenSpikeAlarm": ["ManagementApiForbidden", "SampleApiForbidden", "Count"],
    "SecretsNeverPromotedAlarm": ["SecretsUnpromoted"],
    "CanaryAlarm": ["CanaryProbe"],
}


def translated(template: dict[str, Any]) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        return transform(packaged(template), {"AWS::Region": "eu-west-1", "AWS::Partition": "aws"}, NoManagedPolicies())


def authorizer_resources(cloudformation: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in of_type(cloudformation, kind).items() if name.startswith("AuthorizerFunction")}


def test_every_api_calls_the_authorizer_through_its_alias_which_a_canary_deployment_shifts(cloudformation) -> None:
    resources = cloudformation["Resources"]
    ((alias_name, alias),) = authorizer_resources(cloudformation, "AWS::Lambda::Alias").items()
    assert alias["Properties"]["Name"] == "live"
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = resources[update["DeploymentGroupName"]["Ref"]]["Properties"]
    assert {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]} == ROLLBACK_ALARMS
    assert group["AlarmConfiguration"]["Enabled"] is True
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    assert group["ServiceRoleArn"] == {"Fn::GetAtt": ["AuthorizerDeploymentRole", "Arn"]}
    assert load_template()["Parameters"]["AuthorizerDeploymentType"]["Default"].startswith("Canary")
    # API Gateway invokes the alias, and may invoke only the alias: no permission on $LATEST.
    for name in ("ManagementApi", "SampleApi"):
        security = resources[name]["Properties"]["Body"]["securityDefinitions"]["KeyAuthorizer"]
        uri = security["x-amazon-apigateway-authorizer"]["authorizerUri"]
        assert uri["Fn::Sub"][1]["__FunctionArn__"] == {"Ref": alias_name}, name
    invokers = [
        p["Properties"]
        for p in of_type(cloudformation, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
        and "AuthorizerFunction" in json.dumps(p["Properties"]["FunctionName"])
    ]
    assert len(invokers) == 2 and all(p["FunctionName"] == {"Ref": alias_name} for p in invokers)
    output = cloudformation["Outputs"]["AuthorizerAliasArn"]
    assert output["Value"] == {"Ref": alias_name}
    assert output["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-AuthorizerAliasArn"}


def test_a_change_to_the_shared_layer_alone_publishes_a_new_authorizer_version() -> None:
    """The deciding code lives in the layer: a layer-only change that published no version would never reach
    the alias (or, worse, reach $LATEST only), so it must go through the canary like any other change."""
    before = load_template()
    after = copy.deepcopy(before)
    after["Resources"]["SharedLayer"]["Properties"]["ContentUri"] = "layers/shared-changed/"
    versions = [set(authorizer_resources(translated(template), "AWS::Lambda::Version")) for template in (before, after)]
    assert len(versions[0]) == len(versions[1]) == 1 and versions[0] != versions[1]


def test_codedeploy_may_move_only_the_authorizer_alias_and_read_only_its_rollback_alarms(cloudformation) -> None:
    role = cloudformation["Resources"]["AuthorizerDeploymentRole"]["Properties"]
    assert "ManagedPolicyArns" not in role  # not AWSCodeDeployRoleForLambda, which may move any alias
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "codedeploy.amazonaws.com"}
    (policy,) = role["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    for statement in statements:
        text = json.dumps(statement["Resource"])
        if "lambda:UpdateAlias" in as_list(statement["Action"]):
            assert "AuthorizerFunction" in text and "*" not in text.replace("}:*", "")
        else:
            assert as_list(statement["Action"]) == ["cloudwatch:DescribeAlarms"]
            assert {r["Fn::GetAtt"][0] for r in statement["Resource"]} == ROLLBACK_ALARMS


def runbook_of(alarm: dict[str, Any]) -> str | None:
    description = alarm["Properties"]["AlarmDescription"]
    text = description["Fn::Sub"] if isinstance(description, dict) else str(description)
    found = re.search(r"Runbook: \$\{RunbookBaseUrl\}/([a-z0-9-]+\.md)$", text)
    return found.group(1) if found else None


def test_every_alarm_links_a_runbook_that_exists(cloudformation) -> None:
    alarms = of_type(cloudformation, "AWS::CloudWatch::Alarm")
    missing = {name: runbook_of(alarm) for name, alarm in alarms.items()}
    missing = {name: page for name, page in missing.items() if page is None or not (RUNBOOKS / page).is_file()}
    assert missing == {}
    default = load_template()["Parameters"]["RunbookBaseUrl"]["Default"]
    assert default.endswith("/docs/runbooks") and default.startswith("https://")
    index = (RUNBOOKS / "README.md").read_text()  # the on-call's list: every alarm, why it fires when it does
    assert [name for name in alarms if f"`{name}`" not in index] == []


def test_the_runbook_check_catches_a_missing_link_or_page() -> None:
    def alarm(description: Any) -> dict[str, Any]:
        return {"Properties": {"AlarmDescription": description}}

    assert runbook_of(alarm("The authorizer failed.")) is None
    assert runbook_of(alarm({"Fn::Sub": "x. Runbook: ${RunbookBaseUrl}/no-such-page.md"})) == "no-such-page.md"
    assert not (RUNBOOKS / "no-such-page.md").exists()


def test_one_event_pages_only_where_it_already_needs_a_person(cloudformation) -> None:
    for name, alarm in of_type(cloudformation, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        needed = int(props.get("DatapointsToAlarm", props["EvaluationPeriods"]))
        if name in ONE_IS_ENOUGH:
            assert needed == 1 and "one is enough" in json.dumps(props["AlarmDescription"]), name
        else:
            assert needed >= 2 and int(props["EvaluationPeriods"]) >= needed, name


def test_every_signal_issue_18_names_is_alarmed(cloudformation) -> None:
    alarms = of_type(cloudformation, "AWS::CloudWatch::Alarm")
    for name, signals in NEW_SIGNALS.items():
        read = {metric["MetricName"] for metric in alarm_metrics(alarms[name])}
        assert set(signals) <= read, name
    ingest = {"Name": "FunctionName", "Value": {"Ref": "AuditIngestFunction"}}
    assert ingest in alarm_metrics(alarms["AuditIngestEventAgeAlarm"])[0]["Dimensions"]


def render_access_line(status: int, refusal: str = "-") -> str:
    """An access-log line as API Gateway writes it from the template's format ("-" for what is absent: the
    authorizer's refusal reason exists only on a refused key's request)."""
    line = load_template()["Resources"]["ManagementApi"]["Properties"]["AccessLogSetting"]["Format"]
    line = line.replace("$context.status", str(status)).replace("$context.apiId", "a1b2c3d4e5")
    line = line.replace("$context.authorizer.refusal", refusal)
    return re.sub(r"\$context\.[A-Za-z.]+", "-", line)


def test_the_access_log_metric_filters_count_exactly_the_status_they_name(cloudformation) -> None:
    filters = of_type(cloudformation, "AWS::Logs::MetricFilter")
    statuses = (200, 201, 401, 403, 404, 429, 500, 503)
    counted: dict[str, set[int]] = {}
    for metric_filter in filters.values():
        props = metric_filter["Properties"]
        (transform_,) = props["MetricTransformations"]
        found = {s for s in statuses if matches(props["FilterPattern"], render_access_line(s))}
        counted.setdefault(transform_["MetricName"], set()).update(found)
    assert counted == {
        "ManagementApiForbidden": {403},
        "SampleApiForbidden": {403},
        "ManagementApiTooManyRequests": {429},
    }
    # A refused key's 403 (the authorizer's Deny) is no sign of a bad deployment: a flood of forged or revoked
    # keys must not roll one back.
    refused = render_access_line(403, refusal="revoked")
    assert not any(matches(f["Properties"]["FilterPattern"], refused) for f in filters.values())
    # What the alarms read is what the filters write, in this stack's own namespace (no other stack's counts).
    produced = {
        (json.dumps(t["MetricNamespace"]), t["MetricName"])
        for f in filters.values()
        for t in f["Properties"]["MetricTransformations"]
    }
    assert {namespace for namespace, _ in produced} == {json.dumps({"Fn::Sub": "ArchieKeys/${AWS::StackName}"})}
    read = {
        (json.dumps(metric["Namespace"]), metric["MetricName"])
        for alarm in of_type(cloudformation, "AWS::CloudWatch::Alarm").values()
        for metric in alarm_metrics(alarm)
        if "ArchieKeys/" in json.dumps(metric["Namespace"])
    }
    assert read == produced


def dependencies(resource: dict[str, Any], names: set[str]) -> set[str]:
    """The resources one resource refers to (Ref, GetAtt, Sub, DependsOn), anywhere in it, its UpdatePolicy too."""
    found: set[str] = set(as_list(resource.get("DependsOn", [])))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and isinstance(value, str):
                    found.add(value.split(".")[0])
                elif key == "Fn::GetAtt":
                    found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
                elif key == "Fn::Sub":
                    text = value if isinstance(value, str) else value[0]
                    found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                    walk(value if isinstance(value, str) else value[1])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in resource.items() if key != "Type"})
    return (found & names) - {None}


def test_the_translated_template_has_no_circular_dependency(cloudformation) -> None:
    """cfn-lint does not follow an alias's UpdatePolicy: an alarm that rolls the authorizer back and names an
    API that calls the authorizer's alias would make a cycle CloudFormation refuses at deploy time."""
    resources = cloudformation["Resources"]
    graph = {name: dependencies(resource, set(resources)) - {name} for name, resource in resources.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        assert name not in trail, " -> ".join([*trail, name])
        if name in done:
            return
        for needed in sorted(graph[name]):
            visit(needed, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_delivery_and_silence_alarms_watch_every_log_group_the_ingest_reads(cloudformation) -> None:
    alarms = of_type(cloudformation, "AWS::CloudWatch::Alarm")
    delivery = alarm_metrics(alarms["AuditSubscriptionDeliveryAlarm"])
    for name, subscription in of_type(cloudformation, "AWS::Logs::SubscriptionFilter").items():
        props = subscription["Properties"]
        group = props["LogGroupName"]["Ref"]
        dimensions = [
            {d["Name"]: json.dumps(d["Value"]) for d in m["Dimensions"]} for m in delivery if group in json.dumps(m)
        ]
        assert {m["FilterName"] for m in dimensions} == {json.dumps(props["FilterName"])}, name
        assert len(dimensions) == 2, name  # errors and throttling
    silence = json.dumps(alarms["AuditSilenceAlarm"]["Properties"]["Metrics"])
    for api in of_type(cloudformation, "AWS::ApiGateway::Stage").values():
        group = api["Properties"]["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
        assert group in silence


def test_the_sample_api_is_a_switch_off_by_default_and_everything_it_brings_follows_it(cloudformation) -> None:
    template = load_template()
    assert template["Parameters"]["DeploySampleApi"]["Default"] == "false"
    sample = {
        "SampleApi",
        "SampleApiAccessLogs",
        "SampleApiRegistration",
        "EchoFunction",
        "EchoFunctionLogs",
        "SampleAccessLogInvokePermission",
        "SampleAccessLogSubscription",
        "SampleApiForbiddenMetricFilter",
        "SampleApi5xxAlarm",
    }
    for name in sample:
        assert template["Resources"][name]["Condition"] == "SampleApiOn", name
    assert template["Outputs"]["SampleApiUrl"]["Condition"] == "SampleApiOn"
    for name, resource in cloudformation["Resources"].items():  # SAM's own: permissions, stage, deployment
        if name.startswith(("SampleApi", "EchoFunction")):
            assert resource.get("Condition") == "SampleApiOn", name


def test_every_recurring_schedule_has_a_name_unique_to_its_stack(cloudformation) -> None:
    schedules = of_type(cloudformation, "AWS::Scheduler::Schedule")
    names = [s["Properties"]["Name"]["Fn::Sub"] for s in schedules.values()]
    assert len(schedules) == 3 and len(set(names)) == len(names)
    assert all(name.startswith("${AWS::StackName}-") for name in names)


def test_the_audit_table_has_an_on_demand_ceiling_set_by_parameters() -> None:
    template = load_template()
    ceiling = template["Resources"]["AuditTable"]["Properties"]["OnDemandThroughput"]
    assert ceiling == {
        "MaxWriteRequestUnits": {"Ref": "AuditTableMaxWriteRequestUnits"},
        "MaxReadRequestUnits": {"Ref": "AuditTableMaxReadRequestUnits"},
    }
    for name in ceiling.values():
        assert int(template["Parameters"][name["Ref"]]["Default"]) >= 1000


def test_the_canary_probes_every_five_minutes_can_be_switched_off_and_pages_when_it_stops(cloudformation) -> None:
    template = load_template()
    assert template["Parameters"]["DeployCanary"]["Default"] == "true"
    for name in ("CanaryFunction", "CanaryFunctionLogs", "CanaryAlarm"):
        assert template["Resources"][name]["Condition"] == "CanaryOn", name
    (schedule,) = [s for n, s in of_type(cloudformation, "AWS::Scheduler::Schedule").items() if "Canary" in n]
    assert schedule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    alarm = template["Resources"]["CanaryAlarm"]["Properties"]
    assert alarm["TreatMissingData"] == "breaching" and alarm["ComparisonOperator"] == "LessThanThreshold"
    variables = template["Resources"]["CanaryFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CANARY_API_URL"] == {
        "Fn::Sub": "https://${ManagementApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"
    }


@pytest.mark.parametrize("page", ["README.md", "docs/authorizer.md"])
def test_the_documentation_tells_teams_to_import_the_alias_the_stack_exports(page: str) -> None:
    text = (REPO_ROOT / page).read_text()
    section = text.split("## Protecting your own API", 1)[1].split("\n## ", 1)[0]
    imported = set(re.findall(r"!ImportValue archie-keys-(\w+)", section))
    export = load_template()["Outputs"]["AuthorizerAliasArn"]["Export"]["Name"]["Fn::Sub"]
    assert imported == {export.removeprefix("${AWS::StackName}-")} == {"AuthorizerAliasArn"}
