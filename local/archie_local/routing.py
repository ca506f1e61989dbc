"""The template's REST APIs as the local API Gateway sees them: routes (from the functions' Api Events), the
REQUEST authorizer's configuration, gateway responses, CORS, the access-log setting, and the API-key settings
that put a method under the usage plans (`usage_plans`), per API."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from archie_local.http_server import HttpResponse
from archie_local.lambdas import FunctionRegistry
from archie_local.template import Resolver, resources_of_type
from archie_local.usage_plans import UsagePlans, from_template

# The $context variables a REQUEST authorizer may take as identity sources here (SAM's Identity.Context).
CONTEXT_SOURCES = frozenset({"identity.sourceIp", "identity.userAgent"})

# The methods API Gateway knows: a route's ANY means these, and nothing else reaches an integration.
API_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})


class Invocable(Protocol):
    """What a route's integration or an authorizer runs: a LocalFunction, or a test's stand-in for one."""

    def invoke(self, event: dict[str, Any]) -> Any: ...


@dataclass
class Route:
    method: str
    resource: str
    pattern: re.Pattern[str]
    function: Invocable
    specificity: tuple[int, int]
    # False for an event with `Auth: {Authorizer: NONE}`: the API's default authorizer does not run.
    authorized: bool = True
    # The method requires an API key (the event's Auth.ApiKeyRequired, else the API's): usage plans apply.
    api_key_required: bool = False


@dataclass
class AuthorizerConfig:
    function: Invocable
    header_sources: list[str]
    stage_variable_sources: list[str]
    ttl_seconds: int
    # $context variables among the identity sources (SAM's Identity.Context), e.g. identity.sourceIp.
    context_sources: list[str] = field(default_factory=list)


@dataclass
class GatewayResponse:
    status: int
    body: str
    headers: dict[str, str]


@dataclass
class LocalApi:
    logical_id: str
    api_id: str
    stage: str
    variables: dict[str, str]
    routes: list[Route]
    authorizer: AuthorizerConfig | None
    responses: dict[str, GatewayResponse]
    cors: dict[str, str] | None
    access_log_format: str | None
    access_log_group: str | None = None
    # URL path -> file of the static site served beside this API (archie_local.site), if any.
    static_site: Callable[[str], Path | None] | None = None
    # (URL path, this API's base URL) -> the body of a site file that names the API serving it, else None.
    static_rendered: Callable[[str, str], bytes | None] | None = None
    # The headers every answer of the static site carries (archie_local.site.security_headers).
    static_headers: dict[str, str] = field(default_factory=dict)
    # Where the key of a method that requires one comes from: HEADER (x-api-key) or AUTHORIZER (the
    # authorizer's usageIdentifierKey); the API keys and usage plans it is checked against, shared by every API.
    api_key_source: str = "HEADER"
    usage_plans: UsagePlans | None = None
    # The time the authorizer cache and the usage plans see (epoch seconds): a test moves it instead of sleeping.
    clock: Callable[[], float] = time.time
    _cache: dict[tuple[str, ...], tuple[float, Any]] = field(default_factory=dict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)

    def flush_authorizer_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def gateway_response(self, kind: str, default_status: int, default_message: str | None) -> HttpResponse:
        """API Gateway's own answer of type `kind`: the template's GatewayResponses entry, else the default
        (compact JSON, as `{"message":"Missing Authentication Token"}` comes from AWS)."""
        configured = self.responses.get(kind)
        if configured is not None:
            return HttpResponse(
                configured.status, {"Content-Type": "application/json", **configured.headers}, configured.body.encode()
            )
        body = json.dumps({"message": default_message}, separators=(",", ":")).encode()
        return HttpResponse(default_status, {"Content-Type": "application/json"}, body)


def _compile(path: str) -> tuple[re.Pattern[str], tuple[int, int]]:
    regex, literal, greedy = "", 0, 0
    for segment in path.strip("/").split("/"):
        if not segment:
            continue
        match = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
        if match and match.group(2):
            regex += f"/(?P<{match.group(1)}>.+)"
            greedy += 1
        elif match:
            regex += f"/(?P<{match.group(1)}>[^/]+)"
        else:
            regex += "/" + re.escape(segment)
            literal += 1
    return re.compile(f"^{regex or '/'}$"), (literal, -greedy)


def _strip_quotes(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value


def _function_of(value: Any) -> str:
    """The logical id behind FunctionArn: !GetAtt X.Arn, or !Ref X.Alias (SAM's AutoPublishAlias: locally the
    function itself serves its alias, as there is one version of the code)."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if isinstance(value, dict) and str(value.get("Ref", "")).endswith(".Alias"):
        return str(value["Ref"]).removesuffix(".Alias")
    raise ValueError(f"unsupported authorizer FunctionArn {value!r}")


def build_apis(template: dict[str, Any], resolver: Resolver, registry: FunctionRegistry) -> dict[str, LocalApi]:
    apis: dict[str, LocalApi] = {}
    keys_required: dict[str, bool] = {}  # the API's Auth.ApiKeyRequired: each method's default
    for name, spec in resources_of_type(template, "AWS::Serverless::Api", resolver).items():
        props = spec["Properties"]
        auth = props.get("Auth", {})
        authorizer = None
        default = auth.get("DefaultAuthorizer")
        if default:
            config = auth["Authorizers"][default]
            identity = config.get("Identity", {})
            unknown = set(identity.get("Context", [])) - CONTEXT_SOURCES
            if unknown:
                raise ValueError(f"{name}: identity sources {sorted(unknown)} are not emulated locally")
            authorizer = AuthorizerConfig(
                function=registry[_function_of(config["FunctionArn"])],
                header_sources=list(identity.get("Headers", [])),
                stage_variable_sources=list(identity.get("StageVariables", [])),
                ttl_seconds=int(resolver.resolve(identity.get("ReauthorizeEvery", 300))),
                context_sources=list(identity.get("Context", [])),
            )
        if auth.get("UsagePlan", {}).get("CreateUsagePlan", "NONE") != "NONE":
            raise ValueError(
                f"{name}: SAM's Auth.UsagePlan is not emulated locally; declare AWS::ApiGateway::UsagePlan"
            )
        responses = {}
        for kind, response in props.get("GatewayResponses", {}).items():
            templates = response.get("ResponseTemplates", {})
            headers = {
                k: _strip_quotes(str(v)) for k, v in response.get("ResponseParameters", {}).get("Headers", {}).items()
            }
            responses[kind] = GatewayResponse(
                int(response.get("StatusCode", 500)), templates.get("application/json", ""), headers
            )
        cors = None
        if "Cors" in props:
            cors = {
                "Access-Control-Allow-Origin": _strip_quotes(props["Cors"].get("AllowOrigin", "'*'")),
                "Access-Control-Allow-Headers": _strip_quotes(props["Cors"].get("AllowHeaders", "'*'")),
                "Access-Control-Allow-Methods": _strip_quotes(props["Cors"].get("AllowMethods", "'*'")),
            }
        access_log = props.get("AccessLogSetting", {}).get("Format")
        access_log_group = (
            resolver.resolve(props["AccessLogSetting"]["DestinationArn"]).split(":log-group:")[-1]
            if "AccessLogSetting" in props
            else None
        )
        apis[name] = LocalApi(
            logical_id=name,
            api_id=resolver.ref(name),
            stage=str(resolver.resolve(props["StageName"])),
            variables={k: str(v) for k, v in resolver.resolve(props.get("Variables", {})).items()},
            routes=[],
            authorizer=authorizer,
            responses=responses,
            cors=cors,
            access_log_format=access_log,
            access_log_group=access_log_group,
            api_key_source=str(resolver.resolve(props.get("ApiKeySourceType", "HEADER"))),
        )
        keys_required[name] = auth.get("ApiKeyRequired") is True
    for fn_name, spec in resources_of_type(template, "AWS::Serverless::Function", resolver).items():
        for event in spec["Properties"].get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            event_props = event["Properties"]
            api_name = event_props["RestApiId"]["Ref"]
            pattern, specificity = _compile(event_props["Path"])
            event_auth = event_props.get("Auth", {})
            authorized = event_auth.get("Authorizer") != "NONE"
            apis[api_name].routes.append(
                Route(
                    event_props["Method"].upper(),
                    event_props["Path"],
                    pattern,
                    registry[fn_name],
                    specificity,
                    authorized,
                    api_key_required=event_auth.get("ApiKeyRequired", keys_required[api_name]) is True,
                )
            )
    usage_plans = from_template(template, resolver, {name: (api.api_id, api.stage) for name, api in apis.items()})
    for api in apis.values():
        api.routes.sort(key=lambda r: r.specificity, reverse=True)
        api.usage_plans = usage_plans
    return apis
