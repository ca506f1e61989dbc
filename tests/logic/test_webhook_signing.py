"""Standard Webhooks signing and verifying (domain.webhooks), held to the specification's published test vector
and to a receiver written here from the specification's text, and the key events' bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from archie_keys.domain.webhooks import (
    EVENT_TYPES,
    KeySubject,
    WebhookVerificationError,
    key_event,
    new_message_id,
    new_secret,
    secret_bytes,
    sign,
    signed_headers,
    verify,
)

# The test vector of the specification's reference libraries (standard-webhooks/standard-webhooks,
# libraries/*/tests: "test_sign_function").
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

KEY = KeySubject("0NxQ3aB7kR2c", "billing ci", "demo", "dev")


def spec_receiver(secret: str, headers: dict[str, str], body: bytes, now: int) -> bool:
    """A receiver written from the specification's text alone: sign "{id}.{timestamp}.{payload}" with the
    base64-decoded secret, compare with each space-delimited v1 signature, five minutes' tolerance."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    fresh = abs(now - int(headers["webhook-timestamp"])) <= 300
    return fresh and any(s == f"v1,{expected}" for s in headers["webhook-signature"].split(" "))


def test_signing_matches_the_specifications_published_test_vector() -> None:
    assert sign([VECTOR_SECRET], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_published_vector_verifies_within_the_tolerance_and_not_after() -> None:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 300)
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP - 300)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 301)
    with pytest.raises(WebhookVerificationError, match="too new"):
        verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP - 301)


def test_a_delivery_we_sign_verifies_at_a_receiver_written_from_the_specification() -> None:
    secret = new_secret()
    body = key_event("key.created", KEY, "0AdminKey001", 1_790_000_000)
    headers = signed_headers([secret], new_message_id(), 1_790_000_005, body)
    assert spec_receiver(secret, headers, body, now=1_790_000_010)
    verify(secret, headers, body, now=1_790_000_010)


def test_a_rotating_webhook_is_signed_with_both_secrets_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"type":"key.revoked"}'
    headers = signed_headers([new, old], "msg_1", 1_790_000_000, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        verify(secret, headers, body, now=1_790_000_000)
        assert spec_receiver(secret, headers, body, now=1_790_000_000)
    with pytest.raises(WebhookVerificationError):
        verify(new_secret(), headers, body, now=1_790_000_000)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
        lambda h, b: ({**h, "webhook-signature": "v1a," + h["webhook-signature"].split(",", 1)[1]}, b),
        lambda h, b: ({**h, "webhook-signature": "v1,not base64!"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        lambda h, b: ({**h, "webhook-timestamp": " " + h["webhook-timestamp"]}, b),
        lambda h, b: ({**h, "webhook-timestamp": "0" + h["webhook-timestamp"]}, b),
        lambda h, b: ({**h, "webhook-timestamp": "1.79e9"}, b),
    ],
    ids=["body", "id", "timestamp", "version", "garbage", "missing", "spaced", "zero-padded", "float"],
)
def test_a_tampered_or_malformed_delivery_is_refused(tamper) -> None:
    secret = new_secret()
    body = b'{"type":"key.revoked"}'
    headers, sent = tamper(signed_headers([secret], "msg_1", 1_790_000_000, body), body)
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, sent, now=1_790_000_000)


def test_header_names_are_read_in_any_case() -> None:
    secret = new_secret()
    headers = {k.upper(): v for k, v in signed_headers([secret], "msg_1", 100, b"{}").items()}
    verify(secret, headers, b"{}", now=100)


def test_secrets_are_whsec_and_base64_of_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(secret_bytes(secret)) == 32 and secret != new_secret()
    for bad in ("whsec_", "whsec_not*base64", "whsec_" + base64.b64encode(b"x" * 23).decode()):
        with pytest.raises(ValueError):
            secret_bytes(bad)


def test_message_ids_never_hold_a_dot() -> None:
    assert all("." not in new_message_id() and new_message_id().startswith("msg_") for _ in range(50))
    with pytest.raises(ValueError):
        sign([new_secret()], "msg.1", 1, b"{}")


# --- the events -------------------------------------------------------------------------------------------


def test_every_key_event_names_the_key_and_the_actor_and_nothing_secret() -> None:
    for event_type in EVENT_TYPES:
        body = json.loads(key_event(event_type, KEY, "0AdminKey001", 1_790_000_000))
        assert body == {
            "type": event_type,
            "timestamp": "2026-09-21T14:13:20.000Z",
            "data": {
                "key_id": KEY.key_id,
                "name": KEY.name,
                "project": "demo",
                "environment": "dev",
                "actor": "0AdminKey001",
            },
        }


def test_an_event_carries_the_details_of_its_type_only() -> None:
    body = json.loads(
        key_event("key.expiring", KEY, "system", 0, {"expires_at": "2026-12-01T00:00:00Z", "days_left": 7})
    )
    assert body["data"]["days_left"] == 7
    with pytest.raises(ValueError, match="does not carry"):
        key_event("key.created", KEY, "system", 0, {"hash": "x"})
    with pytest.raises(ValueError, match="unknown event type"):
        key_event("key.deleted", KEY, "system", 0)


def test_an_event_holding_a_key_value_or_a_hash_is_never_built() -> None:
    from archie_keys.domain.keyformat import generate_key
    from tests.support import TAG_KEY

    value, _ = generate_key("archie_", "demo", "dev", TAG_KEY)
    with pytest.raises(ValueError, match="never carry"):
        key_event("key.leaked", KEY, "github", 0, {"url": f"https://github.com/acme/app/blob/main/.env#{value}"})
    with pytest.raises(ValueError, match="never carry"):
        key_event("key.rolled", KeySubject(KEY.key_id, value, "demo", "dev"), "system", 0)
    with pytest.raises(ValueError, match="never carry"):
        key_event("key.updated", KEY, "system", 0, {"changed": ["$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"]})
