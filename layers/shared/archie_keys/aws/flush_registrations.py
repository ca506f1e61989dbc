"""How the stages to flush are written down: a protected API's registration (one SSM parameter's JSON value) and
FLUSH_TARGETS (local runs and tests). Parsing only: aws.protected_api_registry reads the parameters."""

from __future__ import annotations

import json
import re

from archie_keys.domain.errors import shown
from archie_keys.domain.flush_targets import ANY_SCOPE, FlushTarget
from archie_keys.domain.keyformat import SLUG_RE

# What a registration may hold: API Gateway's own id and stage-name alphabets, and "*" or a slug (the key
# format's project and environment) for the environment the stage serves.
_REGISTRATION_FIELDS = ("rest_api_id", "stage", "project", "environment")
_OPTIONAL_TTL = "authorizer_ttl_seconds"  # 0..3600, API Gateway's own range for ReauthorizeEvery
_REST_API_ID = re.compile(r"[a-z0-9]{1,32}")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")


def parse_flush_targets(raw: str) -> tuple[FlushTarget, ...]:
    """FLUSH_TARGETS (local runs and tests): comma-separated `restApiId/stage` or
    `restApiId/stage/project/environment`."""
    targets = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        pieces = item.split("/")
        if len(pieces) not in (2, 4) or not all(pieces):
            raise ValueError(f"flush target {shown(item)} is not restApiId/stage[/project/environment]")
        project, environment = pieces[2:] if len(pieces) == 4 else (ANY_SCOPE, ANY_SCOPE)
        targets.append(FlushTarget(pieces[0], pieces[1], project, environment))
    return tuple(targets)


def parse_registration(value: str) -> FlushTarget:
    """One protected API stage as registered: JSON {"rest_api_id", "stage", "project", "environment"}, every
    field a string; project and environment "*" for a stage serving every environment; and optionally
    "authorizer_ttl_seconds", the stage's ReauthorizeEvery when it is longer than the stack's."""
    document = json.loads(value)
    if not isinstance(document, dict) or set(document) - {_OPTIONAL_TTL} != set(_REGISTRATION_FIELDS):
        raise ValueError(
            f"a registration is a JSON object with exactly {', '.join(_REGISTRATION_FIELDS)} "
            f"(and optionally {_OPTIONAL_TTL})"
        )
    ttl = document.get(_OPTIONAL_TTL)
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 3600):
        raise ValueError(f"{_OPTIONAL_TTL} is a whole number of seconds, 0 to 3600")
    rest_api_id, stage, project, environment = (document[name] for name in _REGISTRATION_FIELDS)
    if not all(isinstance(v, str) for v in (rest_api_id, stage, project, environment)):
        raise ValueError("every field of a registration is a string")
    if not _REST_API_ID.fullmatch(rest_api_id) or not _STAGE.fullmatch(stage):
        raise ValueError("rest_api_id or stage is not an API Gateway id or stage name")
    if not all(scope == ANY_SCOPE or SLUG_RE.match(scope) for scope in (project, environment)):
        raise ValueError('project and environment are "*" or a project/environment name')
    return FlushTarget(rest_api_id, stage, project, environment, authorizer_ttl_seconds=ttl)
