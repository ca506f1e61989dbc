"""People sign in: the management API takes a person's OIDC token as the bearer, verified as the exchange
verifies a pipeline's and matched with the trust policies of the environment the path names. The matched
policy's roles and context are the caller's, checked as a key's are; the audit names the person.

Through the template's local gateway: the real authorizer and handlers, the development issuer serving its
discovery and keys on 127.0.0.1 (a free port, stopped by the fixture)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from archie_local.oidc_issuer import LocalOidcIssuer
from tests.fakes.oidc import b64url, compact
from tests.support import env_path

DASHBOARD = "archie-dashboard"
ALICE = {"email": "alice@example.com", "email_verified": True, "name": "Alice Example", "groups": ["platform-admins"]}
BOB = {"email": "bob@example.com", "email_verified": True, "name": "Bob Example", "groups": ["auditors"]}
KEYS = env_path("demo", "dev", "/keys")
WHOAMI = env_path("demo", "dev", "/whoami")
READER = {"permissions": [{"resource": "keys", "actions": ["read"], "filters": {}}]}


@pytest.fixture
def issuer(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalOidcIssuer]:
    """The development issuer, as the stack's sign-in issuer with the dashboard's client id (what `make run`
    gives the template: SignInIssuer, SignInClientId). It issues the pipelines' tokens too, as locally."""
    from archie_keys.edge import composition

    with LocalOidcIssuer().serve() as running:
        monkeypatch.setenv("SIGN_IN_ISSUER", running.url)
        monkeypatch.setenv("SIGN_IN_CLIENT_ID", DASHBOARD)
        composition.reset()
        yield running


def people_policy(issuer: LocalOidcIssuer, group: str, roles: list[str]) -> dict[str, Any]:
    return {"issuer": issuer.url, "audience": DASHBOARD, "claims": {"groups": group}, "roles": roles}


@pytest.fixture
def trusted(api: Any, admin_key: str, issuer: LocalOidcIssuer) -> None:
    """demo/dev: platform-admins are admins, auditors read keys."""
    assert api("PUT", env_path("demo", "dev", "/roles/key-reader"), admin_key, READER).status == 201
    for name, group, roles in (("admins", "platform-admins", ["admin"]), ("auditors", "auditors", ["key-reader"])):
        put = api("PUT", env_path("demo", "dev", f"/trust/{name}"), admin_key, people_policy(issuer, group, roles))
        assert put.status == 201, put.body


def key_count(api: Any, admin_key: str) -> int:
    return len(api("GET", f"{KEYS}?limit=100", admin_key).body["keys"])


def test_a_signed_in_admin_acts_with_the_policys_roles_and_the_audit_names_them(
    api, admin_key, issuer, trusted
) -> None:
    token = issuer.mint("demo-alice", DASHBOARD, ALICE)

    me = api("GET", WHOAMI, token)
    made = api("POST", KEYS, token, {"name": "made by alice", "roles": ["admin"]})

    assert me.status == 200, me.body
    assert (me.body["key_id"], me.body["name"], me.body["roles"]) == (
        "user:alice@example.com",
        "Alice Example",
        ["admin"],
    )
    assert made.status == 201, made.body
    assert made.body["record"]["created_by"] == "user:alice@example.com"
    events = api("GET", env_path("demo", "dev", f"/audit?kind=event&key_id={made.body['key_id']}"), admin_key)
    (created,) = [r for r in events.body["records"] if r["event"] == "key.created"]
    assert created["actor_key_id"] == "user:alice@example.com"


def test_an_unverified_email_is_never_the_name_the_subject_is(api, admin_key, issuer, trusted) -> None:
    token = issuer.mint("demo-alice", DASHBOARD, {**ALICE, "email": "ceo@example.com", "email_verified": False})

    me = api("GET", WHOAMI, token)

    assert me.status == 200 and me.body["key_id"] == "user:demo-alice", me.body


def test_a_person_whose_policy_grants_read_cannot_write(api, admin_key, issuer, trusted) -> None:
    token = issuer.mint("demo-bob", DASHBOARD, BOB)
    before = key_count(api, admin_key)

    listed = api("GET", KEYS, token)
    made = api("POST", KEYS, token, {"name": "made by bob", "roles": ["key-reader"]})

    assert listed.status == 200, listed.body
    assert made.status == 403 and made.body["code"] == "forbidden", made.body
    assert key_count(api, admin_key) == before


def refused_tokens(issuer: LocalOidcIssuer, stranger: LocalOidcIssuer) -> dict[str, str]:
    """One token per way a person's token can be wrong; each would be accepted but for that one thing."""
    now = int(time.time())
    claims = {"iss": issuer.url, "sub": "demo-alice", "aud": DASHBOARD, "iat": now, "exp": now + 300, **ALICE}
    header = {"alg": "RS256", "kid": issuer.kid, "typ": "JWT"}
    head, _, signature = issuer.mint("demo-alice", DASHBOARD, ALICE).split(".")
    forged_body = b64url(json.dumps({**claims, "sub": "demo-mallory"}).encode())
    return {
        "audience": issuer.mint("demo-alice", "another-app", ALICE),
        "issuer": stranger.mint("demo-alice", DASHBOARD, ALICE),
        "issuer_claimed": stranger.mint("demo-alice", DASHBOARD, {**ALICE, "iss": issuer.url}),
        "expired": issuer.mint("demo-alice", DASHBOARD, ALICE, issued_at=now - 1000, ttl_seconds=300),
        "signature": f"{head}.{forged_body}.{signature}",
        "alg_none": compact({**header, "alg": "none"}, claims),
        "alg_hmac": compact({**header, "alg": "HS256"}, claims, b"x" * 32),
        "unknown_kid": issuer.sign({**header, "kid": "not-published"}, json.dumps(claims).encode()),
        "no_policy_matches": issuer.mint("demo-carol", DASHBOARD, {**ALICE, "groups": ["developers"]}),
        "claims_not_matching": issuer.mint("demo-alice", DASHBOARD, {**ALICE, "groups": "platform-admins-2"}),
        # For the dashboard among others, and not issued to it (azp): another client's token.
        "several_audiences": issuer.mint("demo-alice", [DASHBOARD, "another-app"], ALICE),
        "another_party": issuer.mint("demo-alice", [DASHBOARD, "another-app"], {**ALICE, "azp": "another-app"}),
        # An access token says what a client may call, not who signed in.
        "access_token": issuer.mint("demo-alice", DASHBOARD, {**ALICE, "token_use": "access"}),
    }


@pytest.mark.parametrize(
    "wrong",
    [
        "audience",
        "issuer",
        "issuer_claimed",
        "expired",
        "signature",
        "alg_none",
        "alg_hmac",
        "unknown_kid",
        "no_policy_matches",
        "claims_not_matching",
        "several_audiences",
        "another_party",
        "access_token",
    ],
)
def test_a_wrong_person_token_is_a_401_and_changes_nothing(api, admin_key, issuer, trusted, wrong, caplog) -> None:
    with LocalOidcIssuer().serve() as stranger:
        token = refused_tokens(issuer, stranger)[wrong]
        before = key_count(api, admin_key)

        me = api("GET", WHOAMI, token)
        made = api("POST", KEYS, token, {"name": "should not exist", "roles": ["admin"]})

    for refused in (me, made):
        assert refused.status == 401, refused.body
        assert refused.body["code"] == "unauthorized"
    assert key_count(api, admin_key) == before
    assert token not in caplog.text


PIPELINE_AUDIENCE, PIPELINE_SUBJECT = "archie-keys", "repo:demo/app:ref:refs/heads/main"


def test_a_pipelines_token_is_no_bearer_even_where_a_policy_trusts_it(api, admin_key, issuer, trusted) -> None:
    """A pipeline's token sent as the bearer would get its policy's roles with none of the exchange's checks
    (the replay mark, the rate limit, the key.created record), named as a person. Locally one issuer issues
    both; the audience tells them apart. Another issuer's pipeline token is refused alike."""
    pipeline = {"issuer": issuer.url, "audience": PIPELINE_AUDIENCE, "subject": PIPELINE_SUBJECT, "roles": ["admin"]}
    assert api("PUT", env_path("demo", "dev", "/trust/deploy"), admin_key, pipeline).status == 201
    with LocalOidcIssuer().serve() as ci:
        elsewhere = {**pipeline, "issuer": ci.url}
        assert api("PUT", env_path("demo", "dev", "/trust/elsewhere"), admin_key, elsewhere).status == 201
        tokens = [issuer.mint(PIPELINE_SUBJECT, PIPELINE_AUDIENCE), ci.mint(PIPELINE_SUBJECT, PIPELINE_AUDIENCE)]
        before = key_count(api, admin_key)

        answers = [api("POST", KEYS, token, {"name": "made by a pipeline", "roles": ["admin"]}) for token in tokens]

    for refused in answers:
        assert refused.status == 401 and refused.body["code"] == "unauthorized", refused.body
    assert key_count(api, admin_key) == before


@pytest.mark.parametrize("audience", [DASHBOARD, [PIPELINE_AUDIENCE, DASHBOARD]])
def test_a_persons_token_is_never_exchanged_for_a_key(api, admin_key, issuer, trusted, audience) -> None:
    """The converse: a person's ID token at the exchange would become a key that outlives the sign-in. Refused
    even when a policy for pipelines would match it too."""
    pipeline = {"issuer": issuer.url, "audience": PIPELINE_AUDIENCE, "subject": "demo-alice", "roles": ["admin"]}
    assert api("PUT", env_path("demo", "dev", "/trust/deploy"), admin_key, pipeline).status == 201
    token = issuer.mint("demo-alice", audience, ALICE)
    before = key_count(api, admin_key)

    refused = api("POST", env_path("demo", "dev", "/keys/exchange"), None, {"token": token})

    assert refused.status == 401, refused.body
    assert (refused.body["code"], refused.body["message"]) == ("unauthorized", "the token was refused")
    assert key_count(api, admin_key) == before


def test_a_person_is_refused_once_the_token_expires_even_with_the_authorizers_allow_reused(
    api, admin_key, issuer, trusted, monkeypatch
) -> None:
    """API Gateway serves a cached Allow for up to AuthorizerResultTtl (300 s by default), whatever the token's
    `exp`. Here the authorizer still answers Allow (its clock is now), as a cached answer would, while the
    handler's clock is past the token's expiry: the handler refuses. A key's requests are not affected."""
    from archie_keys.domain import identity
    from archie_keys.domain.limits import OIDC_CLOCK_SKEW_SECONDS

    token = issuer.mint("demo-alice", DASHBOARD, ALICE, ttl_seconds=300)
    expires = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
    assert api("GET", WHOAMI, token).status == 200
    monkeypatch.setattr(identity, "now_epoch", lambda: float(expires + OIDC_CLOCK_SKEW_SECONDS), raising=False)

    late = api("GET", WHOAMI, token)
    made = api("POST", KEYS, token, {"name": "made too late", "roles": ["admin"]})

    for refused in (late, made):
        assert refused.status == 401 and refused.body["code"] == "unauthorized", refused.body
    assert api("GET", WHOAMI, admin_key).status == 200


def test_replacing_or_deleting_a_policy_flushes_the_environments_authorizer_caches(
    api, admin_key, issuer, trusted, monkeypatch
) -> None:
    """A person's Allow may sit in API Gateway's cache for AuthorizerResultTtl: a policy that gave it roles,
    changed or deleted, flushes the environment's stages as a key's revocation does (the calls observed as
    the IAM test observes them: moto has no API Gateway control plane). A new policy, or a replacement that
    changes nothing, takes nothing away: no flush."""
    import botocore.client

    from archie_keys.edge import composition

    monkeypatch.setenv("FLUSH_TARGETS", "mgmt/v1,orders/dev/demo/dev,other/dev/demo/qa")
    composition.reset()
    flushed: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "FlushStageAuthorizersCache":
            flushed.append(f"{params['restApiId']}/{params['stageName']}")
            return {}
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    admins = env_path("demo", "dev", "/trust/admins")
    same = people_policy(issuer, "platform-admins", ["admin"])
    assert api("PUT", env_path("demo", "dev", "/trust/more"), admin_key, {**same, "subject": "demo-x"}).status == 201
    assert api("PUT", admins, admin_key, same).status == 200
    assert flushed == []

    assert api("PUT", admins, admin_key, {**same, "roles": ["key-reader"]}).status == 200
    assert set(flushed) == {"mgmt/v1", "orders/dev"}
    flushed.clear()
    assert api("DELETE", admins, admin_key).status == 204
    assert set(flushed) == {"mgmt/v1", "orders/dev"}
    assert api("GET", WHOAMI, issuer.mint("demo-alice", DASHBOARD, ALICE)).status == 401


def test_a_token_for_several_audiences_issued_to_the_dashboard_is_a_bearer(api, admin_key, issuer, trusted) -> None:
    token = issuer.mint("demo-alice", [DASHBOARD, "another-app"], {**ALICE, "azp": DASHBOARD, "token_use": "id"})

    assert api("GET", WHOAMI, token).status == 200


def test_a_token_trusted_in_one_environment_is_nothing_in_another(api, admin_key, bootstrap, issuer, trusted) -> None:
    bootstrap("demo", "qa")  # declared, trusting no one

    refused = api("GET", env_path("demo", "qa", "/whoami"), issuer.mint("demo-alice", DASHBOARD, ALICE))

    assert refused.status == 401, refused.body


def test_an_issuer_that_cannot_be_read_is_a_503_not_a_refusal(api, admin_key, issuer, trusted) -> None:
    from archie_keys.edge import composition

    token = issuer.mint("demo-alice", DASHBOARD, ALICE)
    issuer.stop()  # its keys were never fetched by this process: nothing cached to serve
    composition.reset()

    down = api("GET", WHOAMI, token)

    assert down.status == 503 and down.body["code"] == "service_unavailable", down.body
    assert int(down.headers["Retry-After"]) > 0


def test_a_key_decision_imports_nothing_of_the_token_path() -> None:
    # The authorizer's hot path: a key is never checked against JOSE code, and none is loaded for it.
    code = (
        "import sys\n"
        "import archie_keys.edge.authorizer\n"
        "loaded = [m for m in sys.modules if m.startswith(('joserfc', 'archie_keys.app.person_signin',"
        " 'archie_keys.app.oidc_verifier'))]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd="layers/shared")


def test_a_cognito_user_pools_id_token_is_a_bearer_as_on_aws(api, admin_key, monkeypatch) -> None:
    """The AWS path, as far as moto goes: the template's kind of user pool and public app client (moto's
    cognito-idp, in-process), a person in the platform-admins group, a policy on `cognito:groups`; the pool's
    discovery and JWKS are fetched from its https://cognito-idp... address (moto answers it)."""

    from archie_keys.app.issuer_keys import IssuerKeys
    from archie_keys.app.oidc_verifier import OidcVerifier
    from archie_keys.aws.oidc_discovery import OidcDiscovery
    from archie_keys.edge import composition
    from archie_keys.edge.composition import get_services
    from archie_local.template import REGION
    from tests.fakes.oidc import moto_getter, people_pool

    people = people_pool(REGION, {"alice@example.com": ["platform-admins"], "bob@example.com": []})

    def id_token(email: str) -> str:
        return people.sign_in(email)["IdToken"]

    issuer, client_id = people.issuer, people.client_id
    admins = {"issuer": issuer, "audience": client_id, "claims": {"cognito:groups": "platform-admins"}}
    assert api("PUT", env_path("demo", "dev", "/trust/admins"), admin_key, {**admins, "roles": ["admin"]}).status == 201
    # The stack's sign-in issuer and client, as the template names its pool's to the authorizer.
    monkeypatch.setenv("SIGN_IN_ISSUER", issuer)
    monkeypatch.setenv("SIGN_IN_CLIENT_ID", client_id)
    composition.reset()
    # The stack's verifier, fetching through moto instead of the internet (set before its first use).
    services = get_services()
    services.__dict__["oidc_verifier"] = OidcVerifier(IssuerKeys(OidcDiscovery(moto_getter)))
    before = key_count(api, admin_key)

    made = api("POST", KEYS, id_token("alice@example.com"), {"name": "made by alice", "roles": ["admin"]})
    refused = api("POST", KEYS, id_token("bob@example.com"), {"name": "made by bob", "roles": ["admin"]})

    assert made.status == 201, made.body
    # moto's ID token carries no email_verified: the person is named by their subject, never an unverified email
    assert made.body["record"]["created_by"].startswith("user:") and "@" not in made.body["record"]["created_by"]
    assert refused.status == 401, refused.body
    assert key_count(api, admin_key) == before + 1
