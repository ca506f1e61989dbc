"""The HTTP edge shared by every API handler: resolver set-up, error mapping, the caller from the authorizer.

Every error answer is JSON {"code", "message", "field"?}. Domain errors map to their status here and only
here; anything unexpected becomes a 500 with no detail (and is logged), never a stack trace to the client.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from archie_keys.app.commands import PageRequest, Place
from archie_keys.domain import limits
from archie_keys.domain.errors import ArchieError, PayloadTooLargeError, UnauthorizedError, ValidationFailedError
from archie_keys.domain.identity import Identity
from archie_keys.edge.composition import get_settings

logger = Logger(service="archie-keys")

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
    max_age=600,
)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")) if body is not None else None,
        headers=headers or {},
    )


def _field_of(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts)


def make_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True, cors=CORS)

    @app.exception_handler(ArchieError)
    def _domain_error(error: ArchieError) -> Response[Any]:
        return json_response(error.status, error.to_body())

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response[Any]:
        details = error.errors()
        first = details[0] if details else {}
        field = _field_of(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            return json_response(
                422, {"code": "invalid_json", "message": "the body is not valid JSON", "field": "body"}
            )
        message = f"{field or 'request'}: {first.get('msg', 'invalid')}"
        if first.get("type") == "missing":
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

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        logger.exception("unexpected error")
        return json_response(500, {"code": "internal_error", "message": "something went wrong on our side"})

    return app


def handle(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every API handler's entry: configuration checked, body size bounded before any parsing, then routed."""
    get_settings()
    body = event.get("body")
    if isinstance(body, str) and len(body.encode("utf-8")) > limits.BODY_MAX_BYTES:
        error = PayloadTooLargeError(f"request bodies are limited to {limits.BODY_MAX_BYTES} bytes", field="body")
        return {
            "statusCode": error.status,
            "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
            "body": json.dumps(error.to_body()),
        }
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


def page_request(app: APIGatewayRestResolver) -> PageRequest:
    return PageRequest(query_limit(app), query_token(app))


def place(project: str, environment: str) -> Place:
    return Place(project, environment)


def query_limit(app: APIGatewayRestResolver) -> int:
    raw = app.current_event.get_query_string_value("limit")
    if raw is None or raw == "":
        return limits.LIST_LIMIT_DEFAULT
    if not raw.isdigit() or not 1 <= int(raw) <= limits.LIST_LIMIT_MAX:
        raise ValidationFailedError(f"limit must be an integer from 1 to {limits.LIST_LIMIT_MAX}", field="limit")
    return int(raw)


def query_token(app: APIGatewayRestResolver) -> str | None:
    return app.current_event.get_query_string_value("next_token") or None
