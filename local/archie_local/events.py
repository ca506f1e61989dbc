"""One request as API Gateway sees it (`Call`), and what it hands to Lambda about it: the fields a REQUEST
authorizer event and a v1 proxy event share, their requestContext, and the method ARN.

Two facts here are easy to get wrong:
* ids: `requestId` is a UUID, the client's own when it sends a valid one in x-amzn-RequestId;
  `extendedRequestId` is API Gateway's, which no client can choose;
* paths: execute-api serves a stage at `/{stage}/...`, where `$context.path` and `requestContext.path`
  keep the stage and the event's `path` does not; a custom domain with an empty base path mapping serves it
  at `/...`, where all three are the path as called. Both forms are served locally."""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from archie_local.http_server import HttpRequest
from archie_local.routing import LocalApi, Route
from archie_local.template import ACCOUNT_ID, REGION

_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def request_id_of(request: HttpRequest) -> str:
    """The client's x-amzn-RequestId when it is a UUID (API Gateway takes it as the request id), else a
    new UUID: anything else a client sends there is ignored."""
    sent = request.header("x-amzn-RequestId")
    return sent if sent is not None and _UUID.fullmatch(sent) else str(uuid.uuid4())


def new_extended_request_id() -> str:
    """API Gateway's own id for a request, in its format (`PYkx0FXjoAMFd3Q=`: 11 random bytes, 16 base64
    characters ending in '='). Random, so unique for any practical purpose, and nothing a client sends."""
    return base64.b64encode(secrets.token_bytes(11)).decode()


def split_stage(stage: str, path: str) -> tuple[str, str]:
    """(the event's `path`, `$context.path`) for a path as called: `/{stage}/...` is the execute-api form,
    anything else the custom-domain form (so a route whose first segment is the stage's name is reached
    only in the execute-api form)."""
    prefix = f"/{stage}"
    if path == prefix or path.startswith(prefix + "/"):
        return path[len(prefix) :] or "/", path
    return path, path


@dataclass(frozen=True)
class Call:
    request: HttpRequest
    request_id: str
    extended_request_id: str
    path: str  # the event's `path`: without the stage
    context_path: str  # $context.path and requestContext.path: with the stage when called with it
    time_epoch_ms: int

    @classmethod
    def of(cls, api: LocalApi, request: HttpRequest) -> Call:
        path, context_path = split_stage(api.stage, request.path)
        return cls(
            request=request,
            request_id=request_id_of(request),
            extended_request_id=new_extended_request_id(),
            path=path,
            context_path=context_path,
            time_epoch_ms=int(time.time() * 1000),
        )

    def access_log_variables(self, api: LocalApi) -> dict[str, Any]:
        """The $context variables known before routing; the gateway adds the rest as it learns them."""
        return {
            "requestId": self.request_id,
            "extendedRequestId": self.extended_request_id,
            "requestTimeEpoch": self.time_epoch_ms,
            "httpMethod": self.request.method,
            "path": self.context_path,
            "stage": api.stage,
            "apiId": api.api_id,
            "identity.sourceIp": self.request.source_ip,
            "identity.userAgent": self.request.header("User-Agent"),
        }


def method_arn(api: LocalApi, call: Call) -> str:
    """The same for both forms of the URL: the stage's, and the path without the stage."""
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api.api_id}/{api.stage}/{call.request.method}{call.path}"


def request_fields(api: LocalApi, call: Call, route: Route, path_params: dict[str, str]) -> dict[str, Any]:
    """What a REQUEST authorizer event and a v1 proxy event both carry about the request."""
    request = call.request
    return {
        "resource": route.resource,
        "path": call.path,
        "httpMethod": request.method,
        "headers": dict(request.headers),
        "multiValueHeaders": _multi(request.headers),
        "queryStringParameters": {k: v[-1] for k, v in request.query.items()} or None,
        "multiValueQueryStringParameters": request.query or None,
        "pathParameters": path_params or None,
        "stageVariables": api.variables or None,
    }


def authorizer_event(api: LocalApi, call: Call, route: Route, path_params: dict[str, str]) -> dict[str, Any]:
    """The REQUEST authorizer's event for a call."""
    return {
        "type": "REQUEST",
        "methodArn": method_arn(api, call),
        **request_fields(api, call, route, path_params),
        "requestContext": request_context(api, call, route),
    }


def request_context(api: LocalApi, call: Call, route: Route) -> dict[str, Any]:
    return {
        "accountId": ACCOUNT_ID,
        "apiId": api.api_id,
        "resourcePath": route.resource,
        "httpMethod": call.request.method,
        "path": call.context_path,
        "stage": api.stage,
        "requestId": call.request_id,
        "extendedRequestId": call.extended_request_id,
        "requestTimeEpoch": call.time_epoch_ms,
        "protocol": "HTTP/1.1",
        "identity": {"sourceIp": call.request.source_ip, "userAgent": call.request.header("User-Agent")},
    }


def _multi(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in headers:
        values.setdefault(key, []).append(value)
    return values
