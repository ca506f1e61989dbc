"""The local API Gateway, in-process: what reaches Lambda and the access log is what API Gateway puts there.

The real template's management API, the real authorizer and handlers, each wrapped in a spy that records the
event it receives; access-log lines are rendered from the template's format (plus the extended request id
the template's format is gaining)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from archie_local.template import ACCOUNT_ID, REGION
from tests.conftest import InProcessApi
from tests.support import Reply, env_path

WHOAMI = env_path("demo", "dev", "/whoami")
WHOAMI_RESOURCE = "/projects/{project}/environments/{environment}/whoami"
EXTENDED_ID = re.compile(r"[A-Za-z0-9+/]{15}=")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EXTENDED_FIELD = '"extended_request_id":"$context.extendedRequestId"'


class Spy:
    """Records each event a function receives, then lets the function answer it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return self.inner.invoke(event)


@dataclass
class Served:
    call: InProcessApi
    api: Any
    authorizer: Spy
    handlers: dict[str, Spy]
    log: list[dict[str, Any]]

    def handler_event(self, name: str = "WhoamiFunction") -> dict[str, Any]:
        return self.handlers[name].events[-1]

    def authorizer_event(self) -> dict[str, Any]:
        return self.authorizer.events[-1]


@pytest.fixture
def served(aws: Any) -> Served:
    from archie_local.gateway import Gateway
    from archie_local.lambdas import FunctionRegistry
    from archie_local.routing import build_apis
    from archie_local.template import load_template

    api = build_apis(load_template(), aws.resolver, FunctionRegistry(aws.functions))["ManagementApi"]
    handlers: dict[str, Spy] = {}
    for route in api.routes:
        route.function = handlers.setdefault(route.function.spec.logical_id, Spy(route.function))
    authorizer = Spy(api.authorizer.function)
    api.authorizer.function = authorizer
    if EXTENDED_FIELD not in api.access_log_format:
        api.access_log_format = api.access_log_format[:-1] + "," + EXTENDED_FIELD + "}"
    log: list[dict[str, Any]] = []
    gateway = Gateway(api, lambda _api, line: log.append(json.loads(line)))
    return Served(InProcessApi(gateway), api, authorizer, handlers, log)


def whoami(served: Served, key: str, path: str = WHOAMI, **headers: str) -> Reply:
    reply = served.call("GET", path, key, headers=headers)
    assert reply.status == 200, reply.body
    return reply


# --- API Gateway's own answers ---------------------------------------------------------------------------


def test_an_unknown_route_gets_api_gateways_exact_body(served: Served) -> None:
    from archie_local.http_server import HttpRequest

    reply = served.call.gateway.handle(HttpRequest("GET", "/nowhere", {}, [], b"", "127.0.0.1"))
    assert (reply.status, reply.body) == (403, b'{"message":"Missing Authentication Token"}')


def test_an_authorizer_that_fails_is_the_templates_503_with_retry_after(served: Served, admin_key: str) -> None:
    working = served.authorizer.inner

    class Failing:
        def invoke(self, event: dict[str, Any]) -> Any:
            raise RuntimeError("the authorizer crashed")

    served.api.authorizer.ttl_seconds = 300  # with API Gateway's result cache on
    served.authorizer.inner = Failing()
    reply = served.call("GET", WHOAMI, admin_key)
    assert (reply.status, reply.body["code"], reply.headers["Retry-After"]) == (503, "service_unavailable", "2")
    assert served.log[-1]["error"] == "AUTHORIZER_FAILURE"
    # A failure is never cached: once the authorizer answers again, so does the gateway.
    served.authorizer.inner = working
    assert served.call("GET", WHOAMI, admin_key).status == 200


# --- the authorizer's identity source -------------------------------------------------------------------


def send(served: Served, *authorizations: tuple[str, str]) -> Any:
    """GET /whoami with exactly these (name, value) Authorization headers, duplicates kept."""
    from archie_local.http_server import HttpRequest

    return served.call.gateway.handle(HttpRequest("GET", WHOAMI, {}, list(authorizations), b"", "127.0.0.1"))


@pytest.mark.parametrize("second_name", ["Authorization", "authorization"], ids=["same-case", "other-case"])
def test_two_authorization_headers_are_refused_and_cache_nothing(
    served: Served, admin_key: str, second_name: str
) -> None:
    garbage, real = ("Authorization", "Bearer garbage"), (second_name, f"Bearer {admin_key}")
    keyless = send(served)
    # Given a request with two Authorization headers, the first garbage and the second a real key
    for headers in ((garbage, real), (real, garbage)):
        # Then it gets the UNAUTHORIZED gateway response a keyless request gets, without asking the
        # authorizer, and is recorded like any 401
        reply = send(served, *headers)
        assert (reply.status, reply.body) == (401, keyless.body)
        assert served.authorizer.events == []
        assert (served.log[-1]["status"], served.log[-1]["error"]) == ("401", "UNAUTHORIZED")
    # And the garbage alone is not served an answer cached for the real key
    assert send(served, garbage).status == 401
    assert len(served.authorizer.events) == 1
    # While the real key alone still works
    assert send(served, real).status == 200


# --- request ids ------------------------------------------------------------------------------------------


def test_a_client_sent_uuid_request_id_is_the_request_id_everywhere(served: Served, admin_key: str) -> None:
    # Given a client that sends its own request id, a UUID
    sent = str(uuid.uuid4())
    # When it calls a route
    reply = whoami(served, admin_key, **{"x-amzn-RequestId": sent})
    # Then API Gateway's request id is that id: in the answer, both events and the access log
    assert reply.headers["x-amzn-RequestId"] == sent
    assert served.authorizer_event()["requestContext"]["requestId"] == sent
    assert served.handler_event()["requestContext"]["requestId"] == sent
    assert served.log[-1]["request_id"] == sent


@pytest.mark.parametrize("sent", ["not-a-uuid", "{3f1c2b8e-9a4d-4e7f-8b6a-1c2d3e4f5a6b}", "../" * 12, ""])
def test_a_request_id_that_is_not_a_uuid_is_ignored(served: Served, admin_key: str, sent: str) -> None:
    reply = whoami(served, admin_key, **{"x-amzn-RequestId": sent})
    generated = reply.headers["x-amzn-RequestId"]
    assert generated != sent and UUID.fullmatch(generated)
    assert served.handler_event()["requestContext"]["requestId"] == generated
    assert served.log[-1]["request_id"] == generated


def test_each_request_has_its_own_extended_request_id_which_no_client_can_set(served: Served, admin_key: str) -> None:
    # Given clients that try to set the extended id every way they could
    attempts = {"x-amz-apigw-id": "AAAAAAAAAAAAAAA=", "x-amzn-extendedRequestId": "AAAAAAAAAAAAAAA="}
    seen: set[str] = set()
    for _ in range(20):
        reply = whoami(served, admin_key, **attempts)
        # Then each request gets a fresh one, in API Gateway's format, in the answer, both events and the log
        extended = reply.headers["x-amz-apigw-id"]
        assert EXTENDED_ID.fullmatch(extended) and extended != attempts["x-amz-apigw-id"]
        assert served.authorizer_event()["requestContext"]["extendedRequestId"] == extended
        assert served.handler_event()["requestContext"]["extendedRequestId"] == extended
        assert served.log[-1]["extended_request_id"] == extended
        seen.add(extended)
    assert len(seen) == 20


@pytest.mark.parametrize(
    ("method", "path", "with_key", "status"),
    [("GET", WHOAMI, False, 401), ("GET", "/nowhere", True, 403), ("TRACE", WHOAMI, True, 403)],
    ids=["unauthorized", "unknown-route", "unknown-method"],
)
def test_gateway_responses_carry_both_ids_too(
    served: Served, admin_key: str, method: str, path: str, with_key: bool, status: int
) -> None:
    reply = served.call(method, path, admin_key if with_key else None)
    assert reply.status == status
    assert UUID.fullmatch(reply.headers["x-amzn-RequestId"])
    assert EXTENDED_ID.fullmatch(reply.headers["x-amz-apigw-id"])
    assert served.log[-1]["request_id"] == reply.headers["x-amzn-RequestId"]


def test_a_handler_cannot_replace_the_gateway_request_ids(served: Served, admin_key: str) -> None:
    # Given a handler whose answer carries headers named like the gateway's ids
    spy = served.handlers["WhoamiFunction"]
    honest = spy.inner

    class Forging:
        spec = honest.spec

        def invoke(self, event: dict[str, Any]) -> Any:
            answer = honest.invoke(event)
            answer["headers"] = {**(answer.get("headers") or {}), "X-Amzn-RequestId": "f", "X-Amz-Apigw-Id": "f"}
            return answer

    spy.inner = Forging()
    # Then the answer carries the gateway's ids, once each
    reply = whoami(served, admin_key)
    ids = {k: v for k, v in reply.headers.items() if k.lower() in ("x-amzn-requestid", "x-amz-apigw-id")}
    assert ids == {"x-amzn-RequestId": served.log[-1]["request_id"], "x-amz-apigw-id": ids["x-amz-apigw-id"]}
    assert EXTENDED_ID.fullmatch(ids["x-amz-apigw-id"])


# --- the stage in the path --------------------------------------------------------------------------------


def method_arn(served: Served) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{served.api.api_id}/{served.api.stage}/GET{WHOAMI}"


def test_the_execute_api_form_has_the_stage_in_context_path_but_not_in_the_event_path(
    served: Served, admin_key: str
) -> None:
    # Given the URL execute-api serves: /{stage}/...
    stage = served.api.stage
    whoami(served, admin_key, f"/{stage}{WHOAMI}")
    # Then the event's path has no stage, requestContext.path and $context.path have it
    event = served.handler_event()
    assert (event["path"], event["resource"]) == (WHOAMI, WHOAMI_RESOURCE)
    assert event["requestContext"]["path"] == f"/{stage}{WHOAMI}"
    assert event["requestContext"]["stage"] == stage
    assert event["pathParameters"] == {"project": "demo", "environment": "dev"}
    assert served.log[-1]["path"] == f"/{stage}{WHOAMI}"
    # And the authorizer sees the same, with the stage's method ARN
    authorizer = served.authorizer_event()
    assert (authorizer["path"], authorizer["requestContext"]["path"]) == (WHOAMI, f"/{stage}{WHOAMI}")
    assert authorizer["methodArn"] == method_arn(served)


def test_the_custom_domain_form_has_the_path_as_called_everywhere(served: Served, admin_key: str) -> None:
    # Given the URL a custom domain with an empty base path mapping serves: no stage
    whoami(served, admin_key, WHOAMI)
    # Then every path is the one called: audit records show only paths a client called
    event = served.handler_event()
    assert (event["path"], event["requestContext"]["path"], event["resource"]) == (WHOAMI, WHOAMI, WHOAMI_RESOURCE)
    assert served.log[-1]["path"] == WHOAMI
    authorizer = served.authorizer_event()
    assert (authorizer["path"], authorizer["requestContext"]["path"]) == (WHOAMI, WHOAMI)
    # And the method ARN is the stage's, the same as for the execute-api form
    assert authorizer["methodArn"] == method_arn(served)


def test_both_forms_reach_the_same_handler_with_the_same_answer(served: Served, admin_key: str) -> None:
    on_domain = whoami(served, admin_key, WHOAMI)
    on_execute_api = whoami(served, admin_key, f"/{served.api.stage}{WHOAMI}")
    assert on_domain.body == on_execute_api.body
    assert len(served.handlers["WhoamiFunction"].events) == 2


def test_the_stage_alone_is_the_root_resource(served: Served) -> None:
    reply = served.call("POST", f"/{served.api.stage}")
    assert (reply.status, reply.body) == (403, {"message": "Missing Authentication Token"})
    assert served.log[-1]["path"] == f"/{served.api.stage}"


# --- methods and bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND", "BREW"])
def test_a_method_no_route_has_is_answered_like_an_unknown_route(served: Served, admin_key: str, method: str) -> None:
    unknown_route = served.call("GET", "/nowhere", admin_key)
    unknown_method = served.call(method, env_path("demo", "dev", "/keys"), admin_key)
    assert (unknown_method.status, unknown_method.body) == (unknown_route.status, unknown_route.body)
    assert unknown_method.body == {"message": "Missing Authentication Token"}
    assert served.authorizer.events == []  # API Gateway refuses it before any authorizer runs
    assert (served.log[-1]["method"], served.log[-1]["error"]) == (method, "MISSING_AUTHENTICATION_TOKEN")


def test_a_body_over_the_limit_is_api_gateways_request_too_large(served: Served, admin_key: str) -> None:
    from archie_local.http_server import HttpRequest

    oversized = HttpRequest("POST", env_path("demo", "dev", "/keys"), {}, [], b"", "127.0.0.1", body_too_large=True)
    reply = served.call.gateway.handle(oversized)
    assert (reply.status, json.loads(reply.body)) == (413, {"message": "Request Too Long"})
    assert served.authorizer.events == [] and not any(spy.events for spy in served.handlers.values())
    assert (served.log[-1]["status"], served.log[-1]["error"]) == ("413", "REQUEST_TOO_LARGE")
    assert reply.headers["x-amzn-RequestId"] and reply.headers["x-amz-apigw-id"]


def test_the_dashboard_is_served_at_the_root_and_under_the_stage(served: Served, tmp_path: Any) -> None:
    (tmp_path / "index.html").write_text("<html>dashboard</html>")
    served.api.static_site = lambda path: tmp_path / "index.html" if path.strip("/") in ("", served.api.stage) else None
    for path in ("/", f"/{served.api.stage}/"):
        reply = served.call("GET", path)
        assert (reply.status, reply.body) == (200, "<html>dashboard</html>"), path


def policy_template(config: dict[str, Any]) -> dict[str, Any]:
    """A template whose dashboard distribution has a response headers policy of this config."""
    behavior = {"ResponseHeadersPolicyId": {"Ref": "Policy"}}
    return {
        "Resources": {
            "DashboardDistribution": {"Properties": {"DistributionConfig": {"DefaultCacheBehavior": behavior}}},
            "Policy": {"Properties": {"ResponseHeadersPolicyConfig": {"Name": "p", **config}}},
        }
    }


def test_the_site_sends_every_cloudfront_header_setting_as_cloudfront_renders_it() -> None:
    from archie_local.site import security_headers
    from archie_local.template import Resolver

    config = {
        "SecurityHeadersConfig": {
            "ContentSecurityPolicy": {
                "Override": True,
                "ContentSecurityPolicy": {"Fn::Sub": "connect-src ${AWS::Region}"},
            },
            "StrictTransportSecurity": {"Override": True, "AccessControlMaxAgeSec": 600, "Preload": True},
            "ContentTypeOptions": {"Override": False},
            "FrameOptions": {"Override": True, "FrameOption": "SAMEORIGIN"},
            "ReferrerPolicy": {"Override": True, "ReferrerPolicy": "same-origin"},
            "XSSProtection": {"Override": True, "Protection": True, "ModeBlock": True},
        },
        "CustomHeadersConfig": {"Items": [{"Header": "Permissions-Policy", "Value": "camera=()", "Override": True}]},
    }
    assert security_headers(policy_template(config), Resolver({})) == {
        "Content-Security-Policy": f"connect-src {REGION}",
        "Strict-Transport-Security": "max-age=600; preload",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
        "Referrer-Policy": "same-origin",
        "X-XSS-Protection": "1; mode=block",
        "Permissions-Policy": "camera=()",
    }


@pytest.mark.parametrize(
    "config",
    [{"RemoveHeadersConfig": {"Items": [{"Header": "Server"}]}}, {"SecurityHeadersConfig": {"Nonsense": {}}}],
    ids=["a-policy-setting", "a-security-header"],
)
def test_a_header_setting_the_local_site_cannot_send_fails_loudly(config: dict[str, Any]) -> None:
    from archie_local.site import security_headers
    from archie_local.template import Resolver

    with pytest.raises(ValueError, match="does not send"):
        security_headers(policy_template(config), Resolver({}))
