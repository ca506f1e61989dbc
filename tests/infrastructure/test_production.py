"""The template as production runs it: least privilege (read from the translated CloudFormation, where SAM's own
policies are too), nothing lost, observed, and safe by default."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from archie_keys.app.canary import CANARY_PLACE
from archie_keys.aws import metrics
from archie_keys.aws.key_store import KeyStore, partition
from archie_local.template import load_template
from tests.infrastructure.deployments import deployed
from tests.infrastructure.test_template import of_type

KEYS_TABLE_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
# The keys-table attributes each function may write, and nothing else (dynamodb:Attributes).
OWNED_ATTRIBUTES = {
    # Its rehash, and its record of when it last let a key through (the SEEN# item: authorized_epoch and the
    # item's purge time; app.authorization_witness), which a guarded delete reads.
    # `part` names which of a key's items a write makes (aws.key_items: the hash item, a region's use item).
    "AuthorizerFunctionRole": {
        "pk",
        "sk",
        "part",
        "hash",
        "hash_params",
        "pepper_version",
        "authorized_epoch",
        "purge_epoch",
    },
    "VerifyFunctionRole": {"pk", "sk", "part", "hash", "hash_params", "pepper_version"},
    "AuditCompactFunctionRole": {"pk", "sk", "part", "last_used_at"},
    # A delivery's record (app.webhook_records) and a webhook disabled by its receiver's 410: never a key's
    # attributes, nor a webhook's sealed secret.
    "WebhookDeliveryFunctionRole": {
        "pk",
        "sk",
        "kind",
        "delivery_id",
        "message_id",
        "attempt",
        "at",
        "result",
        "status",
        "error",
        "response",
        "next_attempt_at",
        "purge_epoch",
        "dead",
        "url",
        "body",
        "disabled_at",
    },
}
# The functions of the management API's changes, which write keys, roles and environments whole (each change
# a transaction with its audit event). Any other function that writes to the keys table must be listed in
# OWNED_ATTRIBUTES: a new writer cannot slip in unconditioned.
MANAGEMENT_WRITERS = {
    "CreateKeyFunctionRole",
    "DeleteKeyFunctionRole",
    "RollKeyFunctionRole",
    # A PATCH: the key, its roles' counts and its key.updated event in one transaction (app.key_updates).
    "UpdateKeyFunctionRole",
    "RolesFunctionRole",
    "EnvironmentsFunctionRole",
    "SecretScanningFunctionRole",
    "RevokeKeysFunctionRole",
    # A mass revocation's keys, in batches: each a transaction with their events, their roles' counts and its
    # progress (app.revocation_worker).
    "RevocationWorkerFunctionRole",
    # Webhooks, each a transaction with its audit event, and their delivery records on a redrive.
    "WebhooksFunctionRole",
    # Trust policies, each change a transaction with its event; an exchanged key with its event, the token's
    # replay mark and the policy's check (docs/federation.md).
    "TrustFunctionRole",
    "ExchangeKeyFunctionRole",
}
# Functions that write keys, roles and environments whole, but in one partition of their own only
# (dynamodb:LeadingKeys): the synthetic canary, in canary/probe.
PARTITION_WRITERS = {"CanaryFunctionRole": partition(CANARY_PLACE.project, CANARY_PLACE.environment)}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def identity_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(role, statement) for every statement of every role's inline policies and every AWS::IAM::Policy."""
    found = []
    for name, role in of_type(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            found += [(name, s) for s in as_list(policy["PolicyDocument"]["Statement"])]
    for policy in of_type(template, "AWS::IAM::Policy").values():
        for role in policy["Properties"]["Roles"]:
            name = role["Ref"] if isinstance(role, dict) else role
            found += [(name, s) for s in as_list(policy["Properties"]["PolicyDocument"]["Statement"])]
    return found


# The keys table a statement names: the regional KeysTable (one region), or this region's replica of the global
# table, named by the stack (Regions given: its ARN is built, as another region's stack creates no table).
KEYS_TABLE_NAMES = ("KeysTable", "table/${AWS::StackName}-keys")


def names_keys_table(resource: Any) -> bool:
    text = json.dumps(resource)
    return any(name in text for name in KEYS_TABLE_NAMES)


def problems(statements: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """What least privilege forbids: a wildcard action, `Resource: "*"` without a Sid saying why, and a write
    to the keys table from the authorizer, verify or the compactor that is not limited to the attributes it owns,
    and a write to it from any function that is neither one of those nor a management change."""
    found = []
    for role, statement in statements:
        actions = as_list(statement.get("Action", []))
        if any("*" in action for action in actions):
            found.append(f"{role}: wildcard action {actions}")
        if "*" in as_list(statement.get("Resource")) and not statement.get("Sid"):
            found.append(f"{role}: Resource '*' without a Sid giving the reason")
        writes = KEYS_TABLE_WRITES & set(actions)
        if (
            writes
            and names_keys_table(statement.get("Resource"))
            and role not in OWNED_ATTRIBUTES.keys() | MANAGEMENT_WRITERS | PARTITION_WRITERS.keys()
        ):
            found.append(f"{role}: writes {sorted(writes)} to the keys table but owns no attributes there")
        if role in PARTITION_WRITERS and names_keys_table(statement.get("Resource")):
            leading = statement.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys")
            if as_list(leading) != [PARTITION_WRITERS[role]]:
                found.append(f"{role}: reaches the keys table beyond its own partition")
        if role in OWNED_ATTRIBUTES and writes and names_keys_table(statement.get("Resource")):
            condition = statement.get("Condition", {})
            allowed = condition.get("ForAllValues:StringEquals", {}).get("dynamodb:Attributes")
            if allowed is None or set(as_list(allowed)) != OWNED_ATTRIBUTES[role]:
                found.append(f"{role}: unconditioned write {sorted(writes)} to the keys table")
            elif condition.get("StringEqualsIfExists", {}).get("dynamodb:ReturnValues") != "NONE":
                found.append(f"{role}: a write that may return the item's other attributes")
    return found


def test_no_wildcard_action_no_unexplained_star_resource_no_unconditioned_keys_table_write(deployment) -> None:
    statements = identity_statements(deployment)
    assert {role for role, _ in statements} >= set(OWNED_ATTRIBUTES)
    assert problems(statements) == []


def test_the_least_privilege_check_catches_what_it_is_for() -> None:
    keys = {"Fn::GetAtt": ["KeysTable", "Arn"]}
    assert len(problems([("AnyRole", {"Action": "dynamodb:*", "Resource": keys})])) == 1
    assert len(problems([("AuditIngestFunctionRole", {"Action": "dynamodb:UpdateItem", "Resource": keys})])) == 1
    replica = {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}-keys"
    }
    assert len(problems([("AuditIngestFunctionRole", {"Action": "dynamodb:UpdateItem", "Resource": replica})])) == 1
    assert len(problems([("AuthorizerFunctionRole", {"Action": "dynamodb:UpdateItem", "Resource": replica})])) == 1
    assert problems([("CreateKeyFunctionRole", {"Action": "dynamodb:PutItem", "Resource": keys})]) == []
    assert len(problems([("CanaryFunctionRole", {"Action": "dynamodb:PutItem", "Resource": keys})])) == 1
    own = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["PROJECT#canary#ENV#probe"]}}
    assert problems([("CanaryFunctionRole", {"Action": "dynamodb:PutItem", "Resource": keys, "Condition": own})]) == []
    assert len(problems([("AnyRole", {"Action": "logs:PutLogEvents", "Resource": "*"})])) == 1
    assert (
        problems([("AnyRole", {"Sid": "XRayHasNoResources", "Action": "xray:PutTraceSegments", "Resource": "*"})]) == []
    )
    assert len(problems([("AuthorizerFunctionRole", {"Action": ["dynamodb:UpdateItem"], "Resource": keys})])) == 1
    wider = {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "hash", "revoked_at"]}}
    assert (
        len(problems([("VerifyFunctionRole", {"Action": "dynamodb:UpdateItem", "Resource": keys, "Condition": wider})]))
        == 1
    )


class RecordingDynamo:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update_item(self, **request: Any) -> None:
        self.updates.append(request)


def written_attributes(request: dict[str, Any]) -> set[str]:
    """The attribute names a request touches: its key and every name in its expressions."""
    names = dict(request.get("ExpressionAttributeNames", {}))
    text = " ".join(request.get(k, "") for k in ("UpdateExpression", "ConditionExpression"))
    text = re.sub(r"\b(SET|AND|OR|NOT|REMOVE|ADD|attribute_exists|attribute_not_exists)\b", " ", text)
    words = set(re.findall(r"#?[A-Za-z_][A-Za-z0-9_]*", re.sub(r":[A-Za-z0-9_]+", " ", text)))
    return set(request["Key"]) | {names.get(w, w) for w in words}


def test_the_code_writes_only_the_attributes_its_iam_condition_allows() -> None:
    dynamo = RecordingDynamo()
    store = KeyStore("KeysTable", dynamo)
    store.update_key_hash("demo", "dev", "Vc37AAAAAAAA", "old", "new", {"m": 19456, "t": 2, "p": 1}, "pepper-v2")
    store.touch_last_used("demo", "dev", "Vc37AAAAAAAA", "2026-11-26T00:00:00Z")
    rehash, touch = dynamo.updates
    assert written_attributes(rehash) <= OWNED_ATTRIBUTES["AuthorizerFunctionRole"]
    assert written_attributes(touch) <= OWNED_ATTRIBUTES["AuditCompactFunctionRole"]
    assert "ReturnValues" not in rehash and "ReturnValues" not in touch


def test_cloudwatch_logs_may_invoke_the_ingest_only_for_its_three_log_groups(cloudformation) -> None:
    resources = cloudformation["Resources"]
    permissions = {
        name: r["Properties"]
        for name, r in of_type(cloudformation, "AWS::Lambda::Permission").items()
        if r["Properties"]["Principal"] == "logs.amazonaws.com"
    }
    sources = {json.dumps(p["SourceArn"]) for p in permissions.values()}
    assert all(
        "SourceAccount" in p and p["FunctionName"] == {"Ref": "AuditIngestFunction"} for p in permissions.values()
    )
    for name, subscription in of_type(cloudformation, "AWS::Logs::SubscriptionFilter").items():
        group = subscription["Properties"]["LogGroupName"]["Ref"]
        assert json.dumps({"Fn::GetAtt": [group, "Arn"]}) in sources, name
        assert resources[subscription["DependsOn"]]["Properties"]["SourceArn"] == {"Fn::GetAtt": [group, "Arn"]}
    # The two APIs' access logs; the authorizer's own log is not ingested (its Deny carries refusals).
    assert len(permissions) == len(of_type(cloudformation, "AWS::Logs::SubscriptionFilter")) == 2


def test_flushing_is_allowed_on_authorizer_caches_only_and_the_registry_is_read_by_path(shape, deployment) -> None:
    resources = deployment["Resources"]
    flush = resources["FlushAuthorizerCachePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert flush == [
        {
            "Effect": "Allow",
            "Action": "apigateway:DELETE",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/*/stages/*/cache/authorizers"
            },
        },
        # ... coalesced through one item per stage of the coordination table, and nothing else there.
        {
            "Effect": "Allow",
            "Action": ["dynamodb:UpdateItem", "dynamodb:GetItem"],
            "Resource": {"Fn::GetAtt": ["CoordinationTable", "Arn"]},
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["FLUSH#*"]}},
        },
    ]
    (read,) = resources["ReadProtectedApisPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert read["Action"] == "ssm:GetParametersByPath"
    assert all("protected-apis" in r["Fn::Sub"] for r in read["Resource"])
    readers = {r["Ref"] for r in resources["ReadProtectedApisPolicy"]["Properties"]["Roles"]}
    flushers = {r["Ref"] for r in resources["FlushAuthorizerCachePolicy"]["Properties"]["Roles"]}
    # Beside the flushers: the ingest (which stages are protected), and the functions that put a key with limits
    # in a usage plan covering every registered stage (create, and the usage answer's plan lookup).
    assert flushers | {"AuditIngestFunctionRole", "CreateKeyFunctionRole", "KeyUsageFunctionRole"} == readers
    # Several regions: each region's stream consumer flushes for the changes replicated from the others.
    assert ("ReplicationFlushFunctionRole" in flushers) == ("ReplicationFlushFunctionRole" in readers)
    assert ("ReplicationFlushFunctionRole" in flushers) == (shape != "one region")
    assert "flush-targets" not in json.dumps(deployment)


def reads_secret(resource: Any, secret: str) -> bool:
    """A statement's resource is the secret: this stack's own (one region, or the primary of several), or
    outside the primary region the replica here, its ARN built from the primary's (Primary<secret>Arn)."""
    return resource == {"Ref": secret} or f"Primary{secret}Arn" in json.dumps(resource)


def secret_readers(deployment: dict[str, Any], secret: str) -> set[str]:
    return {
        role
        for role, statement in identity_statements(deployment)
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
        and any(reads_secret(resource, secret) for resource in as_list(statement["Resource"]))
    }


def allowed_by_secret_policy(resources: dict[str, Any], secret: str) -> tuple[set[str], list[Any]]:
    """The roles the secret's resource policy lets read it, and every principal it names."""
    policy = resources[f"{secret}Policy"]["Properties"]
    (deny,) = policy["ResourcePolicy"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "secretsmanager:GetSecretValue")
    allowed = deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"]["Fn::Split"][1]["Fn::Join"][1]
    return {item["Fn::GetAtt"][0] for item in allowed if "Fn::GetAtt" in item}, allowed


@pytest.mark.parametrize("secret", ["PepperSecret", "KeyTagSecret"])
def test_only_the_functions_that_hash_or_tag_keys_may_read_the_pepper_or_the_tag_keys(
    cloudformation, shape, deployment, secret
) -> None:
    resources = deployment["Resources"]
    readers = secret_readers(deployment, secret)
    assert len(readers) >= 2
    if shape == "second of two":
        # The secret and its policy are the primary's, replicated here with the policy (Secrets Manager copies a
        # secret's resource policy to its replicas): this stack creates neither, and its roles read the replica
        # in their own region, so the region keeps working when the primary's is down.
        assert secret not in resources and f"{secret}Policy" not in resources
        for _, statement in identity_statements(deployment):
            for resource in as_list(statement["Resource"]):
                if reads_secret(resource, secret):
                    assert resource["Fn::Sub"][0].startswith("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:")
        # The primary's policy names the same functions (its roles; this region's go in PepperReaderArns).
        primary_allowed, _ = allowed_by_secret_policy(deployed(cloudformation, "primary of two")["Resources"], secret)
        assert readers == primary_allowed
        return
    allowed_roles, allowed = allowed_by_secret_policy(resources, secret)
    # A role that exists only under a condition (the canary) is named only then: else "", which matches no one.
    assert "" in allowed or "CanaryFunctionRole" in allowed_roles
    assert allowed_roles == readers
    assert {"Fn::Join": [",", {"Ref": "PepperReaderArns"}]} in allowed  # operators, e.g. for bootstrap
    policy = resources[f"{secret}Policy"]["Properties"]
    assert policy["BlockPublicPolicy"] is True and policy["SecretId"] == {"Ref": secret}
    stored = resources[secret]
    assert stored["DeletionPolicy"] == stored["UpdateReplacePolicy"] == "Retain"
    # Several regions: the same value (and version ids) in each other region, a replica per region.
    replicas = [replica["Region"] for replica in stored["Properties"].get("ReplicaRegions", [])]
    assert replicas == ([{"Fn::Select": [1, {"Ref": "Regions"}]}] if shape == "primary of two" else [])


def test_delivered_secrets_are_written_only_under_the_prefix_and_only_if_this_stack_created_them(
    deployment,
) -> None:
    checked = 0
    for role, statement in identity_statements(deployment):
        actions = set(as_list(statement["Action"])) & {
            "secretsmanager:CreateSecret",
            "secretsmanager:TagResource",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage",
            "secretsmanager:DeleteSecret",
        }
        if not actions:
            continue
        checked += 1
        assert "${SecretNamePrefix}*" in statement["Resource"]["Fn::Sub"], role
        stack = {"Ref": "AWS::StackName"}
        condition = statement["Condition"]
        resource_tag = {"secretsmanager:ResourceTag/archie-keys:stack": stack}
        if "secretsmanager:CreateSecret" in actions:  # creating: tagged ours, and never re-tagging another's
            assert condition["StringEquals"] == {"aws:RequestTag/archie-keys:stack": stack}, role
            assert condition["StringEqualsIfExists"] == resource_tag, role
        else:  # writing: only secrets already tagged ours
            assert condition["StringEquals"] == resource_tag, role
    assert checked == 4  # create and write, for the create and roll functions


def test_what_cannot_be_rebuilt_is_protected_from_deletion(cloudformation) -> None:
    resources = cloudformation["Resources"]
    for table in ("KeysTable", "AuditTable"):
        assert resources[table]["Properties"]["DeletionProtectionEnabled"] is True, table
        assert resources[table]["DeletionPolicy"] == "Retain", table


def test_the_api_gateway_account_setting_is_optional_retained_and_the_apis_wait_for_it(cloudformation) -> None:
    resources = cloudformation["Resources"]
    for name in ("ApiGatewayAccount", "ApiGatewayCloudWatchRole"):
        assert resources[name]["Condition"] == "SetApiGatewayAccount", name
        assert resources[name]["DeletionPolicy"] == resources[name]["UpdateReplacePolicy"] == "Retain", name
    ready = resources["ApiGatewayAccountReady"]["Metadata"]["AccountSetting"]
    assert ready["Fn::If"][:2] == ["SetApiGatewayAccount", {"Ref": "ApiGatewayAccount"}]
    for stage in of_type(cloudformation, "AWS::ApiGateway::RestApi"):
        assert "ApiGatewayAccountReady" in as_list(resources[stage].get("DependsOn", [])), stage
    # Off by default: the setting is one per account and region, shared by every stack there (docs/operations.md).
    assert load_template()["Parameters"]["ManageApiGatewayAccount"]["Default"] == "false"


def test_every_stage_is_throttled_and_the_management_stage_can_have_a_rate_based_waf_rule(cloudformation) -> None:
    stages = of_type(cloudformation, "AWS::ApiGateway::Stage")
    assert len(stages) == 2
    for name, stage in stages.items():
        settings = stage["Properties"]["MethodSettings"]
        assert any(s["ResourcePath"] == "/*" and s["HttpMethod"] == "*" for s in settings), name  # every route
        for setting in settings:
            assert setting["ThrottlingBurstLimit"] > 0 and setting["ThrottlingRateLimit"] > 0, name
    acl = cloudformation["Resources"]["ManagementApiWebAcl"]
    (rule,) = acl["Properties"]["Rules"]
    assert rule["Statement"]["RateBasedStatement"] == {
        "Limit": {"Ref": "ManagementApiRateLimitPerIp"},
        "AggregateKeyType": "IP",
    }
    association = cloudformation["Resources"]["ManagementApiWebAclAssociation"]
    assert acl["Condition"] == association["Condition"] == "ManagementApiWaf"
    assert "ManagementApiStage" in json.dumps(association["Properties"]["ResourceArn"])
    assert load_template()["Parameters"]["ManagementApiRateLimitPerIp"]["Default"] == 0  # off unless asked


def test_the_authorizer_has_reserved_concurrency_by_default(cloudformation) -> None:
    reserved = cloudformation["Resources"]["AuthorizerFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": ["ReserveAuthorizerConcurrency", {"Ref": "AuthorizerReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert load_template()["Parameters"]["AuthorizerReservedConcurrency"]["Default"] == 100
    (rule,) = cloudformation["Rules"]["AuthorizerConcurrencyIsNeverZero"]["Assertions"]
    assert rule["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AuthorizerReservedConcurrency"}, "0"]}]}


def test_the_dashboard_site_sends_a_strict_content_security_policy_and_security_headers(cloudformation) -> None:
    resources = cloudformation["Resources"]
    behaviour = resources["DashboardDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "DashboardResponseHeadersPolicy"}
    headers = resources["DashboardResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    csp, variables = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "connect-src": "'self' https://*.execute-api.${AWS::Region}.${AWS::URLSuffix} ${SignInTokenSource}",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    # Beyond the API, the page connects to one address: the sign-in's token endpoint (no wildcard).
    assert variables["SignInTokenSource"] == {
        "Fn::If": [
            "CognitoSignIn",
            {"Fn::Sub": "https://${PeopleUserPoolDomain}.auth.${AWS::Region}.amazoncognito.com/oauth2/token"},
            {"Ref": "SignInTokenEndpoint"},
        ]
    }
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ContentTypeOptions"]["Override"] is True
    assert all(header["Override"] is True for header in security.values())


def test_the_user_pool_requires_a_second_factor_of_everyone_it_signs_in(cloudformation) -> None:
    pool = cloudformation["Resources"]["PeopleUserPool"]["Properties"]
    assert (pool["MfaConfiguration"], pool["EnabledMfas"]) == ("ON", ["SOFTWARE_TOKEN_MFA"])
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


ALARMED = {
    "AuthorizerErrorsAlarm": "authorizer failures",
    "AuthorizerThrottlesAlarm": "Throttles",
    "AuthorizerDurationAlarm": "Duration",
    "AuditIngestErrorsAlarm": "Errors",
    "AuditIngestDroppedEventsAlarm": "AsyncEventsDropped",
    "ManagementApi5xxAlarm": "5XXError",
    "SampleApi5xxAlarm": "5XXError",
    "KeysTableThrottlesAlarm": "WriteThrottleEvents",
    "AuditTableThrottlesAlarm": "WriteThrottleEvents",
    "IdempotencyTableThrottlesAlarm": "WriteThrottleEvents",
    "AuditIngestDeadLetterQueueAlarm": "ApproximateNumberOfMessagesVisible",
    "ExpiryFlushDeadLetterQueueAlarm": "ApproximateNumberOfMessagesVisible",
    "UnflushedStagesAlarm": "UnflushedStages",
    "AuditCompactionBehindAlarm": "AuditCompactionBehind",
    "AuditBucketsSkippedAlarm": "AuditBucketsSkipped",
}


def alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    props = alarm["Properties"]
    if "Metrics" in props:
        return [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
    return [
        {"Namespace": props["Namespace"], "MetricName": props["MetricName"], "Dimensions": props.get("Dimensions", [])}
    ]


def test_every_signal_an_operator_needs_has_an_alarm_that_notifies_the_required_topic(cloudformation) -> None:
    alarms = of_type(cloudformation, "AWS::CloudWatch::Alarm")
    assert set(ALARMED) <= set(alarms)
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopicArn"}], name
        # Missing data is no news, except from what reports on every run (the compactor, the canary): silence
        # means it stopped running.
        expected = "breaching" if name in ("AuditCompactionBehindAlarm", "CanaryAlarm") else "notBreaching"
        assert props["TreatMissingData"] == expected, name
        assert props["AlarmDescription"], name
        for metric in alarm_metrics(alarm):
            if metric["Namespace"] == "ArchieKeys":  # our own EMF metrics: names the code writes
                assert metric["MetricName"] in metrics.METRIC_NAMES, name
                assert {"Name": "Stack", "Value": {"Ref": "AWS::StackName"}} in metric["Dimensions"], name
    for name, signal in ALARMED.items():
        text = json.dumps(alarms[name]["Properties"])
        assert signal in text, name
    # Required: a stack cannot be deployed with alarms that notify nobody.
    assert "Default" not in load_template()["Parameters"]["AlarmTopicArn"]


def dashboard_body(deployment: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's JSON with each ${...} of its Fn::Sub as "x" (the Sub's variables are checked apart)."""
    sub = deployment["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    text = sub[0] if isinstance(sub, list) else sub
    return json.loads(re.sub(r"\$\{[^}]+\}", "x", text))


def test_the_dashboard_shows_decisions_by_reason_latency_cache_effectiveness_and_audit_lag(deployment) -> None:
    widgets = dashboard_body(deployment)["widgets"]
    rows = [row for w in widgets for row in w["properties"]["metrics"]]
    ours = [row for row in rows if row[0] == "ArchieKeys"]
    assert {row[1] for row in ours} == set(metrics.METRIC_NAMES)
    reasons = {row[row.index("Reason") + 1] for row in ours if "Reason" in row}
    assert reasons == set(metrics.REFUSAL_REASONS)
    expressions = [row[0]["expression"] for row in rows if isinstance(row[0], dict)]
    assert "1 - FILL(decisions, 0) / requests" in expressions  # cache hit ratio: 1 - invocations / requests
    # Accepted decisions: every decision is an invocation, and every refusal or failure one Refused line.
    assert "FILL(invocations, 0) - FILL(refused, 0)" in expressions
    titles = " ".join(w["properties"]["title"] for w in widgets).lower()
    for topic in ("decisions", "latency", "cache effectiveness", "audit lag"):
        assert topic in titles, topic
    # Its keys-table rows name the table this stack's functions use (KEYS_TABLE), in every shape.
    sub = deployment["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    authorizer = deployment["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    assert sub[1]["KeysTableName"] == authorizer["KEYS_TABLE"]
    named = re.findall(r'"TableName", "(\$\{[^}]+\})", \{"label": "keys table', sub[0])
    assert named == ["${KeysTableName}"] * 2


def test_tracing_is_one_switch_for_functions_and_apis(cloudformation) -> None:
    for name, function in of_type(cloudformation, "AWS::Lambda::Function").items():
        assert function["Properties"]["TracingConfig"] == {
            "Mode": {"Fn::If": ["TracingOn", "Active", "PassThrough"]}
        }, name
    for name, stage in of_type(cloudformation, "AWS::ApiGateway::Stage").items():
        assert stage["Properties"]["TracingEnabled"] == {"Fn::If": ["TracingOn", True, False]}, name


def test_the_asynchronous_functions_send_what_fails_to_their_dead_letter_queues(cloudformation) -> None:
    configs = of_type(cloudformation, "AWS::Lambda::EventInvokeConfig")
    queues = {}
    for config in configs.values():
        props = config["Properties"]
        if props["FunctionName"] == {"Ref": "CanaryFunction"}:
            # A failed probe is a finding, reported by its metric: never retried, nothing to redrive.
            assert props["MaximumRetryAttempts"] == 0 and not props.get("DestinationConfig")
            continue
        if props["FunctionName"] == {"Ref": "RevocationWorkerFunction"}:
            # Retried, then resumed by its sweep (the revocation's registry entry stays until it ends): its
            # events hold nothing a redrive would add.
            assert props["MaximumRetryAttempts"] == 2 and not props.get("DestinationConfig")
            continue
        assert props["MaximumRetryAttempts"] == 2
        queues[props["FunctionName"]["Ref"]] = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert queues == {
        "AuditIngestFunction": "AuditIngestDeadLetterQueue",
        "ExpiryFlushFunction": "ExpiryFlushDeadLetterQueue",
    }
    outputs = cloudformation["Outputs"]
    for name in ("AuditIngest", "ExpiryFlush"):
        assert outputs[f"{name}DeadLetterQueueUrl"]["Value"] == {"Ref": f"{name}DeadLetterQueue"}
        assert outputs[f"{name}FunctionName"]["Value"] == {"Ref": f"{name}Function"}
    assert outputs["ProtectedApisPath"]["Value"] == {"Fn::Sub": "/${AWS::StackName}/protected-apis"}


@pytest.mark.parametrize("name", sorted(load_template()["Resources"]))
def test_every_checkov_finding_skipped_in_the_template_says_why(name: str) -> None:
    resource = load_template()["Resources"][name]
    for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
        assert re.fullmatch(r"CKV2?_AWS_[0-9]+", skip["id"]), (name, skip)
        assert len(skip.get("comment", "")) > 30, (name, skip)


def test_the_keyless_routes_have_throttles_of_their_own_below_the_stages(cloudformation) -> None:
    """The token exchange and GitHub's alerts need no key (each may cost a fetch or an argon2 hash): each has
    a method throttle of its own, lower than the stage's."""
    stage = cloudformation["Resources"]["ManagementApiStage"]["Properties"]["MethodSettings"]
    by_path = {(s["ResourcePath"], s["HttpMethod"]): s for s in stage}
    default = by_path[("/*", "*")]
    for path in (
        "/~1projects~1{project}~1environments~1{environment}~1keys~1exchange",
        "/~1secret-scanning~1github",
    ):
        own = by_path[(path, "POST")]
        assert own["ThrottlingRateLimit"] < default["ThrottlingRateLimit"], path
        assert own["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"], path


def test_no_function_on_aws_trusts_a_plain_http_issuer() -> None:
    """OIDC_ALLOW_LOOPBACK_HTTP lets trust policies name http://127.0.0.1 (the local stack's issuer): the
    template never sets it, so on AWS every issuer is https."""
    assert "OIDC_ALLOW_LOOPBACK_HTTP" not in json.dumps(load_template())
