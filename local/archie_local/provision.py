"""Create the template's stateful resources in a moto backend with boto3, and resolve every function's
environment against them.

moto's CloudFormation silently drops TTL specifications and generated secrets, so each resource type is
created here with its own API call, reading its properties from template.yaml.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

import boto3

from archie_local.template import (
    ACCOUNT_ID,
    LOCAL_PARAMETERS,
    REGION,
    FunctionSpec,
    Resolver,
    evaluate_conditions,
    functions,
    parameter_defaults,
    resources_of_type,
)

# Variables some functions set apart from the Globals that tune, not configure (AWS clients' timeouts and
# retries for a 300 s background function): the local stack, one process for every function, runs with the
# Globals' value.
PER_FUNCTION_TUNING = frozenset({"AWS_CLIENT_PROFILE"})


def local_api_id(logical_id: str) -> str:
    return logical_id.lower()[:10]


def function_arn(logical_id: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}"


@dataclass
class Provisioned:
    resolver: Resolver
    functions: dict[str, FunctionSpec]
    environment: dict[str, str]  # the union of every function's resolved environment


def _generated_secret(spec: dict[str, Any]) -> str:
    """GenerateSecretString as Secrets Manager does it: a random string, or, with SecretStringTemplate and
    GenerateStringKey, the template's JSON with that key set to the random string."""
    length = int(spec.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    generated = "".join(secrets.choice(alphabet) for _ in range(length))
    if "SecretStringTemplate" in spec:
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = generated
        return json.dumps(document)
    return generated


def register_names(template: dict[str, Any], resolver: Resolver) -> None:
    """Names that need no provisioning: functions (with their aliases: one function serves them all
    locally), their roles, APIs, IAM roles, layers."""
    for name in resources_of_type(template, "AWS::Serverless::Function", resolver):
        resolver.refs[name] = name
        resolver.refs[f"{name}.Alias"] = function_arn(name)
        resolver.attributes[(name, "Arn")] = function_arn(name)
        resolver.attributes[(name, "Alias")] = function_arn(name)
        resolver.refs[f"{name}Role"] = f"{name}Role"
    for name in resources_of_type(template, "AWS::Serverless::Api", resolver):
        resolver.refs[name] = local_api_id(name)
    for name in resources_of_type(template, "AWS::IAM::Role", resolver):
        resolver.refs[name] = name
        resolver.attributes[(name, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
    for name in resources_of_type(template, "AWS::Serverless::LayerVersion", resolver):
        resolver.refs[name] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}:1"
    # Cognito is not emulated (locally, people sign in with the development issuer, SignInIssuer): names
    # only, so what the template derives from the user pool (the dashboard's CSP, the authorizer's sign-in
    # issuer and client id) resolves. Nobody can sign in with a pool that does not exist.
    for name in resources_of_type(template, "AWS::Cognito::UserPoolDomain", resolver):
        resolver.refs[name] = "archie-local"
    for name in resources_of_type(template, "AWS::Cognito::UserPool", resolver):
        resolver.refs[name] = f"{REGION}_archielocal"
    for name in resources_of_type(template, "AWS::Cognito::UserPoolClient", resolver):
        resolver.refs[name] = "archielocaldashboard"


def provision(
    template: dict[str, Any],
    endpoint_url: str | None,
    parameter_overrides: dict[str, str] | None = None,
    environment_overrides: dict[str, str] | None = None,
    replica_secrets: dict[str, str] | None = None,
) -> Provisioned:
    """endpoint_url None: whatever boto3 is patched to (moto's mock_aws in unit tests). The parameters are the
    template's defaults, then LOCAL_PARAMETERS, then `parameter_overrides`; only the resources the resulting
    conditions create are provisioned. `replica_secrets` (secret name -> JSON value and version): outside the
    primary region of a multi-region stack, the primary's secrets as Secrets Manager replicates them here
    (archie_local.regions)."""
    session = boto3.session.Session(region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local")

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)

    resolver = Resolver(parameter_defaults(template, {**LOCAL_PARAMETERS, **(parameter_overrides or {})}))
    evaluate_conditions(template, resolver)
    register_names(template, resolver)
    # In dependency order: a later resource's properties may name an earlier one (a queue's ARN, a table).
    _queues(template, resolver, client("sqs"))
    _tables(template, resolver, client("dynamodb"))
    _global_tables(template, resolver, client("dynamodb"))
    _secrets(template, resolver, client("secretsmanager"))
    _replica_secrets(template, resolver, client("secretsmanager"), replica_secrets or {})
    specs = functions(template, resolver)
    _log_groups(template, resolver, client("logs"))
    _schedule_groups(template, resolver, client("scheduler"))
    _event_buses(template, resolver, client("events"))
    _parameters(template, resolver, client("ssm"))
    environment = _shared_environment(template, resolver, specs)
    environment.update(environment_overrides or {})
    return Provisioned(resolver, specs, environment)


def _queues(template: dict[str, Any], resolver: Resolver, sqs: Any) -> None:
    for name, spec in resources_of_type(template, "AWS::SQS::Queue", resolver).items():
        # The visibility timeout is what a local SQS event source (archie_local.queue_events) holds a message
        # for while its function runs; a redrive policy is not modelled (the function writes dead letters).
        timeout = spec.get("Properties", {}).get("VisibilityTimeout")
        attributes = {"VisibilityTimeout": str(timeout)} if timeout is not None else {}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        resolver.refs[name] = url
        resolver.attributes[(name, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        resolver.attributes[(name, "QueueName")] = name


def local_table_name(logical_id: str) -> str:
    """A table's name in the local stack: its logical id (CloudFormation adds the stack's name and a random
    suffix), so each region of `make run REGIONS=...` names its tables alike (archie_local.regions)."""
    return logical_id


def _tables(template: dict[str, Any], resolver: Resolver, dynamodb: Any) -> None:
    for logical_id, spec in resources_of_type(template, "AWS::DynamoDB::Table", resolver).items():
        name = local_table_name(logical_id)
        props = resolver.resolve(spec["Properties"])
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        description = dynamodb.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = description["TableArn"]


def _replicas_here(spec: dict[str, Any], resolver: Resolver, key: str) -> bool:
    """Whether this region holds a replica of a resource the primary region's stack creates (its Condition is
    then false here): a global table's Replicas or a secret's ReplicaRegions name it."""
    replicas = resolver.resolve(spec.get("Properties", {}).get(key))
    return isinstance(replicas, list) and any(isinstance(r, dict) and r.get("Region") == REGION for r in replicas)


def _global_tables(template: dict[str, Any], resolver: Resolver, dynamodb: Any) -> None:
    """A global table in every region it has a replica in: created by the primary's stack there, and here the
    replica replication made (locally, archie_local.replication copies items between the regions' servers)."""
    for name, spec in template.get("Resources", {}).items():
        if spec.get("Type") != "AWS::DynamoDB::GlobalTable":
            continue
        if not (resolver.active(spec) or _replicas_here(spec, resolver, "Replicas")):
            continue
        props = resolver.resolve(spec["Properties"])
        table = props["TableName"]
        view = props.get("StreamSpecification", {}).get("StreamViewType", "NEW_AND_OLD_IMAGES")
        description = dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        )["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            dynamodb.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
        resolver.refs[name] = table
        resolver.attributes[(name, "Arn")] = description["TableArn"]
        resolver.attributes[(name, "StreamArn")] = description["LatestStreamArn"]


def _replica_secrets(template: dict[str, Any], resolver: Resolver, secretsmanager: Any, values: dict[str, str]) -> None:
    """The replicas of the primary region's secrets, under the primary's names (so the ARN the template derives
    from PrimaryPepperSecretArn finds them) and with its values, as Secrets Manager replicates them."""
    for spec in template.get("Resources", {}).values():
        if spec.get("Type") != "AWS::SecretsManager::Secret" or resolver.active(spec):
            continue
        if _replicas_here(spec, resolver, "ReplicaRegions"):
            for secret_name, replica in values.items():
                if not secretsmanager.list_secrets(Filters=[{"Key": "name", "Values": [secret_name]}])["SecretList"]:
                    current = json.loads(replica)  # {"value", "version"}: the primary's current version
                    secretsmanager.create_secret(
                        Name=secret_name, SecretString=current["value"], ClientRequestToken=current["version"]
                    )


def _secrets(template: dict[str, Any], resolver: Resolver, secretsmanager: Any) -> None:
    for name, spec in resources_of_type(template, "AWS::SecretsManager::Secret", resolver).items():
        props = spec["Properties"]
        value = (
            _generated_secret(props["GenerateSecretString"])
            if "GenerateSecretString" in props
            else props["SecretString"]
        )
        arn = secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
        resolver.refs[name] = arn


def _log_groups(template: dict[str, Any], resolver: Resolver, logs: Any) -> None:
    for name, spec in resources_of_type(template, "AWS::Logs::LogGroup", resolver).items():
        props = resolver.resolve(spec["Properties"])
        group = props.get("LogGroupName", f"/local/{name}")
        logs.create_log_group(logGroupName=group)
        if props.get("RetentionInDays"):
            logs.put_retention_policy(logGroupName=group, retentionInDays=int(props["RetentionInDays"]))
        resolver.refs[name] = group
        resolver.attributes[(name, "Arn")] = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group}"


def _schedule_groups(template: dict[str, Any], resolver: Resolver, scheduler: Any) -> None:
    for name, spec in resources_of_type(template, "AWS::Scheduler::ScheduleGroup", resolver).items():
        group = resolver.resolve(spec["Properties"])["Name"]
        scheduler.create_schedule_group(Name=group)
        resolver.refs[name] = group


def _event_buses(template: dict[str, Any], resolver: Resolver, events: Any) -> None:
    for name, spec in resources_of_type(template, "AWS::Events::EventBus", resolver).items():
        bus = resolver.resolve(spec["Properties"])["Name"]
        resolver.refs[name] = bus
        resolver.attributes[(name, "Arn")] = events.create_event_bus(Name=bus)["EventBusArn"]
        resolver.attributes[(name, "Name")] = bus


def _parameters(template: dict[str, Any], resolver: Resolver, ssm: Any) -> None:
    """The protected API registry (one JSON parameter per stage) like any other parameter."""
    for name, spec in resources_of_type(template, "AWS::SSM::Parameter", resolver).items():
        props = resolver.resolve(spec["Properties"])
        ssm.put_parameter(Name=props["Name"], Value=props["Value"], Type=props.get("Type", "String"))
        resolver.refs[name] = props["Name"]


def _shared_environment(template: dict[str, Any], resolver: Resolver, specs: dict[str, FunctionSpec]) -> dict[str, str]:
    """Every function's environment merged into the one process the local stack runs them in."""
    environment: dict[str, str] = {}
    defaults = resolver.resolve(template.get("Globals", {}).get("Function", {}).get("Environment", {}))
    for function_spec in specs.values():
        for key, value in resolver.resolve(function_spec.environment).items():
            if key in PER_FUNCTION_TUNING:
                environment[key] = defaults.get("Variables", {}).get(key, value)
                continue
            if key in environment and environment[key] != value:
                raise ValueError(f"functions disagree on {key}; the local stack shares one process environment")
            environment[key] = value
    # The local stack's one exception to https-only webhooks: http://127.0.0.1, a receiver on this machine.
    environment["WEBHOOK_LOCAL_TARGETS"] = "1"
    return environment
