"""The development OIDC issuer behaves as a real one where the service relies on it: discovery and keys a
verifier accepts, tokens minted on request (`make oidc-token`), and a sign-in whose codes are good once, for
the PKCE verifier they were issued to, and only ever sent back to 127.0.0.1. Servers bind 127.0.0.1 on free
ports and are stopped by the test that started them."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from archie_keys.app.issuer_keys import IssuerKeys
from archie_keys.app.oidc_verifier import OidcVerifier, VerifierConfig
from archie_keys.aws.oidc_discovery import OidcDiscovery, urllib_getter
from archie_local.oidc_cli import issuer_url
from archie_local.oidc_issuer import LocalOidcIssuer
from archie_local.oidc_signin import s256

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = "http://127.0.0.1:3000/"
CLIENT = "archie-dashboard"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmn"  # 48 characters of RFC 7636's alphabet


@pytest.fixture
def issuer() -> Iterator[LocalOidcIssuer]:
    with LocalOidcIssuer().serve() as running:
        yield running


def call(issuer: LocalOidcIssuer, method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
    """One request, redirects not followed: (status, headers, body)."""
    host = urlsplit(issuer.url)
    connection = http.client.HTTPConnection(host.hostname or "", host.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def verifier_of(issuer: LocalOidcIssuer) -> OidcVerifier:
    keys = IssuerKeys(OidcDiscovery(urllib_getter, allow_loopback_http=True))
    return OidcVerifier(keys, config=VerifierConfig(allow_loopback_http=True))


def authorize_query(**overrides: str) -> str:
    params = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": DASHBOARD,
        "state": "s-1",
        "nonce": "n-1",
        "scope": "openid email",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }
    return urlencode({k: v for k, v in params.items() if v is not None})


def sign_in(issuer: LocalOidcIssuer, user: str = "alice", **overrides: str) -> dict[str, list[str]]:
    """Press the user's button on the sign-in page: the query the browser is redirected to."""
    form = authorize_query(**overrides) + "&" + urlencode({"user": user})
    status, headers, _ = call(
        issuer, "POST", "/authorize", form.encode(), **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 303
    location = urlsplit(headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == overrides.get("redirect_uri", DASHBOARD)
    return parse_qs(location.query)


def exchange(issuer: LocalOidcIssuer, code: str, verifier: str = VERIFIER, **overrides: str) -> tuple[int, Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": DASHBOARD,
        "client_id": CLIENT,
        "code_verifier": verifier,
        **overrides,
    }
    status, _, body = call(
        issuer, "POST", "/token", urlencode(form).encode(), **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    return status, json.loads(body)


def test_discovery_names_the_issuer_and_its_endpoints(issuer) -> None:
    status, _, body = call(issuer, "GET", "/.well-known/openid-configuration")
    document = json.loads(body)

    assert status == 200
    assert document["issuer"] == issuer.url
    assert document["jwks_uri"] == f"{issuer.url}/jwks"
    assert document["code_challenge_methods_supported"] == ["S256"]


def test_a_minted_token_is_verified_through_discovery(issuer) -> None:
    status, _, body = call(
        issuer,
        "POST",
        "/mint",
        json.dumps(
            {
                "sub": "repo:acme/billing:ref:refs/heads/main",
                "aud": "archie-keys",
                "claims": {"repository": "acme/billing"},
            }
        ).encode(),
    )

    verified = verifier_of(issuer).verify(json.loads(body)["token"], issuer.url, {"archie-keys"})

    assert status == 200 and verified.claims["repository"] == "acme/billing"


@pytest.mark.parametrize(
    "body",
    [
        {"aud": "a"},
        {"sub": "s"},
        {"sub": "s", "aud": "a", "claims": {"iss": "https://token.actions.githubusercontent.com"}},
        {"sub": "s", "aud": "a", "claims": ["x"]},
        {"sub": "s", "aud": "a", "ttl_seconds": 86400},
        ["not", "an", "object"],
        # A person (an admin of `make run`'s demo/dev, by group or by address): the sign-in page's to give.
        {"sub": "demo-alice", "aud": "archie-keys", "claims": {"groups": ["platform-admins"]}},
        {"sub": "s", "aud": "a", "claims": {"email": "alice@example.com", "email_verified": True}},
        {"sub": "s", "aud": "a", "claims": {"email_verified": "true"}},
        {"sub": "demo-alice", "aud": CLIENT},
    ],
)
def test_mint_refuses_what_it_cannot_mint(issuer, body) -> None:
    assert call(issuer, "POST", "/mint", json.dumps(body).encode())[0] == 400


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1.evil.example:{port}", "127.0.0.1:1", ""])
def test_the_issuer_answers_only_requests_addressed_to_it_by_its_loopback_name(issuer, host) -> None:
    """A web page whose name its DNS rebinds to 127.0.0.1 reaches the issuer with its own name as Host."""
    port = urlsplit(issuer.url).port
    pipeline = json.dumps({"sub": "repo:demo/app:ref:refs/heads/main", "aud": "archie-keys"}).encode()

    status, _, body = call(issuer, "POST", "/mint", pipeline, Host=host.format(port=port))

    assert status == 421 and b"token" not in body
    for name in ("127.0.0.1", "localhost"):
        assert call(issuer, "POST", "/mint", pipeline, Host=f"{name}:{port}")[0] == 200


def test_a_rotated_issuer_publishes_both_keys_and_signs_with_the_new(issuer) -> None:
    old = issuer.kid
    new = issuer.rotate()

    kids = [key["kid"] for key in json.loads(call(issuer, "GET", "/jwks")[2])["keys"]]

    assert kids == [old, new]
    assert verifier_of(issuer).verify(issuer.mint("s", "a"), issuer.url, {"a"}).kid == new


def test_the_sign_in_page_lists_the_demo_users(issuer) -> None:
    status, headers, body = call(issuer, "GET", "/authorize?" + authorize_query())

    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert all(name in page for name in ("Alice Example", "Bob Example", "Carol Example"))
    assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_a_person_signs_in_with_pkce_and_gets_tokens_the_verifier_accepts(issuer) -> None:
    answer = sign_in(issuer)
    status, tokens = exchange(issuer, answer["code"][0])

    assert answer["state"] == ["s-1"] and status == 200
    verified = verifier_of(issuer).verify(tokens["id_token"], issuer.url, {CLIENT})
    assert (verified.subject, verified.claims["email"], verified.claims["groups"]) == (
        "demo-alice",
        "alice@example.com",
        ["platform-admins"],
    )
    assert verified.claims["nonce"] == "n-1"
    assert verifier_of(issuer).verify(tokens["access_token"], issuer.url, {CLIENT}).claims["token_use"] == "access"


def test_a_code_is_good_once(issuer) -> None:
    code = sign_in(issuer)["code"][0]
    assert exchange(issuer, code)[0] == 200

    assert exchange(issuer, code) == (400, {"error": "invalid_grant"})


def test_a_code_presented_with_another_verifier_is_refused_and_burnt(issuer) -> None:
    """A stolen code is useless without the verifier that only the signing-in page held."""
    code = sign_in(issuer)["code"][0]

    assert exchange(issuer, code, verifier="w" * 48) == (400, {"error": "invalid_grant"})
    assert exchange(issuer, code) == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize(
    "overrides", [{"redirect_uri": "http://127.0.0.1:3000/elsewhere"}, {"client_id": "another-client"}]
)
def test_a_code_is_bound_to_its_client_and_redirect_uri(issuer, overrides) -> None:
    assert exchange(issuer, sign_in(issuer)["code"][0], **overrides) == (400, {"error": "invalid_grant"})


def test_an_expired_code_is_refused(issuer) -> None:
    now = issuer.clock()
    code = sign_in(issuer)["code"][0]
    issuer.clock = lambda: now + 61

    assert exchange(issuer, code) == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": "http://localhost:3000/"},
        {"redirect_uri": "http://127.0.0.1.evil.example/"},
        {"redirect_uri": "http://user@127.0.0.1:3000/"},
        {"redirect_uri": "http://127.0.0.1:3000/#fragment"},
        {"code_challenge_method": "plain"},
        {"code_challenge": None},
        {"response_type": "token"},
        {"client_id": "<script>"},
    ],
)
def test_an_authorization_request_out_of_bounds_is_a_page_never_a_redirect(issuer, overrides) -> None:
    status, headers, _ = call(issuer, "GET", "/authorize?" + authorize_query(**overrides))

    assert status == 400 and "Location" not in headers


def test_what_the_request_carries_is_escaped_on_the_sign_in_page(issuer) -> None:
    status, _, body = call(issuer, "GET", "/authorize?" + authorize_query(state='"><script>alert(1)</script>'))

    assert status == 200
    assert "<script>" not in body.decode() and "&lt;script&gt;" in body.decode()


def test_the_token_endpoint_answers_cors_for_a_127_0_0_1_page_only(issuer) -> None:
    form = urlencode({"grant_type": "authorization_code", "code": "x"}).encode()
    _, local, _ = call(issuer, "POST", "/token", form, Origin="http://127.0.0.1:3000")
    _, foreign, _ = call(issuer, "POST", "/token", form, Origin="https://evil.example")

    assert local["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    assert "Access-Control-Allow-Origin" not in foreign


def run_module(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archie_local", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_oidc_token_prints_only_a_token_the_running_issuer_minted(issuer, tmp_path) -> None:
    env = {**os.environ, "OIDC_ISSUER_URL": issuer.url}

    done = run_module(
        "oidc-token",
        "--sub",
        "repo:acme/billing:ref:refs/heads/main",
        "--aud",
        "archie-keys",
        "--claims",
        '{"repository": "acme/billing"}',
        env=env,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout.count("\n") == 1
    assert verifier_of(issuer).verify(token, issuer.url, {"archie-keys"}).claims["repository"] == "acme/billing"


def without_issuer_url() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OIDC_ISSUER_URL"}


def test_oidc_token_without_a_running_issuer_says_how_to_start_one(tmp_path) -> None:
    done = run_module("oidc-token", "--sub", "s", "--aud", "a", env=without_issuer_url(), cwd=tmp_path)

    assert done.returncode == 2 and "make run" in done.stderr and done.stdout == ""


def test_oidc_token_finds_the_issuer_of_the_running_stack_before_a_standalone_one(tmp_path) -> None:
    (tmp_path / ".local-oidc.json").write_text('{"OIDC_ISSUER_URL": "http://127.0.0.1:3002"}')
    assert issuer_url({}, tmp_path) == "http://127.0.0.1:3002"

    (tmp_path / ".local-stack.json").write_text('{"OIDC_ISSUER_URL": "http://127.0.0.1:4002", "PORT": "3000"}')
    assert issuer_url({}, tmp_path) == "http://127.0.0.1:4002"
    assert issuer_url({"OIDC_ISSUER_URL": "http://127.0.0.1:5002"}, tmp_path) == "http://127.0.0.1:5002"


def test_make_oidc_token_passes_claims_with_spaces_and_quotes_through(issuer) -> None:
    claims = json.dumps({"workflow": "deploy 'prod'", "repository": "acme/billing"})
    env = {**os.environ, "OIDC_ISSUER_URL": issuer.url}

    done = subprocess.run(
        [
            "make",
            "-s",
            "oidc-token",
            "SUB=repo:acme/billing:ref:refs/heads/main",
            "AUD=archie-keys",
            f"CLAIMS={claims}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    verified = verifier_of(issuer).verify(done.stdout.strip(), issuer.url, {"archie-keys"})
    assert verified.claims["workflow"] == "deploy 'prod'"


def test_the_issuer_runs_on_its_own_and_stops_on_ctrl_c(tmp_path) -> None:
    state = tmp_path / "oidc.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "archie_local", "oidc-issuer", "--port", "0", "--state-file", str(state)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("issuer: http://127.0.0.1:"), process.stderr.read() if process.stderr else ""
        url = line.split(" ", 1)[1].strip()
        assert json.loads(state.read_text()) == {"OIDC_ISSUER_URL": url}
        minted = run_module("oidc-token", "--sub", "s", "--aud", "a", env=without_issuer_url(), cwd=state.parent)
        assert minted.returncode == 2  # the state file is named .local-oidc.json only by default
        (tmp_path / ".local-oidc.json").write_text(state.read_text())
        minted = run_module("oidc-token", "--sub", "s", "--aud", "a", env=without_issuer_url(), cwd=tmp_path)
        assert minted.returncode == 0, minted.stderr
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
    assert process.returncode == 0 and not state.exists()
