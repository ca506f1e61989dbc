"""Every error a resolver meets, mapped to its JSON answer here and only here: a domain error to its own status,
invalid input to 422 naming the field at fault (never a 5xx), an unknown route to 404, a failing dependency
(DynamoDB, Secrets Manager, Scheduler, API Gateway throttling or unreachable) to 503 `service_unavailable`
with Retry-After, and anything else to a 500 with no detail (logged), never a stack trace."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from archie_keys.aws.clients import is_dependency_failure
from archie_keys.aws.dynamo import aws_error_code
from archie_keys.domain import limits
from archie_keys.domain.errors import ArchieError, ServiceUnavailableError
from archie_keys.edge.responses import error_response, json_response

# The handlers' logger (the same service, so the same configured stdlib logger as edge.http's).
logger = Logger(service="archie-keys")


def field_of(location: tuple[Any, ...]) -> str:
    """The field a validation error names, as the API documents it: `roles.0`, `limit`, `Idempotency-Key`."""
    parts = [str(p) for p in location]
    if parts[:1] == ["header"] and len(parts) > 1:
        # Headers are matched case-insensitively; name one as it is documented: Idempotency-Key.
        return "-".join(word.capitalize() for word in parts[1].split("-"))
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts)


def _first_message(field: str, first: dict[str, Any]) -> str:
    """The message of the first problem, in words: a pattern says what it means (limits.PATTERN_MEANINGS)."""
    kind = first.get("type")
    meaning = limits.PATTERN_MEANINGS.get(str((first.get("ctx") or {}).get("pattern")))
    if kind == "string_pattern_mismatch" and meaning:
        return f"{field} must be {meaning}"
    if kind == "missing":
        return f"{field} is required"
    if kind == "extra_forbidden":
        return f"{field} is not a known field"
    return f"{field or 'request'}: {first.get('msg', 'invalid')}"


def validation_answer(error: RequestValidationError) -> Response[Any]:
    """422: `invalid_json` for a body that does not parse, else `validation_error` with every problem."""
    details = error.errors()
    first = details[0] if details else {}
    field = field_of(tuple(first.get("loc", ())))
    if first.get("type") == "json_invalid":
        return json_response(422, {"code": "invalid_json", "message": "the body is not valid JSON", "field": "body"})
    return json_response(
        422,
        {
            "code": "validation_error",
            "message": _first_message(field, first),
            "field": field,
            "errors": [{"field": field_of(tuple(d.get("loc", ()))), "message": d.get("msg", "")} for d in details],
        },
    )


def unexpected_answer(error: Exception) -> Response[Any]:
    """503 with Retry-After when a dependency failed (nothing changed: the client may retry), else 500."""
    if is_dependency_failure(error):
        logger.warning("a dependency failed", extra={"error": type(error).__name__, "code": aws_error_code(error)})
        return error_response(ServiceUnavailableError())
    logger.exception("unexpected error")
    return json_response(500, {"code": "internal_error", "message": "something went wrong on our side"})


def route_not_found(_: Exception) -> Response[Any]:
    return json_response(404, {"code": "not_found", "message": "no such route"})


def map_errors(app: APIGatewayRestResolver) -> None:
    """Install the mapping on a resolver. Registered by call rather than as decorators: Powertools'
    exception_handler is unannotated, and as a decorator it would erase these functions' types under mypy's
    strict mode."""
    app.not_found(route_not_found)
    app.exception_handler(ArchieError)(error_response)
    app.exception_handler(RequestValidationError)(validation_answer)
    app.exception_handler(Exception)(unexpected_answer)
