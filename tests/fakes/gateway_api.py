"""A small API for the local gateway, built without the template or moto: one route, a backend that echoes
what reached it, and a REQUEST authorizer that stands in for archie-keys' (whose wiring of allow-lists and
usage identifiers comes later) while applying the very domain rules it will apply. Tests of the emulator's
own behaviour (caching, usage plans) use it; tests of the service use the template's APIs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archie_keys.domain.network import AllowList, source_ip_refusal, stage_keys_cache_on_source_ip
from archie_local.gateway import Gateway
from archie_local.http_server import HttpRequest, HttpResponse
from archie_local.routing import AuthorizerConfig, GatewayResponse, LocalApi, Route
from archie_local.usage_plans import UsagePlans

API_ID, STAGE = "fakeapi123", "dev"
# What the template's protected APIs answer for a usage plan's refusals (docs/limits.md): Retry-After set.
LIMIT_RESPONSES = {
    "THROTTLED": GatewayResponse(429, '{"code": "rate_limited", "message": "slow down"}', {"Retry-After": "1"}),
    "QUOTA_EXCEEDED": GatewayResponse(
        429, '{"code": "quota_exhausted", "message": "this key\'s quota is used up"}', {"Retry-After": "3600"}
    ),
}


@dataclass
class Spec:
    logical_id: str


@dataclass
class FakeKey:
    """A key as the fake authorizer knows it: its API key value (usageIdentifierKey) and its allow-list."""

    usage_identifier: str | None = None
    allowed_cidrs: tuple[str, ...] = ()


@dataclass
class FakeAuthorizer:
    """`Authorization: Bearer <name>` of a known key: an Allow of the whole stage, else a Deny."""

    keys: dict[str, FakeKey] = field(default_factory=dict)
    invocations: int = 0
    spec: Spec = field(default_factory=lambda: Spec("FakeAuthorizer"))

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.invocations += 1
        name = str((event.get("headers") or {}).get("Authorization", "")).removeprefix("Bearer ")
        key = self.keys.get(name)
        arn = "/".join(str(event["methodArn"]).split("/")[:2]) + "/*"
        refusal = None if key is not None else "not_found"
        if key is not None:
            source = event["requestContext"]["identity"]["sourceIp"]
            cache_keyed = stage_keys_cache_on_source_ip(event.get("stageVariables"))
            refusal = source_ip_refusal(AllowList.of(key.allowed_cidrs), source, cache_keyed)
        effect = "Deny" if refusal else "Allow"
        answer: dict[str, Any] = {
            "principalId": name,
            "policyDocument": {"Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}]},
            "context": {"key_id": name, **({"refusal": refusal} if refusal else {})},
        }
        if key is not None and key.usage_identifier is not None:
            answer["usageIdentifierKey"] = key.usage_identifier
        return answer


class EchoBackend:
    spec = Spec("EchoFunction")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 200, "body": json.dumps({"authorizer": event["requestContext"]["authorizer"]})}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fake_api(
    authorizer: FakeAuthorizer,
    clock: Callable[[], float],
    *,
    source_ip_in_cache_key: bool = False,
    api_key_required: bool = False,
    ttl_seconds: int = 300,
) -> LocalApi:
    """One `ANY /orders` route behind the fake authorizer, cached on Authorization (and the source address when
    asked, with the stage variable that declares it), with the usage plans' key from the authorizer."""
    route = Route(
        "ANY",
        "/orders",
        re.compile("^/orders$"),
        EchoBackend(),
        (1, 0),
        api_key_required=api_key_required,
    )
    config = AuthorizerConfig(
        function=authorizer,
        header_sources=["Authorization"],
        stage_variable_sources=[],
        ttl_seconds=ttl_seconds,
        context_sources=["identity.sourceIp"] if source_ip_in_cache_key else [],
    )
    return LocalApi(
        logical_id="FakeApi",
        api_id=API_ID,
        stage=STAGE,
        variables={"source_ip_in_cache_key": "true"} if source_ip_in_cache_key else {},
        routes=[route],
        authorizer=config,
        responses=dict(LIMIT_RESPONSES),
        cors=None,
        access_log_format=None,
        api_key_source="AUTHORIZER",
        usage_plans=UsagePlans({(API_ID, STAGE)}),
        clock=clock,
    )


def call(api: LocalApi, key: str, source_ip: str = "127.0.0.1", gateway: Gateway | None = None) -> HttpResponse:
    request = HttpRequest("GET", "/orders", {}, [("Authorization", f"Bearer {key}")], b"", source_ip)
    return (gateway or Gateway(api)).handle(request)
