"""The caller's identity: one key (or the bootstrap command) with its resolved grants.

One type describes it everywhere: the authorizer builds it from a verified key and hands it to API Gateway
as the authorizer context (`to_authorizer_context`, strings only); the management handlers read it back from
that context (`from_authorizer_context`); /whoami and /verify describe it (`describe`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archie_keys.domain.clock import now_epoch
from archie_keys.domain.errors import ForbiddenError
from archie_keys.domain.grants import ACTIONS, WILDCARD, Grants, covers_row, management_alternatives
from archie_keys.domain.limits import OIDC_CLOCK_SKEW_SECONDS
from archie_keys.domain.oidc_errors import ExpiredTokenError

if TYPE_CHECKING:
    from archie_keys.domain.key_record import KeyRecord

# The actor recorded for what the bootstrap command does (it holds AWS credentials, not a key).
BOOTSTRAP_ACTOR = "bootstrap"
# The role bootstrap gives the first key of an environment: every action on every resource.
BOOTSTRAP_ROLE = "admin"
# The actor recorded for what a leak report from GitHub's secret scanning does (a signed alert, not a key).
SCANNER_ACTOR = "github-secret-scanning"
# The actor of a key event nobody caused: a key's expiry coming near, or passing.
EXPIRY_ACTOR = "expiry"
# The actor of key.quota_exhausted: API Gateway refused the key's requests for its quota (app.quota_events).
QUOTA_ACTOR = "quota"

# The keys of the authorizer context, in the order a backend reads them.
AUTHORIZER_CONTEXT_FIELDS = ("key_id", "project", "environment", "name", "roles", "permissions", "filters", "context")

# A person's token's `exp`, in the authorizer context of a person only (never a key's: AUTHORIZER_CONTEXT_FIELDS
# stay what a protected API's backend reads).
TOKEN_EXPIRES_FIELD = "token_expires_epoch"

_COMPACT: dict[str, Any] = {"separators": (",", ":"), "sort_keys": True}


def is_break_glass(record: KeyRecord) -> bool:
    """Whether a stored key is an environment's bootstrap admin key: made by the bootstrap command (or rolled
    from such a key: `break_glass`, set on a roll's successor, since the roller, not the bootstrap command,
    made it, yet it is the same credential rotated) and holding its every-permission role. Once pipelines
    federate and people sign in, it is the break-glass credential, and every use of it raises an alarm. (The
    canary's keys are made by the bootstrap actor too, with a role that grants nothing: they are not.)"""
    made_by_bootstrap = record.created_by == BOOTSTRAP_ACTOR or record.break_glass
    return made_by_bootstrap and BOOTSTRAP_ROLE in record.roles


@dataclass(frozen=True)
class RowScope:
    """The rows a caller may touch on one management resource: any row matching one of the alternatives.
    `({},)` is every row."""

    alternatives: tuple[dict[str, Any], ...]

    @property
    def every_row(self) -> bool:
        return {} in self.alternatives

    def covers(self, row: Mapping[str, Any]) -> bool:
        return covers_row(self.alternatives, row)


@dataclass(frozen=True)
class Identity:
    key_id: str
    project: str
    environment: str
    name: str
    roles: tuple[str, ...]
    context: Mapping[str, str]
    grants: Grants
    # A person's sign-in token's `exp` (app.person_signin); None for a key, whose expiry the authorizer checks
    # and revocation flushes. API Gateway may serve a person's Allow from its cache after the token expired:
    # the handler reading it back refuses it then (from_authorizer_context).
    expires_epoch: int | None = None

    @classmethod
    def bootstrap(cls, project: str, environment: str) -> Identity:
        """The bootstrap command: every action on every resource of one environment, recorded as `bootstrap`."""
        everything = {"role": BOOTSTRAP_ACTOR, "resource": WILDCARD, "actions": list(ACTIONS), "filters": {}}
        return cls(BOOTSTRAP_ACTOR, project, environment, BOOTSTRAP_ACTOR, (), {}, Grants.from_entries([everything]))

    def require(self, project: str, environment: str, resource: str, action: str) -> RowScope:
        """Refuse unless this key belongs to this environment and grants `action` on the management resource
        `resource`; return the rows it may touch there.

        API Gateway already enforced the authorizer's policy; this is the same decision again inside the
        function, so a misconfigured route or a direct invocation cannot bypass it. A filtered grant covers
        only the rows it matches, and grants nothing on a resource without rows (roles, environments,
        verify)."""
        if self.project != project or self.environment != environment:
            raise ForbiddenError("this key belongs to another project or environment", code="wrong_environment")
        alternatives = management_alternatives(self.grants, resource, action)
        if not alternatives:
            if self.grants.allows(resource, action):
                raise ForbiddenError(
                    f"this key's grant of {action} on {resource} is filtered, and {resource} has no rows a "
                    "filter can select: it needs an unfiltered grant"
                )
            raise ForbiddenError(f"this key lacks {action} on {resource}")
        return RowScope(tuple(alternatives))

    def covers_every_row(self, resource: str, action: str) -> bool:
        """Whether this key may do `action` on every row of a management resource: an unfiltered grant."""
        return management_alternatives(self.grants, resource, action) == [{}]

    def describe(self) -> dict[str, Any]:
        """The resolved identity as /whoami and /verify show it (never the key or its hash)."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "project": self.project,
            "environment": self.environment,
            "roles": list(self.roles),
            "permissions": list(self.grants.entries),
            "filters": self.grants.filters_by_resource(),
            "context": dict(self.context),
        }

    def to_authorizer_context(self) -> dict[str, str]:
        """The context API Gateway hands to the backend in requestContext.authorizer (values must be strings)."""
        context = {
            "key_id": self.key_id,
            "project": self.project,
            "environment": self.environment,
            "name": self.name,
            "roles": json.dumps(list(self.roles), **_COMPACT),
            "permissions": json.dumps(list(self.grants.entries), **_COMPACT),
            "filters": json.dumps(self.grants.filters_by_resource(), **_COMPACT),
            "context": json.dumps(dict(self.context), **_COMPACT),
        }
        if self.expires_epoch is not None:
            context[TOKEN_EXPIRES_FIELD] = str(self.expires_epoch)
        return context

    @classmethod
    def from_authorizer_context(cls, context: Mapping[str, Any], now: float | None = None) -> Identity:
        """Read back what `to_authorizer_context` wrote. Raises ValueError when it is not such a context, and
        ExpiredTokenError (401) when it is a person's whose token has expired by `now` (default: the clock),
        with the clock skew the authorizer allows: API Gateway serves a cached Allow for up to
        AuthorizerResultTtl whatever the token's `exp`, so this check runs on every request."""
        expires = context.get(TOKEN_EXPIRES_FIELD)
        if expires is not None:
            try:
                deadline = int(expires) + OIDC_CLOCK_SKEW_SECONDS
            except (TypeError, ValueError) as error:
                raise ValueError("malformed authorizer context") from error
            if (now_epoch() if now is None else now) >= deadline:
                raise ExpiredTokenError(f"expired at {expires}, after the authorizer allowed it")
        try:
            roles = json.loads(context.get("roles", "[]"))
            key_context = json.loads(context.get("context", "{}"))
            entries = json.loads(context["permissions"])
            if not (isinstance(roles, list) and isinstance(key_context, dict) and isinstance(entries, list)):
                raise ValueError("malformed authorizer context")
            return cls(
                key_id=str(context["key_id"]),
                project=str(context["project"]),
                environment=str(context["environment"]),
                name=str(context.get("name", "")),
                roles=tuple(str(r) for r in roles),
                context={str(k): str(v) for k, v in key_context.items()},
                grants=Grants.from_entries(entries),
                expires_epoch=int(expires) if expires is not None else None,
            )
        except (KeyError, TypeError) as error:
            raise ValueError("malformed authorizer context") from error
