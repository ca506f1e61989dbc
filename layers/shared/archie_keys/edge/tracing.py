"""X-Ray tracing of the handlers: Powertools Tracer around a Lambda handler, as one decorator.

`@traced` gives the invocation a `## <handler>` subsegment (cold start annotated, an exception recorded) and
patches boto3, so each DynamoDB, Secrets Manager, SSM or API Gateway call is its own subsegment. The Tracer
is built on the first traced invocation, never at import, and not at all when tracing is off
(POWERTOOLS_TRACE_DISABLED, which the template's Tracing parameter sets, or outside Lambda): the X-Ray SDK is
a heavy import.

Every HTTP handler is traced through `edge.http.handle`; the other handlers carry the decorator. The
authorizer does not: it is on every request's critical path and its cold start is measured (`make bench`,
authorizer_import_ms); Lambda's own active tracing still records its invocations (so it does for the
sample backend, which stands in for a team's own).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])

_lock = threading.Lock()
_tracer: Any = None


def tracing_enabled() -> bool:
    """As Powertools decides, without importing it: off when POWERTOOLS_TRACE_DISABLED is truthy, or outside
    Lambda (no X-Ray daemon to send to)."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in ("1", "true", "yes", "on")
    return not disabled and bool(os.environ.get("LAMBDA_TASK_ROOT"))


def make_tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "archie-keys"))


def tracer() -> Any:
    """The process's one Tracer (it patches boto3 once), built on first use."""
    global _tracer
    with _lock:
        if _tracer is None:
            _tracer = make_tracer()
        return _tracer


def traced(handler: Handler) -> Handler:
    """Trace a Lambda handler `(event, context)` when tracing is on; call it untouched when it is off."""
    wrapped: Callable[..., Any] | None = None

    @functools.wraps(handler)
    def entry(event: Any, context: Any) -> Any:
        nonlocal wrapped
        if not tracing_enabled():
            return handler(event, context)
        if wrapped is None:
            wrapped = tracer().capture_lambda_handler(handler)
        return wrapped(event, context)

    entry.__archie_traced__ = True  # type: ignore[attr-defined]
    return entry  # type: ignore[return-value]


def reset() -> None:
    """Forget the Tracer (tests)."""
    global _tracer
    with _lock:
        _tracer = None
