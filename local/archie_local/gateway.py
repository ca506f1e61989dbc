"""A local API Gateway (REST, v1 proxy events) built from the template's APIs and function Events.

What it does as API Gateway does:
* routes by the template's Path/Method (literal segments before {param}, {proxy+} greedy), answering
  403 "Missing Authentication Token" for an unknown route and for any method no route has;
* a body over 10 MB is REQUEST_TOO_LARGE (413), before routing;
* CORS preflight (OPTIONS) answered without the authorizer when the API configures Cors;
* a REQUEST authorizer: missing identity sources answer 401 without calling it; its answer is cached for
  ReauthorizeEvery seconds keyed on the identity-source values; an "Unauthorized" error is 401 (cached too);
  any other failure is 500; the returned policy is evaluated against the method ARN (explicit Deny wins,
  no matching Allow is 403); 401/403 bodies come from the template's GatewayResponses;
* the authorizer's context reaches the backend in requestContext.authorizer;
* a JSON access-log record per request, in the template's AccessLogSetting format, to a sink.

The routes come from `routing`, the sockets from `http_server`, the cache flush from `control_plane`.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from archie_local.http_server import HttpRequest, HttpResponse
from archie_local.logs import render_access_log
from archie_local.routing import API_METHODS, LocalApi, Route
from archie_local.template import ACCOUNT_ID, REGION

logger = logging.getLogger("archie_local.gateway")

AccessLogSink = Callable[[LocalApi, str], None]


def _iam_match(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM evaluation for execute-api:Invoke on one ARN: an explicit Deny wins, else an Allow is needed."""
    allowed = False
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(_iam_match(a, "execute-api:Invoke") for a in actions):
            continue
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(_iam_match(r, method_arn) for r in resources):
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow":
                allowed = True
    return allowed


class Gateway:
    """Serves one LocalApi. `access_log` receives each request's rendered access-log line."""

    def __init__(self, api: LocalApi, access_log: AccessLogSink | None = None) -> None:
        self.api = api
        self.access_log = access_log

    def _gateway_response(self, kind: str, default_status: int, default_message: str | None) -> HttpResponse:
        """API Gateway's own answer of type `kind`: the template's GatewayResponses entry, else the default
        (compact JSON, as `{"message":"Missing Authentication Token"}` comes from AWS)."""
        configured = self.api.responses.get(kind)
        if configured is not None:
            return HttpResponse(
                configured.status, {"Content-Type": "application/json", **configured.headers}, configured.body.encode()
            )
        body = json.dumps({"message": default_message}, separators=(",", ":")).encode()
        return HttpResponse(default_status, {"Content-Type": "application/json"}, body)

    def _method_arn(self, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self.api.api_id}/{self.api.stage}/{method}{path}"

    def _authorize(
        self, request: HttpRequest, route: Route, path_params: dict[str, str], request_id: str, record: dict[str, Any]
    ) -> HttpResponse | dict[str, Any]:
        config = self.api.authorizer
        assert config is not None
        identity = []
        for header in config.header_sources:
            value = request.header(header)
            if not value:
                record["error.responseType"] = "UNAUTHORIZED"
                return self._gateway_response("UNAUTHORIZED", 401, "Unauthorized")
            identity.append(value)
        for variable in config.stage_variable_sources:
            value = self.api.variables.get(variable)
            if not value:
                record["error.responseType"] = "UNAUTHORIZED"
                return self._gateway_response("UNAUTHORIZED", 401, "Unauthorized")
            identity.append(value)
        cache_key = tuple(identity)
        now = time.monotonic()
        with self.api._cache_lock:
            cached = self.api._cache.get(cache_key)
        if cached is not None and cached[0] > now:
            outcome = cached[1]
        else:
            event = {
                "type": "REQUEST",
                "methodArn": self._method_arn(request.method, request.path),
                **self._request_fields(request, route, path_params),
                "requestContext": self._request_context(request, route, request_id),
            }
            try:
                outcome = config.function.invoke(event)
            except Exception as error:  # noqa: BLE001 - an authorizer failure is API Gateway's 500 or 401
                if str(error) != "Unauthorized":
                    logger.error("authorizer failed: %s", type(error).__name__)
                    record["error.responseType"] = "AUTHORIZER_FAILURE"
                    return self._gateway_response("AUTHORIZER_FAILURE", 500, None)
                outcome = "Unauthorized"
            if config.ttl_seconds > 0:
                with self.api._cache_lock:
                    self.api._cache[cache_key] = (now + config.ttl_seconds, outcome)
        if outcome == "Unauthorized":
            record["error.responseType"] = "UNAUTHORIZED"
            return self._gateway_response("UNAUTHORIZED", 401, "Unauthorized")
        context = dict(outcome.get("context") or {})
        record.update({f"authorizer.{k}": v for k, v in context.items()})
        if not policy_allows(outcome.get("policyDocument", {}), self._method_arn(request.method, request.path)):
            record["error.responseType"] = "ACCESS_DENIED"
            return self._gateway_response(
                "ACCESS_DENIED", 403, "User is not authorized to access this resource with an explicit deny"
            )
        return {**context, "principalId": outcome.get("principalId")}

    def _request_fields(self, request: HttpRequest, route: Route, path_params: dict[str, str]) -> dict[str, Any]:
        """What a REQUEST authorizer event and a v1 proxy event both carry about the request."""
        return {
            "resource": route.resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": dict(request.headers),
            "multiValueHeaders": _multi(request.headers),
            "queryStringParameters": {k: v[-1] for k, v in request.query.items()} or None,
            "multiValueQueryStringParameters": request.query or None,
            "pathParameters": path_params or None,
            "stageVariables": self.api.variables or None,
        }

    def _request_context(self, request: HttpRequest, route: Route, request_id: str) -> dict[str, Any]:
        return {
            "accountId": ACCOUNT_ID,
            "apiId": self.api.api_id,
            "resourcePath": route.resource,
            "httpMethod": request.method,
            "path": f"/{self.api.stage}{request.path}",
            "stage": self.api.stage,
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": request.source_ip, "userAgent": request.header("User-Agent")},
        }

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        # API Gateway's $context variables for this request, rendered through the template's access-log format.
        record: dict[str, Any] = {
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "httpMethod": request.method,
            "path": f"/{self.api.stage}{request.path}",
            "stage": self.api.stage,
            "apiId": self.api.api_id,
            "identity.sourceIp": request.source_ip,
            "identity.userAgent": request.header("User-Agent"),
        }
        response = self._handle(request, request_id, record)
        record["status"] = response.status
        response.headers.setdefault("x-amzn-RequestId", request_id)
        if self.access_log is not None and self.api.access_log_format:
            try:
                self.access_log(self.api, render_access_log(self.api.access_log_format, record))
            except Exception:
                logger.exception("access log sink failed")
        return response

    def _handle(self, request: HttpRequest, request_id: str, record: dict[str, Any]) -> HttpResponse:
        if request.body_too_large:
            record["error.responseType"] = "REQUEST_TOO_LARGE"
            return self._gateway_response("REQUEST_TOO_LARGE", 413, "Request Too Long")
        if request.method == "OPTIONS" and self.api.cors:
            return HttpResponse(204, dict(self.api.cors), b"")
        matched = self._match(request)
        if matched is None:
            static = self._static(request)
            if static is not None:
                return static
            record["error.responseType"] = "MISSING_AUTHENTICATION_TOKEN"
            return self._gateway_response("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
        route, path_params = matched
        record["resourcePath"] = route.resource
        authorizer_context: dict[str, Any] | None = None
        if self.api.authorizer is not None:
            outcome = self._authorize(request, route, path_params, request_id, record)
            if isinstance(outcome, HttpResponse):
                return outcome
            authorizer_context = outcome
        event = {
            **self._request_fields(request, route, path_params),
            "requestContext": {**self._request_context(request, route, request_id), "authorizer": authorizer_context},
            "body": request.body.decode("utf-8", errors="replace") if request.body else None,
            "isBase64Encoded": False,
        }
        try:
            result = route.function.invoke(event)
        except Exception:
            logger.exception("integration %s failed", route.function.spec.logical_id)
            record["error.responseType"] = "INTEGRATION_FAILURE"
            return HttpResponse(502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}')
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key] = ", ".join(str(v) for v in values)
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            import base64

            payload = base64.b64decode(body)
        else:
            payload = body.encode("utf-8")
        return HttpResponse(int(result.get("statusCode", 200)), headers, b"" if request.method == "HEAD" else payload)

    def _match(self, request: HttpRequest) -> tuple[Route, dict[str, str]] | None:
        method = request.method
        for route in self.api.routes:
            if route.method != method and not (route.method == "ANY" and method in API_METHODS):
                continue
            found = route.pattern.match(request.path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def _static(self, request: HttpRequest) -> HttpResponse | None:
        root = self.api.static_root
        if root is None or request.method not in ("GET", "HEAD"):
            return None
        relative = "index.html" if request.path in ("", "/") else request.path.lstrip("/")
        candidate = (root / relative).resolve()
        if root.resolve() not in candidate.parents or not candidate.is_file():
            return None
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        return HttpResponse(200, {"Content-Type": content_type, "Cache-Control": "no-cache"}, candidate.read_bytes())


def _multi(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in headers:
        values.setdefault(key, []).append(value)
    return values
