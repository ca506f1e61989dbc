"""Use case: a person's OIDC token as the management API's bearer (docs/federation.md, "People sign in").

The token (an ID token of the identity provider the dashboard signs in with: the stack's Cognito user pool,
any OIDC issuer, or the local development issuer) is verified exactly as the exchange verifies a pipeline's
(app.oidc_verifier: the issuer's published keys, `alg` from the key, audience, bounded lifetime and skew) and
matched with the trust policies of the environment the request names. The most specific matching policy's
roles and context become the caller's grants for that request, resolved as a key's are (domain.grants), so
every later check (the authorizer's IAM policy, each handler's Identity.require) is the one a key with those
roles and that context meets. Nothing is written: signing in makes no key, and each request is decided anew
from the token and the policies (API Gateway caches that answer as it caches a key's).

Only the stack's sign-in issuer, for the dashboard's client id (SignInIssuer and SignInClientId, or the
stack's user pool and its app client), makes a person: a pipeline's token (another audience, often another
issuer) is refused here even when a trust policy of the environment would match it, since as a bearer it
would skip everything the exchange does (the replay mark, the rate limit, the key.created record), and the
policies matched are only those naming that issuer and audience. The exchange refuses the converse (a
person's token, app.exchange). An access token, and a token for several audiences whose `azp` is not the
dashboard's, are refused too (domain.oidc_claims.check_person_claims).

The caller is named `user:<email>` when the provider says the address is verified, else `user:<sub>`
(domain.oidc_actor): the audit of everything the person does names them. One issuer signs people in, so the
name is unambiguous. The token's `exp` travels in the authorizer context: a handler refuses the request once
it has passed, even when API Gateway serves the Allow from its cache (domain.identity).
"""

from __future__ import annotations

from archie_keys.app.commands import Place
from archie_keys.app.oidc_verifier import OidcVerifier, trusted_token
from archie_keys.app.services import Services
from archie_keys.app.trust import environment_policies
from archie_keys.domain.grants import resolve_grants
from archie_keys.domain.identity import Identity
from archie_keys.domain.limits import SLUG_PATTERN, whole
from archie_keys.domain.oidc_actor import person_actor, person_display_name
from archie_keys.domain.oidc_claims import check_person_claims, number_claim
from archie_keys.domain.oidc_errors import UntrustedTokenError, WrongIssuerError
from archie_keys.domain.oidc_tokens import read_token

_SLUG = whole(SLUG_PATTERN)


class PersonSignIn:
    """Who a person's token makes the caller, in one environment. One per process: the verifier's cache of
    issuers' keys serves every request of a warm instance."""

    def __init__(self, services: Services, verifier: OidcVerifier, issuer: str, client_id: str) -> None:
        """`issuer` and `client_id`: the stack's sign-in issuer and the dashboard's client id there (both
        empty: nobody signs in, and every token is refused)."""
        self._services = services
        self._verifier = verifier
        self._issuer = issuer
        self._client_id = client_id

    def identity(self, token: str, project: object, environment: object) -> Identity:
        """The Identity `token` holds in `project`/`environment`, or the TokenRefusedError of the first check
        it fails (IssuerUnavailableError, a 503, when the issuer's keys cannot be read)."""
        if not (isinstance(project, str) and isinstance(environment, str)):
            # Every management route but the keyless ones names an environment; a person's token is good only
            # where an environment's trust policies say so, so a route without one has nothing to match.
            raise UntrustedTokenError("a person's token is accepted only on an environment's routes")
        if not (_SLUG.match(project) and _SLUG.match(environment)):
            raise UntrustedTokenError("the path names no valid environment")
        if not (self._issuer and self._client_id):
            raise WrongIssuerError("this stack has no sign-in issuer")
        if read_token(token).claims.get("iss") != self._issuer:
            raise WrongIssuerError("iss is not the stack's sign-in issuer")
        place = Place(project, environment)
        # Only the policies for people: a pipeline's policy never matches a bearer, even one of the same issuer.
        people = [
            policy
            for policy, _ in environment_policies(self._services, place).values()
            if policy.issuer == self._issuer and policy.audience == self._client_id
        ]
        if not people:
            raise UntrustedTokenError(f"{project}/{environment} trusts no one signing in")
        trusted = trusted_token(self._verifier, people, token)
        policy, claims = trusted.policy, trusted.token.claims
        check_person_claims(claims, self._client_id)
        actor = person_actor(claims)
        roles, context = policy.roles, dict(policy.context)
        # As the authorizer resolves a key's roles: a role deleted since the policy was written grants nothing
        # (the policy stays, as a key naming a deleted role stays).
        stored = self._services.store.get_roles(project, environment, roles)
        grants = resolve_grants(
            [(name, stored[name].permissions) for name in roles if name in stored], context, strict=False
        )
        return Identity(
            key_id=actor.name,
            project=project,
            environment=environment,
            name=person_display_name(claims, actor),
            roles=roles,
            context=context,
            grants=grants,
            expires_epoch=int(number_claim(claims, "exp")),
        )
