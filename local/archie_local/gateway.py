"""A local API Gateway (REST, v1 proxy events) built from the template's APIs and function Events.

What it does as API Gateway does:
* serves each API both as execute-api does (`/{stage}/...`) and as a custom domain with an empty base path
  mapping does (`/...`), with the paths AWS sets for each form (`events`);
* routes by the template's Path/Method (literal segments before {param}, {proxy+} greedy), answering
  403 "Missing Authentication Token" for an unknown route and for any method no route has;
* a body over 10 MB is REQUEST_TOO_LARGE (413), before routing;
* CORS preflight (OPTIONS) answered without the authorizer when the API configures Cors;
* the REQUEST authorizer (`authorization`), whose context reaches the backend in requestContext.authorizer;
* usage plans on methods that require an API key (`usage_plans`): INVALID_API_KEY (403), QUOTA_EXCEEDED and
  THROTTLED (429), each key against its own plan's limits;
* request ids: `requestId` (the client's x-amzn-RequestId when a UUID) and `extendedRequestId` (its own),
  in both events' requestContext and on every response as x-amzn-RequestId and x-amz-apigw-id;
* a JSON access-log record per request, in the template's AccessLogSetting format, to a sink.

The routes come from `routing`, the sockets from `http_server`, the cache flush from `control_plane`.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from archie_local.authorization import Authorized, authorize, policy_allows
from archie_local.events import Call, request_context, request_fields
from archie_local.http_server import HttpRequest, HttpResponse
from archie_local.lambdas import Occupancy
from archie_local.logs import render_access_log
from archie_local.routing import API_METHODS, LocalApi, Route
from archie_local.usage_plans import ADMITTED

# API Gateway's own answers when a usage plan refuses a request (its default gateway responses).
_USAGE_REFUSALS = {
    "INVALID_API_KEY": (403, "Forbidden"),
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
}

__all__ = ["AccessLogSink", "Gateway", "policy_allows"]

logger = logging.getLogger("archie_local.gateway")

AccessLogSink = Callable[[LocalApi, str], None]


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set `name`, replacing it in whatever case the integration wrote it."""
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    headers[name] = value


class Gateway:
    """Serves one LocalApi. `access_log` receives each request's rendered access-log line."""

    def __init__(self, api: LocalApi, access_log: AccessLogSink | None = None) -> None:
        self.api = api
        self.access_log = access_log
        # Seconds from a request's arrival to its answer, authorizer and integration included (make load).
        self.occupancy = Occupancy()

    def handle(self, request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        try:
            return self._serve(request)
        finally:
            self.occupancy.add(time.perf_counter() - began)

    def _serve(self, request: HttpRequest) -> HttpResponse:
        call = Call.of(self.api, request)
        # API Gateway's $context variables for this request, rendered through the template's access-log format.
        record = call.access_log_variables(self.api)
        response = self._handle(call, record)
        record["status"] = response.status
        _set_header(response.headers, "x-amzn-RequestId", call.request_id)
        _set_header(response.headers, "x-amz-apigw-id", call.extended_request_id)
        if self.access_log is not None and self.api.access_log_format:
            try:
                self.access_log(self.api, render_access_log(self.api.access_log_format, record))
            except Exception:
                logger.exception("access log sink failed")
        return response

    def _handle(self, call: Call, record: dict[str, Any]) -> HttpResponse:
        request = call.request
        if request.body_too_large:
            record["error.responseType"] = "REQUEST_TOO_LARGE"
            return self.api.gateway_response("REQUEST_TOO_LARGE", 413, "Request Too Long")
        if request.method == "OPTIONS" and self.api.cors:
            return HttpResponse(204, dict(self.api.cors), b"")
        matched = self._match(call)
        if matched is None:
            static = self._static(call)
            if static is not None:
                return static
            record["error.responseType"] = "MISSING_AUTHENTICATION_TOKEN"
            return self.api.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
        route, path_params = matched
        record["resourcePath"] = route.resource
        authorized: Authorized | None = None
        if self.api.authorizer is not None and route.authorized:
            outcome = authorize(self.api, call, route, path_params, record)
            if isinstance(outcome, HttpResponse):
                return outcome
            authorized = outcome
        if route.api_key_required:
            refused = self._usage_plan(call, authorized, record)
            if refused is not None:
                return refused
        authorizer_context = authorized.context if authorized is not None else None
        event = {
            **request_fields(self.api, call, route, path_params),
            "requestContext": {**request_context(self.api, call, route), "authorizer": authorizer_context},
            "body": request.body.decode("utf-8", errors="replace") if request.body else None,
            "isBase64Encoded": False,
        }
        return self._integrate(route, event, request.method, record)

    def _usage_plan(self, call: Call, authorized: Authorized | None, record: dict[str, Any]) -> HttpResponse | None:
        """API Gateway's usage-plan step for a method that requires an API key: None lets the request through."""
        if self.api.api_key_source == "AUTHORIZER":
            value = authorized.usage_identifier if authorized is not None else None
        else:
            sent = call.request.header_values("x-api-key")
            value = sent[0] if len(sent) == 1 else None
        plans = self.api.usage_plans
        verdict = (
            "INVALID_API_KEY"
            if plans is None
            else plans.admit(self.api.api_id, self.api.stage, value, self.api.clock())
        )
        if verdict == ADMITTED:
            return None
        record["error.responseType"] = verdict
        status, message = _USAGE_REFUSALS[verdict]
        return self.api.gateway_response(verdict, status, message)

    def _integrate(self, route: Route, event: dict[str, Any], method: str, record: dict[str, Any]) -> HttpResponse:
        try:
            result = route.function.invoke(event)
        except Exception:
            logger.exception("the integration of %s %s failed", route.method, route.resource)
            record["error.responseType"] = "INTEGRATION_FAILURE"
            return HttpResponse(502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}')
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key] = ", ".join(str(v) for v in values)
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        return HttpResponse(int(result.get("statusCode", 200)), headers, b"" if method == "HEAD" else payload)

    def _match(self, call: Call) -> tuple[Route, dict[str, str]] | None:
        method = call.request.method
        for route in self.api.routes:
            if route.method != method and not (route.method == "ANY" and method in API_METHODS):
                continue
            found = route.pattern.match(call.path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def _static(self, call: Call) -> HttpResponse | None:
        """The static site (dashboard, OpenAPI document, Swagger UI: archie_local.site), served by the local
        stack beside the management API (at the root, and under the stage like any path), with the headers
        CloudFront adds to it on AWS."""
        site = self.api.static_site
        if site is None or call.request.method not in ("GET", "HEAD"):
            return None
        headers = {"Cache-Control": "no-cache", **self.api.static_headers}
        if call.path == "/docs":
            # Swagger UI's page loads its files by relative paths: serve it from the folder's address.
            return HttpResponse(302, {"Location": "docs/", **headers}, b"")
        candidate = site(call.path)
        if candidate is None or not candidate.is_file():
            return None
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        rendered = None
        if self.api.static_rendered is not None and (host := call.request.header("Host")):
            # This API's base URL as the client called it: its host, and the stage when called under it.
            called_with_stage = call.context_path != call.path
            stage = call.context_path[: len(call.context_path) - len(call.path)] if called_with_stage else ""
            rendered = self.api.static_rendered(call.path, f"http://{host}{stage}")
        body = rendered if rendered is not None else candidate.read_bytes()
        return HttpResponse(200, {"Content-Type": content_type, **headers}, body)
