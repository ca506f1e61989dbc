"""The local stack reads the production template as CloudFormation would: its conditions decide Fn::If, a
false branch of AWS::NoValue leaves the property out, and the parameters the local stack overrides win."""

from __future__ import annotations

from typing import Any

import pytest

from archie_local.template import (
    LOCAL_PARAMETERS,
    REGION,
    Resolver,
    evaluate_conditions,
    load_template,
    parameter_defaults,
)


def resolver(overrides: dict[str, str] | None = None) -> Resolver:
    template = load_template()
    local = Resolver(parameter_defaults(template, overrides))
    evaluate_conditions(template, local)
    return local


def test_conditions_follow_the_parameters() -> None:
    assert resolver().conditions["TracingOn"] is False  # off by default (make cost)
    assert resolver({"Tracing": "Active"}).conditions["TracingOn"] is True
    assert resolver().conditions["SampleApiOn"] is False  # a production stack has no demo API
    assert resolver({"DeploySampleApi": "true"}).conditions["SampleApiOn"] is True
    assert resolver().conditions["CanaryOn"] is True
    assert resolver({"AuthorizerReservedConcurrency": "-1"}).conditions["ReserveAuthorizerConcurrency"] is False
    assert resolver().conditions["ReserveAuthorizerConcurrency"] is True


def test_if_and_no_value_resolve_as_cloudformation_does() -> None:
    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert resolver().resolve(variables["POWERTOOLS_TRACE_DISABLED"]) == "true"
    assert resolver({"Tracing": "Active"}).resolve(variables["POWERTOOLS_TRACE_DISABLED"]) == "false"
    props = {"Reserved": template["Resources"]["AuthorizerFunction"]["Properties"]["ReservedConcurrentExecutions"]}
    assert resolver({"AuthorizerReservedConcurrency": "-1"}).resolve(props) == {}
    assert resolver().resolve(props) == {"Reserved": "100"}
    assert resolver().resolve({"Fn::Split": [",", {"Fn::Join": [",", ["a", "b", ""]]}]}) == ["a", "b", ""]


def provisioned(monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    """The template provisioned into moto's mock as the local stack does, and the APIs it would serve."""
    from moto import mock_aws

    from archie_local.lambdas import FunctionRegistry
    from archie_local.provision import provision
    from archie_local.routing import build_apis

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        local = provision(load_template(), None, parameter_overrides=overrides)
        import boto3

        groups = {g["logGroupName"] for g in boto3.client("logs").describe_log_groups()["logGroups"]}
        apis = build_apis(load_template(), local.resolver, FunctionRegistry(local.functions))
    return local, {"apis": apis, "log_groups": groups}


def test_the_local_stack_serves_the_sample_api_because_it_turns_the_parameter_on(monkeypatch) -> None:
    assert LOCAL_PARAMETERS["DeploySampleApi"] == "true"  # said once, for make run and every test tier
    local, seen = provisioned(monkeypatch, {})
    assert set(seen["apis"]) == {"ManagementApi", "SampleApi"}
    assert "EchoFunction" in local.functions and "SampleApiAccessLogs" in local.resolver.refs
    # The canary probes a deployed API Gateway, and the local scheduler runs every schedule every 0.25 s.
    assert LOCAL_PARAMETERS["DeployCanary"] == "false" and "CanaryFunction" not in local.functions


def test_a_resource_whose_condition_is_false_is_neither_provisioned_nor_served(monkeypatch) -> None:
    local, seen = provisioned(monkeypatch, {"DeploySampleApi": "false", "DeployCanary": "true"})
    assert set(seen["apis"]) == {"ManagementApi"}
    assert "EchoFunction" not in local.functions and "SampleApiAccessLogs" not in local.resolver.refs
    assert not any("Echo" in group for group in seen["log_groups"])
    assert "CanaryFunction" in local.functions
