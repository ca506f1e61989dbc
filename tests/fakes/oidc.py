"""The internet as the OIDC verifier sees it, in memory: an HttpGetter (aws.oidc_discovery) that answers from
in-process issuers (archie_local.oidc_issuer.LocalOidcIssuer, called without sockets) by address, records
every fetch, and can be taken down. A settable clock beside it, for the cache's timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archie_keys.aws.oidc_discovery import FetchError
from archie_local.http_server import HttpRequest


@dataclass
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class InProcessInternet:
    issuers: dict[str, Any] = field(default_factory=dict)  # base URL -> anything with dispatch(HttpRequest)
    fetched: list[str] = field(default_factory=list)
    down: bool = False

    def serve(self, issuer: Any) -> Any:
        self.issuers[issuer.url] = issuer
        return issuer

    def __call__(self, url: str, *, max_bytes: int, timeout: float) -> bytes:
        self.fetched.append(url)
        if self.down:
            raise FetchError("connection refused")
        for base, issuer in self.issuers.items():
            if url.startswith(base + "/"):
                path = url[len(base) :]
                response = issuer.dispatch(HttpRequest("GET", path, {}, [], b"", "127.0.0.1"))
                if response.status != 200:
                    raise FetchError(f"HTTP {response.status}")
                if len(response.body) > max_bytes:
                    raise FetchError(f"more than {max_bytes} bytes")
                return bytes(response.body)
        raise FetchError("no such host")

    def jwks_fetches(self) -> int:
        return sum(1 for url in self.fetched if not url.endswith("/.well-known/openid-configuration"))


def b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any] | str, payload: dict[str, Any] | str, signature: bytes = b"") -> str:
    """A hand-made compact JWS (for tokens no honest library would sign: alg none, duplicated members...).
    A str header or payload is used verbatim as the JSON text."""
    import json

    def part(value: dict[str, Any] | str) -> str:
        return b64url((value if isinstance(value, str) else json.dumps(value)).encode())

    return f"{part(header)}.{part(payload)}.{b64url(signature)}"


# The in-process issuer of the verifier's tests (tests/logic/oidc/conftest.py serves it), the audience its
# tokens are minted for, and a pipeline's subject.
TEST_ISSUER = "https://token.actions.githubusercontent.example"
AUDIENCE = "archie-keys"
GITHUB_SUB = "repo:acme/billing:ref:refs/heads/main"

# What the issuers send: the claims of a GitHub Actions token, a GitLab CI id_token and a Cognito ID token
# (their documented shapes, with our example names).
GITHUB = "https://token.actions.githubusercontent.com"
GITLAB = "https://gitlab.com"
COGNITO = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"

GITHUB_MAIN = {
    "iss": GITHUB,
    "aud": "archie-keys",
    "sub": "repo:acme/billing:ref:refs/heads/main",
    "repository": "acme/billing",
    "repository_owner": "acme",
    "repository_id": "123456",
    "ref": "refs/heads/main",
    "ref_type": "branch",
    "workflow": "deploy",
    "job_workflow_ref": "acme/billing/.github/workflows/deploy.yml@refs/heads/main",
    "run_id": "9876543210",
    "run_attempt": "1",
    "environment": "production",
    "event_name": "push",
}
GITLAB_MAIN = {
    "iss": GITLAB,
    "aud": "archie-keys",
    "sub": "project_path:acme/platform/billing:ref_type:branch:ref:main",
    "project_path": "acme/platform/billing",
    "namespace_path": "acme/platform",
    "project_id": "4242",
    "ref": "main",
    "ref_type": "branch",
    "ref_protected": "true",
    "pipeline_id": "777",
    "job_id": "778",
}
ADA = {
    "iss": COGNITO,
    "aud": "dashboard-client",
    "sub": "3f1c2b9e-1111-2222-3333-444455556666",
    "email": "ada@acme.example",
    "email_verified": True,
    "cognito:groups": ["developers", "platform-admins"],
}


def moto_getter(url: str, *, max_bytes: int, timeout: float) -> bytes:
    """An HttpGetter through requests, which moto's mock intercepts for AWS addresses (urllib is not): a
    Cognito user pool's discovery document and JWKS, as moto serves them in-process."""
    import requests

    response = requests.get(url, timeout=timeout, allow_redirects=False)
    if response.status_code != 200 or len(response.content) > max_bytes:
        raise FetchError(f"HTTP {response.status_code}")
    return response.content


PEOPLE_PASSWORD = "Correct-Horse-9-battery"


@dataclass(frozen=True)
class PeoplePool:
    """A user pool of the template's kind (email user names, a public app client) in moto's cognito-idp, with
    its people signed up and in their groups."""

    issuer: str
    client_id: str
    cognito: Any

    def sign_in(self, email: str) -> dict[str, str]:
        """The pool's tokens for a person (IdToken, AccessToken, ...)."""
        answer = self.cognito.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PEOPLE_PASSWORD},
        )
        return dict(answer["AuthenticationResult"])


def people_pool(region: str, people: dict[str, list[str]]) -> PeoplePool:
    """A pool in moto (mock_aws active) with `people`: email -> the groups they are in."""
    import boto3

    cognito = boto3.client("cognito-idp", region_name=region)
    pool_id = cognito.create_user_pool(PoolName="archie-people", UsernameAttributes=["email"])["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="dashboard", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    for group in sorted({group for groups in people.values() for group in groups}):
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
    for email, groups in people.items():
        cognito.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=PEOPLE_PASSWORD, Permanent=True)
        for group in groups:
            cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)
    return PeoplePool(f"https://cognito-idp.{region}.amazonaws.com/{pool_id}", client_id, cognito)
