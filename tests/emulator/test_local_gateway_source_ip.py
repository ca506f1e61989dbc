"""Allow-lists and API Gateway's result cache, through the local gateway: with the source address among the
authorizer's identity sources (SAM's `Identity.Context: [identity.sourceIp]`), a decision cached for one address
never answers another; on a stage without it, a key with an allow-list is refused everywhere. The authorizer is
a stand-in applying domain.network's rules (tests/fakes/gateway_api.py), as archie-keys' will once wired; the
template-reading test builds the APIs from a template of its own."""

from __future__ import annotations

from typing import Any

import pytest

from archie_local.gateway import Gateway
from tests.fakes.gateway_api import Clock, FakeAuthorizer, FakeKey, call, fake_api


@pytest.fixture
def authorizer() -> FakeAuthorizer:
    return FakeAuthorizer(
        {
            "office": FakeKey(allowed_cidrs=("10.0.0.0/8",)),
            "local": FakeKey(allowed_cidrs=("127.0.0.0/8",)),
            "anywhere": FakeKey(),
        }
    )


def test_a_key_allowed_from_10_0_0_0_8_is_refused_from_127_0_0_1_and_one_allowed_from_127_0_0_0_8_is_not(
    authorizer: FakeAuthorizer,
) -> None:
    api = fake_api(authorizer, Clock(0.0), source_ip_in_cache_key=True)
    refused = call(api, "office", "127.0.0.1")
    assert refused.status == 403
    assert call(api, "local", "127.0.0.1").status == 200


def test_a_decision_cached_for_one_address_never_answers_another(authorizer: FakeAuthorizer) -> None:
    api = fake_api(authorizer, Clock(0.0), source_ip_in_cache_key=True)
    gateway = Gateway(api)
    assert call(api, "office", "10.1.2.3", gateway).status == 200
    assert call(api, "office", "192.0.2.1", gateway).status == 403
    assert call(api, "office", "10.1.2.3", gateway).status == 200
    assert call(api, "office", "192.0.2.1", gateway).status == 403
    assert authorizer.invocations == 2  # one decision per address, each then served from the cache


def test_on_a_stage_whose_cache_ignores_the_address_a_key_with_an_allow_list_is_refused_from_everywhere(
    authorizer: FakeAuthorizer,
) -> None:
    api = fake_api(authorizer, Clock(0.0), source_ip_in_cache_key=False)
    gateway = Gateway(api)
    assert call(api, "office", "10.1.2.3", gateway).status == 403  # inside its range, but the cache is shared
    assert call(api, "office", "192.0.2.1", gateway).status == 403  # the cached answer is a Deny, never an Allow
    assert authorizer.invocations == 1
    assert call(api, "anywhere", "192.0.2.1", gateway).status == 200  # keys without a list are unaffected


def test_the_source_address_in_the_cache_key_costs_one_decision_per_address(authorizer: FakeAuthorizer) -> None:
    per_address = fake_api(authorizer, Clock(0.0), source_ip_in_cache_key=True)
    for host in range(1, 6):
        call(per_address, "anywhere", f"198.51.100.{host}", Gateway(per_address))
    shared = FakeAuthorizer(dict(authorizer.keys))
    per_key = fake_api(shared, Clock(0.0), source_ip_in_cache_key=False)
    for host in range(1, 6):
        call(per_key, "anywhere", f"198.51.100.{host}", Gateway(per_key))
    assert (authorizer.invocations, shared.invocations) == (5, 1)


TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Api": {
            "Type": "AWS::Serverless::Api",
            "Properties": {
                "StageName": "dev",
                "ApiKeySourceType": "AUTHORIZER",
                "Variables": {"source_ip_in_cache_key": "true"},
                "Auth": {
                    "DefaultAuthorizer": "Keys",
                    "ApiKeyRequired": True,
                    "Authorizers": {
                        "Keys": {
                            "FunctionArn": {"Fn::GetAtt": ["AuthFn", "Arn"]},
                            "Identity": {"Headers": ["Authorization"], "Context": ["identity.sourceIp"]},
                        }
                    },
                },
            },
        },
        "OrdersFn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Events": {
                    "Limited": {
                        "Type": "Api",
                        "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/orders", "Method": "get"},
                    },
                    "Open": {
                        "Type": "Api",
                        "Properties": {
                            "RestApiId": {"Ref": "Api"},
                            "Path": "/health",
                            "Method": "get",
                            "Auth": {"ApiKeyRequired": False},
                        },
                    },
                }
            },
        },
        "Plan": {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "ApiStages": [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "Api.Stage"}}],
                "Throttle": {"RateLimit": 1, "BurstLimit": 1},
            },
        },
        "Key": {
            "Type": "AWS::ApiGateway::ApiKey",
            "Properties": {"Value": "akvalue0000000000000000a", "Enabled": True},
        },
        "PlanKey": {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {"KeyId": {"Ref": "Key"}, "UsagePlanId": {"Ref": "Plan"}, "KeyType": "API_KEY"},
        },
    }
}


def test_the_template_sets_the_identity_sources_the_api_key_source_and_the_usage_plans() -> None:
    from archie_local.http_server import HttpRequest
    from archie_local.routing import build_apis
    from archie_local.template import Resolver
    from tests.fakes.gateway_api import EchoBackend

    authorizer = FakeAuthorizer({"a": FakeKey("akvalue0000000000000000a", ("127.0.0.0/8",))})
    registry: Any = {"AuthFn": authorizer, "OrdersFn": EchoBackend()}
    api = build_apis(TEMPLATE, Resolver({}, refs={"Api": "localapi01"}), registry)["Api"]
    api.clock = Clock(0.0)
    assert api.authorizer is not None and api.authorizer.context_sources == ["identity.sourceIp"]
    assert api.api_key_source == "AUTHORIZER"
    assert {r.resource: r.api_key_required for r in api.routes} == {"/orders": True, "/health": False}
    gateway = Gateway(api)

    def get(path: str, source_ip: str = "127.0.0.1") -> int:
        return gateway.handle(HttpRequest("GET", path, {}, [("Authorization", "Bearer a")], b"", source_ip)).status

    assert [get("/orders"), get("/orders"), get("/health"), get("/orders", "10.0.0.1")] == [200, 429, 200, 403]


def test_an_identity_source_the_emulator_cannot_give_stops_the_build() -> None:
    from copy import deepcopy

    from archie_local.routing import build_apis
    from archie_local.template import Resolver

    template = deepcopy(TEMPLATE)
    template["Resources"]["Api"]["Properties"]["Auth"]["Authorizers"]["Keys"]["Identity"]["Context"] = ["requestId"]
    with pytest.raises(ValueError, match="requestId"):
        build_apis(template, Resolver({}, refs={"Api": "localapi01"}), {"AuthFn": FakeAuthorizer()})  # type: ignore[arg-type]
