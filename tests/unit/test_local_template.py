"""The local stack reads the production template as CloudFormation would: its conditions decide Fn::If, a
false branch of AWS::NoValue leaves the property out, and the parameters the local stack overrides win."""

from __future__ import annotations

from archie_local.template import Resolver, evaluate_conditions, load_template, parameter_defaults


def resolver(overrides: dict[str, str] | None = None) -> Resolver:
    template = load_template()
    local = Resolver(parameter_defaults(template, overrides))
    evaluate_conditions(template, local)
    return local


def test_conditions_follow_the_parameters() -> None:
    assert resolver().conditions["TracingOn"] is False  # off by default (make cost)
    assert resolver({"Tracing": "Active"}).conditions["TracingOn"] is True
    assert resolver().conditions["HasAlarmTopic"] is False
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
