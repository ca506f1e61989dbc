"""Who acted, as the audit names a federated caller: a workload (a pipeline's token) or a person.

  workload  `oidc:<issuer>#<sub>`, e.g. `oidc:https://token.actions.githubusercontent.com#repo:acme/billing:
            ref:refs/heads/main`, with the run's details (repository, workflow, ref, run id...) beside it;
  person    `user:<email>` when the identity provider says the address is verified, else `user:<sub>`.

An unverified email is never the name: many providers let a user type any address, and an audit that says
`user:ceo@acme.example` because someone typed it is worse than one that says a subject id. The claims come
from a verified token; their sizes are bounded here anyway, since they reach the audit and logs verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from archie_keys.domain.limits import KEY_NAME_MAX_LENGTH, OIDC_ACTOR_DETAIL_MAX_CHARS

WORKLOAD_PREFIX, PERSON_PREFIX = "oidc:", "user:"
# The claims kept beside a workload's name: GitHub Actions' and GitLab CI's names for what ran, from where.
WORKLOAD_DETAIL_CLAIMS = (
    "repository",
    "repository_owner",
    "workflow",
    "job_workflow_ref",
    "ref",
    "ref_type",
    "environment",
    "run_id",
    "run_attempt",
    "project_path",
    "namespace_path",
    "pipeline_id",
    "job_id",
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# A plain address (what the audit shows and an investigator searches for), not RFC 5322's every form.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\Z")


@dataclass(frozen=True)
class Actor:
    name: str
    details: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def is_person(self) -> bool:
        return self.name.startswith(PERSON_PREFIX)


def _text(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = _CONTROL.sub("", str(value))[:OIDC_ACTOR_DETAIL_MAX_CHARS]
    return text or None


def workload_actor(claims: Mapping[str, Any]) -> Actor:
    """The actor of a pipeline's verified token: its issuer and subject, with the run's details."""
    details = {name: text for name in WORKLOAD_DETAIL_CLAIMS if (text := _text(claims.get(name))) is not None}
    return Actor(f"{WORKLOAD_PREFIX}{claims['iss']}#{claims['sub']}", MappingProxyType(details))


def _email_verified(claims: Mapping[str, Any]) -> bool:
    # Cognito sends a boolean; some providers send the string "true".
    return claims.get("email_verified") in (True, "true")


def person_actor(claims: Mapping[str, Any]) -> Actor:
    """The actor of a person's verified token: their verified email, else their subject."""
    email = claims.get("email")
    if isinstance(email, str) and _email_verified(claims) and _EMAIL.match(email) and not _CONTROL.search(email):
        return Actor(f"{PERSON_PREFIX}{email}")
    return Actor(f"{PERSON_PREFIX}{claims['sub']}")


def person_display_name(claims: Mapping[str, Any], actor: Actor) -> str:
    """What /whoami and the dashboard call a signed-in person: the token's `name` (display only, never an
    identity: the audit uses `actor`), else the actor's name without its prefix."""
    shown_name = _text(claims.get("name"))
    return (shown_name or actor.name.removeprefix(PERSON_PREFIX))[:KEY_NAME_MAX_LENGTH]
