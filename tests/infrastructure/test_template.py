"""template.yaml: an offline SAM translation (no AWS credentials) and checks on the CloudFormation it yields."""

from __future__ import annotations

import json
from typing import Any

from archie_keys.domain.hashing import OWASP_MIN_MEMORY_KIB, OWASP_MIN_TIME_COST, Argon2Parameters
from archie_local.template import load_template


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_the_template_translates_offline_into_functions_an_api_and_a_layer(cloudformation) -> None:
    functions = of_type(cloudformation, "AWS::Lambda::Function")
    assert {
        "AuthorizerFunction",
        "CreateKeyFunction",
        "ListKeysFunction",
        "GetKeyFunction",
        "DeleteKeyFunction",
        "RolesFunction",
        "EnvironmentsFunction",
    } <= set(functions)
    assert of_type(cloudformation, "AWS::Lambda::LayerVersion")
    for name, function in functions.items():
        assert function["Properties"]["Runtime"] == "python3.13", name
        assert function["Properties"]["Layers"], name


def test_every_function_has_its_own_log_group_with_retention(cloudformation) -> None:
    groups = of_type(cloudformation, "AWS::Logs::LogGroup")
    named = {json.dumps(g["Properties"].get("LogGroupName")) for g in groups.values()}
    for name in of_type(cloudformation, "AWS::Lambda::Function"):
        assert any(f"${{{name}}}" in n for n in named), name
    assert all("RetentionInDays" in g["Properties"] for g in groups.values())


def test_function_policies_name_actions_and_resources(cloudformation) -> None:
    for name, role in of_type(cloudformation, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in action for action in actions), (name, actions)
                assert statement.get("Resource") != "*", (name, statement)


def test_the_management_api_uses_a_request_authorizer_on_the_authorization_header(cloudformation) -> None:
    apis = of_type(cloudformation, "AWS::ApiGateway::RestApi")
    body = next(api["Properties"]["Body"] for name, api in apis.items() if name == "ManagementApi")
    authorizer = body["securityDefinitions"]["KeyAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "request"
    # Cached per key and source address: an allow-list holds on cache hits (docs/limits.md).
    assert set(authorizer["identitySource"].split(", ")) == {
        "method.request.header.Authorization",
        "context.identity.sourceIp",
    }
    for path, methods in body["paths"].items():
        if path == "/secret-scanning/github":  # GitHub's alerts carry GitHub's signature, no key
            assert methods["post"]["security"] == [{"NONE": []}] or "security" not in methods["post"], methods
            continue
        assert path.startswith("/projects/{project}/environments/{environment}"), path
        for verb, method in methods.items():
            if verb != "options":  # CORS preflight: a mock answer, no key
                assert method.get("security") == [{"KeyAuthorizer": []}], (path, verb)


def test_the_sample_api_keys_its_cache_on_the_header_and_the_stage_variables(cloudformation) -> None:
    apis = of_type(cloudformation, "AWS::ApiGateway::RestApi")
    body = apis["SampleApi"]["Properties"]["Body"]
    source = body["securityDefinitions"]["KeyAuthorizer"]["x-amazon-apigateway-authorizer"]["identitySource"]
    assert set(source.split(", ")) == {
        "method.request.header.Authorization",
        "stageVariables.project",
        "stageVariables.environment",
        "context.identity.sourceIp",
    }
    assert set(body["paths"]) == {"/orders", "/orders/{id}"}


def test_every_stage_declaring_its_cache_keyed_on_the_source_address_has_it_among_its_identity_sources(
    cloudformation,
) -> None:
    """The stage variable makes the authorizer accept keys with allow-lists there (docs/limits.md); without the
    address among the identity sources, an Allow cached for one address would answer every other."""
    stages = of_type(cloudformation, "AWS::ApiGateway::Stage")
    apis = of_type(cloudformation, "AWS::ApiGateway::RestApi")
    declaring = {
        stage["Properties"]["RestApiId"]["Ref"]
        for stage in stages.values()
        if stage["Properties"].get("Variables", {}).get("source_ip_in_cache_key") == "true"
    }
    assert declaring == {"ManagementApi", "SampleApi"}
    for name in declaring:
        definitions = apis[name]["Properties"]["Body"]["securityDefinitions"]
        source = definitions["KeyAuthorizer"]["x-amazon-apigateway-authorizer"]["identitySource"]
        assert "context.identity.sourceIp" in source.split(", "), name


def test_the_sample_api_applies_each_keys_usage_plan_and_answers_429_with_retry_after(cloudformation) -> None:
    api = of_type(cloudformation, "AWS::ApiGateway::RestApi")["SampleApi"]["Properties"]
    assert api["ApiKeySourceType"] == "AUTHORIZER"
    body = api["Body"]

    def when_on(value: Any) -> Any:  # the sample API is conditional: its parts are wrapped in Fn::If
        return value["Fn::If"][1] if isinstance(value, dict) and "Fn::If" in value else value

    for path, methods in body["paths"].items():
        for verb, method in when_on(methods).items():
            assert {"api_key": []} in when_on(method)["security"], (path, verb)
    responses = body["x-amazon-apigateway-gateway-responses"]
    for kind, retry_after in (("THROTTLED", "'1'"), ("QUOTA_EXCEEDED", "'3600'")):
        assert responses[kind]["statusCode"] == "429"
        assert responses[kind]["responseParameters"]["gatewayresponse.header.Retry-After"] == retry_after
    # Keys without limits share one API key in a plan without limits, on the sample stage.
    plan = of_type(cloudformation, "AWS::ApiGateway::UsagePlan")["UnlimitedUsagePlan"]["Properties"]
    assert "Throttle" not in plan and "Quota" not in plan


def test_tables_are_partitioned_with_ttl_and_the_pepper_is_generated() -> None:
    template = load_template()
    keys = template["Resources"]["KeysTable"]["Properties"]
    assert [k["AttributeName"] for k in keys["KeySchema"]] == ["pk", "sk"]
    assert keys["TimeToLiveSpecification"]["Enabled"] is True
    assert "GenerateSecretString" in template["Resources"]["PepperSecret"]["Properties"]
    # The deployed argon2 cost is the code's default, and no deployment may go below OWASP's minimum.
    memory, time_cost = template["Parameters"]["Argon2MemoryKib"], template["Parameters"]["Argon2TimeCost"]
    assert (int(memory["Default"]), int(time_cost["Default"])) == (
        Argon2Parameters().memory_kib,
        Argon2Parameters().time_cost,
    )
    assert int(memory["MinValue"]) >= OWASP_MIN_MEMORY_KIB and int(time_cost["MinValue"]) >= OWASP_MIN_TIME_COST


def test_outputs_give_what_a_user_needs(cloudformation) -> None:
    assert {"ApiUrl", "AuthorizerFunctionArn", "KeysTableName", "IdempotencyTableName"} <= set(
        cloudformation["Outputs"]
    )
