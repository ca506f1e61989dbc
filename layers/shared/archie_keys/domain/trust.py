"""Trust policies: which verified OIDC tokens become which roles and context in one environment.

    {"issuer": "https://token.actions.githubusercontent.com", "audience": "archie-keys",
     "subject": "repo:acme/billing:ref:refs/heads/main", "claims": {"workflow": "deploy"},
     "roles": ["deployer"], "context": {"tenant": "t-17"}, "max_ttl_seconds": 900}

A token matches a policy when its (verified) `iss` is the policy's issuer exactly, its `aud` contains the
policy's audience, its `sub` matches the subject pattern, and every claim condition holds (patterns:
domain/trust_patterns.py; a list claim such as `groups` holds when one of its members matches).

Every policy names whom it trusts: its subject pins a repository, a project or one subject
(trust_patterns.subject_pin_problem), or, with no subject, a claim condition pins a repository or project
(`repository`, `repository_id`, `project_path`, `project_id`) or a group of people the identity provider's
administrators manage (`groups`, `cognito:groups`), with no wildcard. `sub: "*"` is never accepted, and
neither is anything that would match every subject of an issuer. `email` does not pin: many providers let
a user set it.

When several policies match, the most specific wins (`matching_policies` orders them): an exact subject
before a subject pattern before no subject; then the longer literal part of the subject; then more claim
conditions; then the name, so the choice never depends on storage order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from archie_keys.domain.errors import ValidationFailedError, shown
from archie_keys.domain.limits import (
    CONTEXT_MAX_PAIRS,
    CONTEXT_NAME_PATTERN,
    CONTEXT_VALUE_MAX_LENGTH,
    PATTERN_MEANINGS,
    ROLE_NAME_PATTERN,
    ROLES_PER_KEY_MAX,
    TRUST_AUDIENCE_MAX_LENGTH,
    TRUST_CLAIM_CONDITIONS_MAX,
    TRUST_CLAIM_NAME_PATTERN,
    TRUST_POLICY_NAME_PATTERN,
    TRUST_TTL_DEFAULT_SECONDS,
    TRUST_TTL_MAX_SECONDS,
    TRUST_TTL_MIN_SECONDS,
    whole,
)
from archie_keys.domain.oidc_claims import audiences_of, issuer_url_problem
from archie_keys.domain.oidc_errors import InvalidClaimsError
from archie_keys.domain.trust_patterns import Pattern, compile_pattern, subject_pin_problem

FIELDS = ("issuer", "audience", "subject", "claims", "roles", "context", "max_ttl_seconds")
# Claims the verifier already decides (or that change per token): a condition on them would be either
# redundant or never true, so a policy naming one is refused with a pointer to the right field.
RESERVED_CLAIMS = {"iss": "issuer", "aud": "audience", "sub": "subject", "exp": "", "nbf": "", "iat": "", "jti": ""}
# Claims that pin whom a subject-less policy trusts, and what a pinning value looks like.
PINNING_CLAIMS = {
    "repository": re.compile(r"[^*/:]+/[^*/:]+\Z"),
    "project_path": re.compile(r"[^*/:]+(?:/[^*/:]+)+\Z"),
    "repository_id": re.compile(r"[0-9]+\Z"),
    "project_id": re.compile(r"[0-9]+\Z"),
    "groups": re.compile(r"[^*]+\Z"),
    "cognito:groups": re.compile(r"[^*]+\Z"),
}
_POLICY_NAME, _CLAIM_NAME = whole(TRUST_POLICY_NAME_PATTERN), whole(TRUST_CLAIM_NAME_PATTERN)
_ROLE_NAME, _CONTEXT_NAME = whole(ROLE_NAME_PATTERN), whole(CONTEXT_NAME_PATTERN)
_AUDIENCE = re.compile(rf"[!-~]{{1,{TRUST_AUDIENCE_MAX_LENGTH}}}\Z")  # printable ASCII, no spaces


@dataclass(frozen=True)
class TrustPolicy:
    name: str
    issuer: str
    audience: str
    subject: Pattern | None
    claims: Mapping[str, Pattern]
    roles: tuple[str, ...]
    context: Mapping[str, str]
    max_ttl_seconds: int

    def matches(self, claims: Mapping[str, Any]) -> bool:
        """Whether a token with these verified claims is one this policy trusts."""
        if claims.get("iss") != self.issuer:
            return False
        try:
            if self.audience not in audiences_of(claims):
                return False
        except InvalidClaimsError:
            return False
        subject = claims.get("sub")
        if not isinstance(subject, str) or (self.subject is not None and not self.subject.matches(subject)):
            return False
        return all(_claim_holds(pattern, claims.get(name)) for name, pattern in self.claims.items())

    def specificity(self) -> tuple[int, int, int]:
        """Larger is more specific (see the module's docstring)."""
        if self.subject is None:
            rank, literal = 0, 0
        else:
            rank, literal = (2 if self.subject.is_exact else 1), self.subject.literal_length
        return rank, literal, len(self.claims)

    def to_body(self) -> dict[str, Any]:
        """The policy as the API shows it (and as parse_trust_policy reads it back)."""
        return {
            "issuer": self.issuer,
            "audience": self.audience,
            "subject": self.subject.text if self.subject is not None else None,
            "claims": {name: pattern.text for name, pattern in self.claims.items()},
            "roles": list(self.roles),
            "context": dict(self.context),
            "max_ttl_seconds": self.max_ttl_seconds,
        }


def _scalar_text(value: object) -> str | None:
    """How a claim's value is compared with a pattern: strings as they are, booleans as true/false (GitLab's
    `ref_protected` is "true", another issuer's may be true), integers in decimal; anything else never."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return None


def _claim_holds(pattern: Pattern, value: object) -> bool:
    members = value if isinstance(value, list) else [value]
    return any((text := _scalar_text(member)) is not None and pattern.matches(text) for member in members)


def matching_policies(policies: Iterable[TrustPolicy], claims: Mapping[str, Any]) -> list[TrustPolicy]:
    """The policies `claims` (a verified token's) match, the chosen one first."""
    found = [policy for policy in policies if policy.matches(claims)]
    return sorted(found, key=lambda p: (tuple(-n for n in p.specificity()), p.name))


def _refuse(message: str, field: str) -> ValidationFailedError:
    return ValidationFailedError(message, field=field)


def _pattern(text: object, field: str) -> Pattern:
    try:
        return compile_pattern(text)
    except ValueError as error:
        raise _refuse(str(error), field) from None


def _claim_conditions(raw: object) -> dict[str, Pattern]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > TRUST_CLAIM_CONDITIONS_MAX:
        raise _refuse(f"claims is an object of at most {TRUST_CLAIM_CONDITIONS_MAX} conditions", "claims")
    conditions = {}
    for name, text in raw.items():
        if not isinstance(name, str) or not _CLAIM_NAME.match(name):
            raise _refuse(f"a claim name is {PATTERN_MEANINGS[TRUST_CLAIM_NAME_PATTERN]}", "claims")
        if name in RESERVED_CLAIMS:
            where = RESERVED_CLAIMS[name]
            hint = f": use the policy's {shown(where)}" if where else ": the verifier checks it on every token"
            raise _refuse(f"a condition on {name} is not a claim condition{hint}", f"claims.{name}")
        conditions[name] = _pattern(text, f"claims.{name}")
    return conditions


def _roles(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not 0 < len(raw) <= ROLES_PER_KEY_MAX:
        raise _refuse(f"roles is a list of 1-{ROLES_PER_KEY_MAX} role names", "roles")
    if not all(isinstance(role, str) and _ROLE_NAME.match(role) for role in raw):
        raise _refuse(f"a role name is {PATTERN_MEANINGS[ROLE_NAME_PATTERN]}", "roles")
    if len(set(raw)) != len(raw):
        raise _refuse("roles names each role once", "roles")
    return tuple(raw)


def _context(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > CONTEXT_MAX_PAIRS:
        raise _refuse(f"context is an object of at most {CONTEXT_MAX_PAIRS} pairs", "context")
    for name, value in raw.items():
        if not isinstance(name, str) or not _CONTEXT_NAME.match(name):
            raise _refuse(f"a context name is {PATTERN_MEANINGS[CONTEXT_NAME_PATTERN]}", "context")
        if not isinstance(value, str) or len(value) > CONTEXT_VALUE_MAX_LENGTH:
            raise _refuse(f"a context value is a string of at most {CONTEXT_VALUE_MAX_LENGTH}", f"context.{name}")
    return dict(raw)


def _ttl(raw: object) -> int:
    if raw is None:
        return TRUST_TTL_DEFAULT_SECONDS
    if isinstance(raw, bool) or not isinstance(raw, int) or not TRUST_TTL_MIN_SECONDS <= raw <= TRUST_TTL_MAX_SECONDS:
        bounds = f"{TRUST_TTL_MIN_SECONDS}-{TRUST_TTL_MAX_SECONDS}"
        raise _refuse(f"max_ttl_seconds is a whole number of seconds, {bounds}", "max_ttl_seconds")
    return raw


def _pins_by_claims(conditions: Mapping[str, Pattern]) -> bool:
    return any(name in PINNING_CLAIMS and PINNING_CLAIMS[name].match(p.text) for name, p in conditions.items())


def parse_trust_policy(name: object, body: object, *, allow_loopback_http: bool = False) -> TrustPolicy:
    """A TrustPolicy from a client's body, or the ValidationFailedError naming the field at fault.
    `allow_loopback_http`: the local stack, where the development issuer is http://127.0.0.1:<port>."""
    if not isinstance(name, str) or not _POLICY_NAME.match(name):
        raise _refuse(f"a policy name is {PATTERN_MEANINGS[TRUST_POLICY_NAME_PATTERN]}", "name")
    if not isinstance(body, dict):
        raise _refuse("a trust policy is a JSON object", "body")
    unknown = sorted(set(map(str, body)) - set(FIELDS))
    if unknown:
        raise _refuse(f"unknown field {shown(unknown[0])}", unknown[0])
    problem = issuer_url_problem(body.get("issuer"), allow_loopback_http=allow_loopback_http)
    if problem:
        raise _refuse(problem, "issuer")
    audience = body.get("audience")
    if not isinstance(audience, str) or not _AUDIENCE.match(audience):
        raise _refuse(f"audience is 1-{TRUST_AUDIENCE_MAX_LENGTH} printable characters, no spaces", "audience")
    subject = None if body.get("subject") is None else _pattern(body["subject"], "subject")
    conditions = _claim_conditions(body.get("claims"))
    if subject is not None and (problem := subject_pin_problem(subject)):
        raise _refuse(problem, "subject")
    if subject is None and not _pins_by_claims(conditions):
        raise _refuse(
            "a policy must name whom it trusts: a subject, or without one a claim condition without wildcards "
            f"on one of {', '.join(sorted(PINNING_CLAIMS))}",
            "subject",
        )
    return TrustPolicy(
        name=name,
        issuer=body["issuer"],
        audience=audience,
        subject=subject,
        claims=MappingProxyType(conditions),
        roles=_roles(body.get("roles")),
        context=MappingProxyType(_context(body.get("context"))),
        max_ttl_seconds=_ttl(body.get("max_ttl_seconds")),
    )


def exchange_ttl_seconds(policy: TrustPolicy, requested: object) -> int:
    """How long a key made by an exchange under `policy` lives: the `ttl_seconds` asked for, from
    TRUST_TTL_MIN_SECONDS up to the policy's max_ttl_seconds, or that maximum when none is asked."""
    if requested is None:
        return policy.max_ttl_seconds
    if (
        isinstance(requested, bool)
        or not isinstance(requested, int)
        or not TRUST_TTL_MIN_SECONDS <= requested <= policy.max_ttl_seconds
    ):
        bounds = f"{TRUST_TTL_MIN_SECONDS}-{policy.max_ttl_seconds}"
        raise _refuse(f"ttl_seconds is a whole number of seconds, {bounds} under this trust policy", "ttl_seconds")
    return requested
