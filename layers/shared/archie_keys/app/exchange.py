"""Use case: a pipeline exchanges its OIDC token for a short-lived key (docs/federation.md).

No key is presented: the token is the credential. It is verified against the environment's trust policies
(app.oidc_verifier: the issuer's published keys, audience, subject, claims, lifetime), the most specific
matching policy says which roles and context the key gets and how long it may live, and the key is made as
any key is (app.keys.new_key: the same record, hash, authorizer budget and expiry schedule).

One transaction commits the key, its audit event (actor `oidc:<issuer>#<sub>`, with the run's details), the
token's replay mark (a token is usable once) and a check that the matched policy is still stored as it was
read. So a token is consumed exactly when a key is made from it, a policy deleted or narrowed meanwhile makes
no key, and a failing dependency leaves nothing half done: the pipeline retries with the same token.

A token for the stack's sign-in client (a person's ID token for the dashboard) is refused whatever the
policies say: a person signs in with it as a bearer (app.person_signin), and it never becomes a key.
"""

from __future__ import annotations

from dataclasses import dataclass

from archie_keys.app.commands import CreateKey, Place
from archie_keys.app.keys import commit_change, expiry_second, key_id_taken, new_key, prepare_grants, undeclared
from archie_keys.app.oidc_verifier import OidcVerifier, trusted_token
from archie_keys.app.services import Services
from archie_keys.app.trust import admit, environment_policies
from archie_keys.app.views import NewKey
from archie_keys.domain import limits
from archie_keys.domain.change_records import REPLAYED
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConflictError
from archie_keys.domain.identity import Identity
from archie_keys.domain.oidc_actor import workload_actor
from archie_keys.domain.oidc_claims import names_audience
from archie_keys.domain.oidc_errors import ReplayedTokenError, UntrustedTokenError
from archie_keys.domain.oidc_tokens import read_token
from archie_keys.domain.replay import replay_mark
from archie_keys.domain.trust import TrustPolicy, exchange_ttl_seconds


@dataclass(frozen=True)
class ExchangeToken:
    place: Place
    token: str
    name: str | None = None
    ttl_seconds: int | None = None


def _key_name(command: ExchangeToken, policy: TrustPolicy, run_id: str | None) -> str:
    if command.name:
        return command.name
    name = f"exchanged under {policy.name}" + (f", run {run_id}" if run_id else "")
    return name[: limits.KEY_NAME_MAX_LENGTH]


def exchange_token(services: Services, verifier: OidcVerifier, command: ExchangeToken) -> NewKey:
    """A key for a trusted token, or TokenRefusedError (401, one answer for every reason), or
    IssuerUnavailableError (503) when the issuer's keys cannot be read."""
    place = command.place
    sign_in_client = services.config.sign_in_client_id
    if sign_in_client and names_audience(read_token(command.token).claims, sign_in_client):
        # A person's sign-in token (the dashboard's audience) is a bearer for as long as it lives, never a key
        # that outlives it; refused before any policy is read, as every other refusal is answered.
        raise UntrustedTokenError("a person's sign-in token is never exchanged for a key")
    policies = environment_policies(services, place)
    if not policies:
        raise UntrustedTokenError(f"{place.project}/{place.environment} trusts no issuer")
    trusted = trusted_token(verifier, [policy for policy, _ in policies.values()], command.token)
    policy, read_at = policies[trusted.policy.name]
    ttl = exchange_ttl_seconds(policy, command.ttl_seconds)
    # Counted once the token is verified and trusted: bogus tokens cannot use up the environment's budget.
    admit(services, place, "exchange", limits.EXCHANGES_PER_ENVIRONMENT_PER_MINUTE)
    claims = trusted.token.claims
    actor = workload_actor(claims)
    now = services.clock()
    expires_epoch = expiry_second(now + ttl)
    roles, context = list(policy.roles), dict(policy.context)
    create = CreateKey(place, _key_name(command, policy, actor.details.get("run_id")), roles, context=context)
    # The workload acts with exactly what the policy grants: the escalation check in new_key holds by
    # construction, and the authorizer-budget check and the record are those of any key.
    grants = prepare_grants(services, place, roles, context)
    workload = Identity(actor.name, place.project, place.environment, create.name, tuple(roles), context, grants)
    value, record = new_key(services, workload, create, expires_epoch, now, trust_policy=policy.name)
    key_id = record["key_id"]
    services.schedules.put(place.project, place.environment, expires_epoch)
    details = {
        "name": create.name,
        "roles": roles,
        "trust_policy": policy.name,
        "expires_at": to_iso(expires_epoch),
        "workload": dict(actor.details),
    }
    writes = [
        *services.store.key_create_writes(record),
        services.audit.event_write("key.created", place.project, place.environment, actor.name, key_id, details),
        services.trust.replay_write(replay_mark(claims)),
        services.trust.policy_check_write(place.project, place.environment, policy.name, {"updated_at": read_at}),
    ]
    labels = {
        "environment": undeclared(place),
        "key": key_id_taken(),
        REPLAYED: ReplayedTokenError("this token was exchanged before"),
        "trust": ConflictError(
            f"trust policy {policy.name} changed while this exchange ran; retry", code="conflict", field="token"
        ),
    }
    commit_change(services, writes, labels)
    return NewKey(value, record)
