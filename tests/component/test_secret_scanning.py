"""Leaked keys revoke themselves: a GitHub secret scanning alert, signed by GitHub, revokes a live key this
service issued at every layer and records where it leaked; a look-alike, a forged or unsigned alert changes
nothing; the answer says no more than a label per token."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from archie_keys.app.leaks import LeakedToken, report_leaks
from archie_keys.app.verification import KeyVerifier
from archie_keys.domain import limits
from archie_keys.domain.keyformat import checksum, parse_key
from archie_keys.edge import composition
from archie_keys.scan import find_keys
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
ALERTS = "/secret-scanning/github"
VIEWER = {"permissions": [{"resource": "keys", "actions": ["read"]}]}
URL = "https://github.com/someone/app/blob/abc123/config.py#L7"


class GitHub:
    """Signs alerts as GitHub does: ECDSA P-256 / SHA-256 over the raw body, base64 DER."""

    def __init__(self, identifier: str = "gh-key-1") -> None:
        self.identifier = identifier
        self.private = ec.generate_private_key(ec.SECP256R1())

    def pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def headers(self, body: bytes, identifier: str | None = None) -> dict[str, str]:
        signature = base64.b64encode(self.private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
        return {"Github-Public-Key-Identifier": identifier or self.identifier, "Github-Public-Key-Signature": signature}


def alert(*tokens: str, url: str = URL) -> bytes:
    return json.dumps(
        [{"token": t, "type": "archie_api_key", "url": url, "source": "content"} for t in tokens]
    ).encode()


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> GitHub:
    signer = GitHub()
    monkeypatch.setenv("SECRET_SCANNING_PUBLIC_KEYS", json.dumps({signer.identifier: signer.pem()}))
    composition.reset()
    return signer


@pytest.fixture
def key(api: Any, admin_key: str) -> dict[str, Any]:
    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER)
    return dict(api("POST", KEYS, admin_key, {"name": "leaky", "roles": ["viewer"]}).body)


def send(api: Any, github: GitHub, body: bytes, **headers: str) -> Any:
    return api("POST", ALERTS, None, raw_body=body, headers={**github.headers(body), **headers})


def events(api: Any, admin_key: str, key_id: str) -> list[dict[str, Any]]:
    records = api("GET", env_path("demo", "dev", f"/audit?key_id={key_id}"), admin_key).body["records"]
    return [r for r in records if r["kind"] == "event"]


def leaked_events(api: Any, admin_key: str, key_id: str) -> list[dict[str, Any]]:
    return [e for e in events(api, admin_key, key_id) if e["event"] == "key.leaked"]


def crafted_look_alike(prefix: str = "archie_") -> str:
    """The shape of a demo/dev key with a made-up tail and a correct checksum, as anyone can compute one."""
    body = f"{prefix}demo_dev_" + "".join(secrets.choice("0123456789ABCDEFabcdef") for _ in range(34))
    return body + checksum(body)


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every candidate the alert path checks against the key table (each one costs an argon2 verify)."""
    checked: list[str] = []
    verify = KeyVerifier.verify

    def counted(self: KeyVerifier, presented: str, **kwargs: Any) -> Any:
        checked.append(presented)
        return verify(self, presented, **kwargs)

    monkeypatch.setattr(KeyVerifier, "verify", counted)
    return checked


def test_a_disabled_key_reported_leaked_is_revoked_as_a_live_one(api, admin_key, github, key) -> None:
    # Disabled can be undone; a leaked value must never work again, so the leak revokes it.
    assert api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"enabled": False}).status == 200
    assert send(api, github, alert(key["key"])).body[0]["label"] == "true_positive"
    shown = api("GET", f"{KEYS}/{key['key_id']}", admin_key).body
    assert (shown["status"], shown["revoked_reason"]) == ("revoked", "leaked")
    assert [e["details"]["action"] for e in leaked_events(api, admin_key, key["key_id"])] == ["revoke"]


def test_a_signed_alert_revokes_a_live_key_everywhere_and_records_where_it_leaked(api, admin_key, github, key) -> None:
    body = alert(key["key"])
    reply = send(api, github, body)
    assert reply.status == 200
    assert reply.body == [
        {
            "token_hash": hashlib.sha256(key["key"].encode()).hexdigest(),
            "token_type": "archie_api_key",
            "label": "true_positive",
        }
    ]
    assert key["key"] not in json.dumps(reply.body)
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 403
    shown = api("GET", f"{KEYS}/{key['key_id']}", admin_key).body  # found again, as what happened to it
    assert (shown["status"], shown["revoked_reason"], shown["revoked_by"]) == (
        "revoked",
        "leaked",
        "github-secret-scanning",
    )
    assert shown["leaked_at"]
    leaked = events(api, admin_key, key["key_id"])[0]
    assert leaked["event"] == "key.leaked" and leaked["actor_key_id"] == "github-secret-scanning"
    assert leaked["details"] == {"url": URL, "source": "content", "type": "archie_api_key", "action": "revoke"}
    # Reported again (GitHub retries): still a true positive, nothing more to revoke and nothing more to record.
    again = send(api, github, body)
    assert again.body[0]["label"] == "true_positive"
    assert [e["details"]["action"] for e in leaked_events(api, admin_key, key["key_id"])] == ["revoke"]


def test_an_environment_that_only_reports_keeps_the_key_and_marks_it(api, admin_key, github, key) -> None:
    assert api("PUT", env_path("demo", "dev"), admin_key, {"on_leak": "report"}).body["on_leak"] == "report"
    assert send(api, github, alert(key["key"])).body[0]["label"] == "true_positive"
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 200
    shown = api("GET", f"{KEYS}/{key['key_id']}", admin_key).body
    assert shown["leaked_at"] and shown["status"] == "active"
    assert events(api, admin_key, key["key_id"])[0]["details"]["action"] == "report"


def test_look_alikes_are_false_positives_and_revoke_nothing(api, admin_key, github, key) -> None:
    body = key["key"][: -6 - 22] + "Z" * 22  # the real key's public id with another secret, checksum fixed
    forged = body + checksum(body)
    unknown = "archie_demo_dev_" + "A" * 34
    unknown += checksum(unknown)
    reprefixed = "evil_" + key["key"][len("archie_") : -6]
    reprefixed += checksum(reprefixed)
    tokens = [forged, unknown, reprefixed, "archie_YOUR_API_KEY", key["key"][:-1] + "x"]
    reply = send(api, github, alert(*tokens))
    assert [answer["label"] for answer in reply.body] == ["false_positive"] * len(tokens)
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 200
    assert events(api, admin_key, key["key_id"]) == [
        e for e in events(api, admin_key, key["key_id"]) if e["event"] != "key.leaked"
    ]


@pytest.mark.parametrize(
    "tamper",
    ["no headers", "unknown key identifier", "signature of another body", "garbage signature", "no signature"],
)
def test_an_unsigned_or_forged_alert_answers_401_and_changes_nothing(api, admin_key, github, key, tamper) -> None:
    body = alert(key["key"])
    headers = github.headers(body)
    if tamper == "no headers":
        headers = {}
    elif tamper == "unknown key identifier":
        headers = GitHub("attacker").headers(body)
    elif tamper == "signature of another body":
        headers = github.headers(alert("something else"))
    elif tamper == "garbage signature":
        headers["Github-Public-Key-Signature"] = "bm90IGEgc2lnbmF0dXJl"
    else:
        del headers["Github-Public-Key-Signature"]
    reply = api("POST", ALERTS, None, raw_body=body, headers=headers)
    assert reply.status == 401 and reply.body["code"] == "unauthorized"
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 200
    assert all(e["event"] != "key.leaked" for e in events(api, admin_key, key["key_id"]))


def test_an_attackers_own_signing_key_is_not_trusted(api, admin_key, github, key) -> None:
    attacker = GitHub(github.identifier)  # GitHub's identifier, the attacker's key
    assert (
        api("POST", ALERTS, None, raw_body=alert(key["key"]), headers=attacker.headers(alert(key["key"]))).status == 401
    )


def test_alerts_are_bounded(api, github) -> None:
    too_many = alert(*(["archie_x"] * 101))
    assert send(api, github, too_many).status == 422
    assert send(api, github, b"[]").status == 422
    assert send(api, github, b"{not json").status == 422


def test_keys_revoked_before_a_later_token_failed_are_flushed_now_and_again_on_redelivery(
    api, admin_key, github, key, monkeypatch
) -> None:
    from archie_keys.aws.cache_flush import CacheFlusher, FlushReport
    from archie_keys.aws.key_store import KeyStore

    flushed: list[tuple[str, str]] = []

    def record_flush(self: CacheFlusher, project: str, environment: str) -> FlushReport:
        flushed.append((project, environment))
        return FlushReport()

    monkeypatch.setattr(CacheFlusher, "revoke_everywhere", record_flush)
    second = api("POST", KEYS, admin_key, {"name": "leaky too", "roles": ["viewer"]}).body
    read = KeyStore.get_key

    def second_read_fails(store: KeyStore, project: str, environment: str, key_id: str, **kwargs: Any) -> Any:
        if key_id == second["key_id"]:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        return read(store, project, environment, key_id, **kwargs)

    body = alert(key["key"], second["key"])
    with monkeypatch.context() as failing:
        failing.setattr(KeyStore, "get_key", second_read_fails)
        assert send(api, github, body).status == 503  # GitHub redelivers the alert

    def revoked(key_id: str) -> bool:
        return bool(composition.get_services().store.get_key("demo", "dev", key_id).get("revoked_at"))

    assert revoked(key["key_id"]) and not revoked(second["key_id"])
    assert flushed == [("demo", "dev")]  # the first key's revocation reached every cache at once
    redelivered = send(api, github, body)
    assert [answer["label"] for answer in redelivered.body] == ["true_positive", "true_positive"]
    assert revoked(second["key_id"])
    assert flushed == [("demo", "dev"), ("demo", "dev")]


# --- a key glued to other text: the alert path finds keys exactly as the scanner does -------------------------

GLUED = {
    "a word before it": "old_{key}",
    "an identifier before it": "x_{key}",
    "an underscore before it": "_{key}",
    "a digit before it": "9{key}",
    "a letter after it": "{key}X",
    "a suffix after it": "{key}_old",
    "text that is not ASCII around it": "ключ={key}…",
}


@pytest.mark.parametrize("shape", GLUED.values(), ids=GLUED.keys())
def test_a_key_glued_to_other_text_is_revoked_as_the_scanner_finds_it(api, admin_key, github, key, shape) -> None:
    # Given a match that holds a live key with text glued to it, which the scanner reports
    token = shape.format(key=key["key"])
    assert [start for _, _, start in find_keys(token)] == [parse_key(key["key"]).start]

    # When GitHub reports that match in a signed alert
    reply = send(api, github, alert(token))

    # Then it is a true positive, the key is revoked, and its trail says so once
    assert reply.body == [
        {
            "token_hash": hashlib.sha256(token.encode()).hexdigest(),
            "token_type": "archie_api_key",
            "label": "true_positive",
        }
    ]
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 403
    assert [e["details"]["action"] for e in leaked_events(api, admin_key, key["key_id"])] == ["revoke"]


def test_every_key_one_match_holds_is_revoked(api, admin_key, github, key) -> None:
    second = api("POST", KEYS, admin_key, {"name": "leaky too", "roles": ["viewer"]}).body
    token = f"old_{key['key']}{second['key']}X"
    assert send(api, github, alert(token)).body[0]["label"] == "true_positive"
    for leaked in (key, second):
        assert api("GET", env_path("demo", "dev", "/whoami"), leaked["key"]).status == 403
        assert len(leaked_events(api, admin_key, leaked["key_id"])) == 1


def test_look_alikes_glued_to_text_are_false_positives_and_revoke_nothing(api, admin_key, github, key) -> None:
    body = key["key"][: -6 - 22] + "Z" * 22  # the real key's public id with another secret, checksum fixed
    forged = body + checksum(body)
    tokens = [f"old_{forged}", f"{forged}X", f"x_{crafted_look_alike()}_old", f"ключ={key['key'][:-1]}"]
    reply = send(api, github, alert(*tokens))
    assert [answer["label"] for answer in reply.body] == ["false_positive"] * len(tokens)
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 200
    assert leaked_events(api, admin_key, key["key_id"]) == []


def test_a_token_packed_with_look_alikes_costs_a_bounded_number_of_verifications(
    api, admin_key, github, key, verifications
) -> None:
    # A signed alert may still carry anything GitHub matched: here a token as long as an alert's token may be,
    # a live key followed by shapes whose checksums hold (anyone can compute one).
    packed = key["key"]
    while len(packed) + 60 < limits.LEAK_TOKEN_MAX_LENGTH:
        packed += crafted_look_alike()
    assert len(list(find_keys(packed))) > limits.LEAK_KEYS_PER_TOKEN_MAX
    assert send(api, github, alert(packed)).body[0]["label"] == "true_positive"
    # Each key found costs an argon2 verify: the search stops after the bound.
    assert len(verifications) == limits.LEAK_KEYS_PER_TOKEN_MAX
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 403


def test_a_token_longer_than_any_match_is_not_searched(api, admin_key, key, verifications) -> None:
    # The edge refuses such an alert (422); the use case does not rely on it: a megabyte of keys is not ours.
    huge = (key["key"] + "_") * (1024 * 1024 // len(key["key"]))
    [answer] = report_leaks(composition.get_services(), [LeakedToken(huge, "archie_api_key", URL, "content")])
    assert answer["label"] == "false_positive" and verifications == []
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 200


# --- one key.leaked event per key and alert ---------------------------------------------------------------------


def test_a_replayed_alert_records_its_leak_once(api, admin_key, github, key) -> None:
    body = alert(key["key"])
    for _ in range(3):
        assert send(api, github, body).body[0]["label"] == "true_positive"
    assert [e["details"]["action"] for e in leaked_events(api, admin_key, key["key_id"])] == ["revoke"]


def test_a_replayed_alert_for_a_key_its_environment_keeps_records_its_leak_once(api, admin_key, github, key) -> None:
    api("PUT", env_path("demo", "dev"), admin_key, {"on_leak": "report"})
    body = alert(key["key"])
    for _ in range(3):
        assert send(api, github, body).body[0]["label"] == "true_positive"
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 200
    assert [e["details"]["action"] for e in leaked_events(api, admin_key, key["key_id"])] == ["report"]


def test_a_replayed_alert_for_a_key_already_revoked_records_its_leak_once(api, admin_key, github, key) -> None:
    assert api("DELETE", f"{KEYS}/{key['key_id']}", admin_key).status == 204
    body = alert(key["key"], f"old_{key['key']}")  # the same key twice in one place: one leak
    for _ in range(3):
        assert [a["label"] for a in send(api, github, body).body] == ["true_positive", "true_positive"]
    assert [e["details"]["action"] for e in leaked_events(api, admin_key, key["key_id"])] == ["already_inactive"]


def test_a_leak_found_in_another_place_is_recorded_again(api, admin_key, github, key) -> None:
    elsewhere = "https://github.com/someone/fork/blob/def456/config.py#L7"
    send(api, github, alert(key["key"]))
    send(api, github, alert(key["key"], url=elsewhere))
    send(api, github, alert(key["key"], url=elsewhere))
    leaked = leaked_events(api, admin_key, key["key_id"])
    assert sorted((e["details"]["url"], e["details"]["action"]) for e in leaked) == [
        (URL, "revoke"),
        (elsewhere, "already_inactive"),
    ]


def test_the_key_format_page_states_the_bounds_of_an_alert() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "key-format.md").read_text()
    section = page[page.index("## Leaked keys revoke themselves") :]
    section = " ".join(section.split("\n## ", 1)[0].split())  # up to the next section, or the end
    assert f"at most {limits.LEAK_TOKENS_MAX} tokens of at most {limits.LEAK_TOKEN_MAX_LENGTH} characters" in section
    assert f"up to {limits.LEAK_KEYS_PER_TOKEN_MAX} (" in section
