"""The HTTP edge shared by every API handler: resolver set-up, error mapping, the caller from the authorizer,
and the checks every request passes before any handler runs.

No 5xx from client input, by construction: a body is bounded in size and nesting before it is parsed;
query values are read with a strict grammar (ASCII digits for numbers); paths and bodies are validated by
pydantic models (query and path parameters with the bounds the OpenAPI document states: numbers as ASCII
digits only); times and paging tokens are checked in the use cases before any read. Every error answer
is JSON {"code", "message", "field"?}, mapped here and only here: a failing dependency (DynamoDB, Secrets
Manager, Scheduler, API Gateway throttling or unreachable) is 503 `service_unavailable` with Retry-After;
anything else unexpected is a 500 with no detail (logged), never a stack trace.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from archie_keys.app.commands import PageRequest, Place
from archie_keys.aws.clients import is_dependency_failure
from archie_keys.aws.dynamo import aws_error_code
from archie_keys.domain import limits
from archie_keys.domain.errors import (
    ArchieError,
    PayloadTooLargeError,
    RateLimitedError,
    ServiceUnavailableError,
    UnauthorizedError,
    ValidationFailedError,
)
from archie_keys.domain.identity import Identity
from archie_keys.edge.composition import get_settings
from archie_keys.edge.tracing import traced

logger = Logger(service="archie-keys")

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
    expose_headers=["Location", "Retry-After", "x-amzn-RequestId", "x-amz-apigw-id"],
    max_age=600,
)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    if body is None:
        # No content type either: Powertools would render a JSON body of None as the text "null", and a 204
        # must carry no body at all.
        return Response(status_code=status, headers=headers or {})
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=headers or {},
    )


def error_response(error: ArchieError) -> Response[Any]:
    headers: dict[str, str] = {}
    if isinstance(error, ServiceUnavailableError | RateLimitedError):
        headers["Retry-After"] = str(error.retry_after)
    return json_response(error.status, error.to_body(), headers)


def _field_of(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location]
    if parts[:1] == ["header"] and len(parts) > 1:
        # Headers are matched case-insensitively; name one as it is documented: Idempotency-Key.
        return "-".join(word.capitalize() for word in parts[1].split("-"))
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts)


def make_resolver() -> APIGatewayRestResolver:
    from archie_keys.edge.openapi import security_schemes

    app = APIGatewayRestResolver(enable_validation=True, cors=CORS)
    # Each function's resolver describes its own routes; `make openapi` merges them into one document.
    app.configure_openapi(
        title="archie-keys management API",
        security_schemes=security_schemes(),
    )

    # Registered by call rather than as decorators: Powertools' exception_handler is unannotated, and as a
    # decorator it would erase these functions' types under mypy's strict mode.
    def _domain_error(error: ArchieError) -> Response[Any]:
        return error_response(error)

    def _validation_error(error: RequestValidationError) -> Response[Any]:
        details = error.errors()
        first = details[0] if details else {}
        field = _field_of(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            return json_response(
                422, {"code": "invalid_json", "message": "the body is not valid JSON", "field": "body"}
            )
        message = f"{field or 'request'}: {first.get('msg', 'invalid')}"
        meaning = limits.PATTERN_MEANINGS.get(str((first.get("ctx") or {}).get("pattern")))
        if first.get("type") == "string_pattern_mismatch" and meaning:
            message = f"{field} must be {meaning}"
        elif first.get("type") == "missing":
            message = f"{field} is required"
        elif first.get("type") == "extra_forbidden":
            message = f"{field} is not a known field"
        return json_response(
            422,
            {
                "code": "validation_error",
                "message": message,
                "field": field,
                "errors": [{"field": _field_of(tuple(d.get("loc", ()))), "message": d.get("msg", "")} for d in details],
            },
        )

    @app.not_found
    def _not_found(_: Exception) -> Response[Any]:
        return json_response(404, {"code": "not_found", "message": "no such route"})

    def _unexpected(error: Exception) -> Response[Any]:
        if is_dependency_failure(error):
            logger.warning("a dependency failed", extra={"error": type(error).__name__, "code": aws_error_code(error)})
            return error_response(ServiceUnavailableError())
        logger.exception("unexpected error")
        return json_response(500, {"code": "internal_error", "message": "something went wrong on our side"})

    app.exception_handler(ArchieError)(_domain_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(Exception)(_unexpected)

    return app


def json_nesting_within(text: str, max_depth: int) -> bool:
    """Whether JSON text nests arrays and objects at most `max_depth` deep, checked without parsing (brackets
    inside strings do not count), so a hostile body never reaches a recursive parser."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _refusal(error: ArchieError) -> dict[str, Any]:
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
        "body": json.dumps(error.to_body()),
    }


# One traced entry per resolver (one per handler module): every API handler is traced here, so none needs
# its own decorator.
_entries: weakref.WeakKeyDictionary[APIGatewayRestResolver, Callable[[dict[str, Any], Any], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def handle(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every API handler's entry: traced (edge.tracing), configuration checked, body bounded in size and depth
    before any parsing, then routed."""
    entry = _entries.get(app)
    if entry is None:

        def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            return _handle(app, event, context)

        entry = _entries[app] = traced(lambda_handler)
    return entry(event, context)


def _handle(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    get_settings()
    body = event.get("body")
    if isinstance(body, str) and len(body.encode("utf-8", errors="surrogatepass")) > limits.BODY_MAX_BYTES:
        return _refusal(
            PayloadTooLargeError(f"request bodies are limited to {limits.BODY_MAX_BYTES} bytes", field="body")
        )
    if isinstance(body, str) and not json_nesting_within(body, limits.JSON_MAX_DEPTH):
        return _refusal(
            ValidationFailedError(
                f"the body nests deeper than {limits.JSON_MAX_DEPTH} levels", field="body", code="invalid_json"
            )
        )
    if body:
        # The API speaks only JSON: read every body as JSON whatever Content-Type says, so `curl -d '{...}'`
        # (which sends application/x-www-form-urlencoded) works instead of failing as a form.
        event = _as_json_request(event)
    return app.resolve(event, context)


def _as_json_request(event: dict[str, Any]) -> dict[str, Any]:
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    headers["Content-Type"] = "application/json"
    multi["Content-Type"] = ["application/json"]
    return {**event, "headers": headers, "multiValueHeaders": multi}


def caller_from(app: APIGatewayRestResolver) -> Identity:
    """The key behind this request, from the context the authorizer gave API Gateway."""
    try:
        return Identity.from_authorizer_context(app.current_event.request_context.authorizer.raw_event or {})
    except ValueError:
        raise UnauthorizedError("this route needs a valid key in Authorization: Bearer <key>") from None


def place(project: str, environment: str) -> Place:
    return Place(project, environment)


def page(limit: str | None, next_token: str | None, name_contains: str | None = None) -> PageRequest:
    """A page request from declared query parameters (their bounds are checked by the resolver)."""
    return PageRequest(int(limit) if limit else limits.LIST_LIMIT_DEFAULT, next_token or None, name_contains or None)
