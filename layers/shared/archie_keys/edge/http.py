"""The HTTP edge every API handler builds on: its resolver (validation, CORS, OpenAPI, the error mapping of
edge.error_mapping), its traced entry, which checks configuration and the body (edge.request_body) before
routing, and what a handler reads of a request (the caller, the place, a page).

No 5xx from client input, by construction: a body is bounded in size and nesting before it is parsed;
query values are read with a strict grammar (ASCII digits for numbers); paths and bodies are validated by
pydantic models (query and path parameters with the bounds the OpenAPI document states: numbers as ASCII
digits only); times and paging tokens are checked in the use cases before any read. Every error answer
is JSON {"code", "message", "field"?} (edge.error_mapping).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig

from archie_keys.app.commands import PageRequest, Place
from archie_keys.domain import limits
from archie_keys.domain.errors import UnauthorizedError
from archie_keys.domain.identity import Identity
from archie_keys.edge.composition import get_settings
from archie_keys.edge.error_mapping import map_errors
from archie_keys.edge.request_body import as_json_request, body_refusal, refused
from archie_keys.edge.tracing import traced

logger = Logger(service="archie-keys")

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
    expose_headers=["Location", "Retry-After", "x-amzn-RequestId", "x-amz-apigw-id"],
    max_age=600,
)


def make_resolver() -> APIGatewayRestResolver:
    from archie_keys.edge.openapi import security_schemes

    app = APIGatewayRestResolver(enable_validation=True, cors=CORS)
    # Each function's resolver describes its own routes; `make openapi` merges them into one document.
    app.configure_openapi(
        title="archie-keys management API",
        security_schemes=security_schemes(),
    )

    map_errors(app)
    return app


# One traced entry per resolver (one per handler module): every API handler is traced here, so none needs
# its own decorator.
_entries: weakref.WeakKeyDictionary[APIGatewayRestResolver, Callable[[dict[str, Any], Any], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def handle(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: Any,
    gate: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """Every API handler's entry: traced (edge.tracing), configuration checked, body bounded in size and depth
    before any parsing, then routed. A `gate` (a handler module's one, the same on every call: the first call's
    is kept with the entry) sees the raw event first, inside the trace, and answers instead when it refuses."""
    entry = _entries.get(app)
    if entry is None:

        def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            refusal = gate(event) if gate is not None else None
            return refusal if refusal is not None else _handle(app, event, context)

        entry = _entries[app] = traced(lambda_handler)
    return entry(event, context)


def _handle(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    get_settings()
    refusal = body_refusal(event)
    if refusal is not None:
        return refused(refusal)
    return app.resolve(as_json_request(event), context)


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
