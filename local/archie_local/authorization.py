"""The REQUEST authorizer step of the local API Gateway, as API Gateway runs it: missing identity sources
answer 401 without calling the authorizer, and so does a header source sent more than once; its answer is
cached for ReauthorizeEvery seconds keyed on the identity-source values (headers, stage variables and $context
variables such as identity.sourceIp); an "Unauthorized" error is 401 (cached too); any other failure is 500;
the returned policy is evaluated against the method ARN (explicit Deny wins, no matching Allow is 403). The
answer's usageIdentifierKey is cached with it, and handed to the usage plans by the gateway."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from archie_local.events import Call, authorizer_event, method_arn
from archie_local.http_server import HttpResponse
from archie_local.routing import LocalApi, Route

logger = logging.getLogger("archie_local.gateway")


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


def _identity(api: LocalApi, call: Call) -> tuple[str, ...] | None:
    """The identity-source values (the cache key), or None when one is missing or a header is sent twice.

    Two Authorization headers are refused rather than resolved: the cache key would take one of them and the
    authorizer's event another, so an Allow for a real key would be cached under the other value, garbage
    included, and served to whoever sends that value alone."""
    config = api.authorizer
    assert config is not None
    sources: list[str | None] = []
    for header in config.header_sources:
        sent = call.request.header_values(header)
        sources.append(sent[0] if len(sent) == 1 else None)
    sources += [api.variables.get(variable) for variable in config.stage_variable_sources]
    sources += [_context_value(call, name) for name in config.context_sources]
    values: list[str] = []
    for value in sources:
        if not value:
            return None
        values.append(value)
    return tuple(values)


def _context_value(call: Call, name: str) -> str | None:
    """A $context variable among the identity sources (routing admits only these)."""
    if name == "identity.sourceIp":
        return call.request.source_ip
    return call.request.header("User-Agent")  # identity.userAgent


@dataclass(frozen=True)
class Authorized:
    """What the authorizer let through: the context the backend gets, and the usageIdentifierKey it returned."""

    context: dict[str, Any]
    usage_identifier: str | None


def _unauthorized(api: LocalApi, record: dict[str, Any]) -> HttpResponse:
    record["error.responseType"] = "UNAUTHORIZED"
    return api.gateway_response("UNAUTHORIZED", 401, "Unauthorized")


def authorize(
    api: LocalApi, call: Call, route: Route, path_params: dict[str, str], record: dict[str, Any]
) -> HttpResponse | Authorized:
    """The gateway response refusing the call, or what the authorizer let through."""
    config = api.authorizer
    assert config is not None
    cache_key = _identity(api, call)
    if cache_key is None:
        return _unauthorized(api, record)
    arn = method_arn(api, call)
    now = api.clock()
    with api._cache_lock:
        cached = api._cache.get(cache_key)
    if cached is not None and cached[0] > now:
        outcome = cached[1]
    else:
        try:
            outcome = config.function.invoke(authorizer_event(api, call, route, path_params))
        except Exception as error:  # noqa: BLE001 - an authorizer failure is API Gateway's 500 or 401
            if str(error) != "Unauthorized":
                logger.error("authorizer failed: %s", type(error).__name__)
                record["error.responseType"] = "AUTHORIZER_FAILURE"
                return api.gateway_response("AUTHORIZER_FAILURE", 500, None)
            outcome = "Unauthorized"
        if config.ttl_seconds > 0:
            with api._cache_lock:
                api._cache[cache_key] = (now + config.ttl_seconds, outcome)
    if outcome == "Unauthorized":
        return _unauthorized(api, record)
    context = dict(outcome.get("context") or {})
    record.update({f"authorizer.{k}": v for k, v in context.items()})
    if not policy_allows(outcome.get("policyDocument", {}), arn):
        record["error.responseType"] = "ACCESS_DENIED"
        return api.gateway_response(
            "ACCESS_DENIED", 403, "User is not authorized to access this resource with an explicit deny"
        )
    identifier = outcome.get("usageIdentifierKey")
    return Authorized(
        {**context, "principalId": outcome.get("principalId")}, identifier if isinstance(identifier, str) else None
    )
