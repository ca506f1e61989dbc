"""Signed webhooks for key events, as the Standard Webhooks specification says (docs/webhooks.md). Pure.

* The secret is `whsec_` + base64 of 32 random bytes, shown once; a receiver keeps it.
* Every delivery carries `webhook-id` (the event's id, the same on every attempt: the receiver's idempotency
  key), `webhook-timestamp` (the attempt's time, integer seconds: a retry is signed afresh, so a receiver's
  5-minute tolerance holds for a delivery made a day later) and `webhook-signature`: `v1,` + base64 of
  HMAC-SHA256(secret, "{id}.{timestamp}.{body}"), one per secret, space-separated, so a secret can be rotated
  with no delivery failing verification.
* The body is compact JSON `{"type", "timestamp", "data"}`; `data` names the key (id, name, project,
  environment), the actor and what the event type allows, never a key value or hash (`key_event` refuses
  a body in which either appears).
* `verify` is what a receiver writes: constant-time comparison, the tolerance window, unknown signature
  versions skipped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import shown
from archie_keys.domain.keyformat import BASE62_ALPHABET, keys_in
from archie_keys.domain.webhook_limits import (
    WEBHOOK_SECRET_BYTES,
    WEBHOOK_SECRET_MAX_BYTES,
    WEBHOOK_SECRET_MIN_BYTES,
    WEBHOOK_TOLERANCE_SECONDS,
)

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
# What each event type's `data` may hold beyond the key and the actor: anything else is a bug, refused.
EVENT_DETAILS: dict[str, frozenset[str]] = {
    "key.created": frozenset({"expires_at", "roles"}),
    "key.updated": frozenset({"changed"}),
    "key.rolled": frozenset({"successor_key_id", "grace_until"}),
    "key.revoked": frozenset({"reason"}),
    "key.leaked": frozenset({"source", "url"}),
    "key.expiring": frozenset({"expires_at", "days_left"}),
    "key.expired": frozenset({"expired_at"}),
    "key.quota_exhausted": frozenset({"quota"}),
}
EVENT_TYPES = tuple(EVENT_DETAILS)
# key.expiring is sent this many days before expires_at.
EXPIRING_NOTICE_DAYS = (7, 1)
_MESSAGE_ID_LENGTH = 24


class WebhookVerificationError(Exception):
    """A delivery that must not be trusted: a header missing or malformed, outside the tolerance, or no
    signature made with the secret."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(WEBHOOK_SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key of a `whsec_` secret (the prefix is optional, as receivers' libraries accept); ValueError for
    anything that is not strict base64 of 24 to 64 bytes."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if not WEBHOOK_SECRET_MIN_BYTES <= len(key) <= WEBHOOK_SECRET_MAX_BYTES:
        raise ValueError(f"a webhook secret holds {WEBHOOK_SECRET_MIN_BYTES} to {WEBHOOK_SECRET_MAX_BYTES} bytes")
    return key


def new_message_id() -> str:
    """`msg_` and 24 base62 characters: never a ".", which would make the signed content ambiguous."""
    return "msg_" + "".join(secrets.choice(BASE62_ALPHABET) for _ in range(_MESSAGE_ID_LENGTH))


def _signature(key: bytes, message_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(signing_secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one `v1,<base64>` per secret (the current one first)."""
    if not signing_secrets:
        raise ValueError("a delivery needs a secret to be signed with")
    if "." in message_id:
        raise ValueError("a message id must not contain '.'")
    stamp = str(int(timestamp))
    return " ".join(
        f"{SIGNATURE_VERSION},{base64.b64encode(_signature(secret_bytes(s), message_id, stamp, body)).decode()}"
        for s in signing_secrets
    )


def signed_headers(signing_secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery attempt made at `timestamp`."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": sign(signing_secrets, message_id, timestamp, body),
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: int = WEBHOOK_TOLERANCE_SECONDS
) -> None:
    """Accept a delivery, or raise WebhookVerificationError: what a receiver of these webhooks writes."""
    named = {name.lower(): value for name, value in headers.items()}
    message_id, stamp, signatures = (named.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (message_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    # Digits only, as written: "1e9", " 17", "+17" or "017" would be read as another number than was signed.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12 and (stamp == "0" or stamp[0] != "0")):
        raise WebhookVerificationError("webhook-timestamp is not a whole number of seconds")
    if int(stamp) < now - tolerance:
        raise WebhookVerificationError("webhook-timestamp too old")
    if int(stamp) > now + tolerance:
        raise WebhookVerificationError("webhook-timestamp too new")
    expected = _signature(secret_bytes(secret), message_id, stamp, body)
    for entry in signatures.split(" "):
        version, _, encoded = entry.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            presented = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, presented):
            return
    raise WebhookVerificationError("no signature matches the secret")


# --- the events -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeySubject:
    """The key an event is about, by its public parts only."""

    key_id: str
    name: str
    project: str
    environment: str


def key_event(
    event_type: str, key: KeySubject, actor: str, occurred_at: float, details: Mapping[str, Any] | None = None
) -> bytes:
    """The body of a key event, compact JSON (the bytes that are signed and sent). ValueError for an unknown
    type, a detail the type does not carry, or a body holding anything shaped like a key value or its hash."""
    allowed = EVENT_DETAILS.get(event_type)
    if allowed is None:
        raise ValueError(f"unknown event type {shown(event_type)}")
    extra = dict(details or {})
    unexpected = set(extra) - allowed
    if unexpected:
        raise ValueError(f"{event_type} does not carry {sorted(unexpected)}")
    data = {
        "key_id": key.key_id,
        "name": key.name,
        "project": key.project,
        "environment": key.environment,
        "actor": actor,
        **extra,
    }
    body = {"type": event_type, "timestamp": to_iso(occurred_at), "data": data}
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # The body is built from names and ids; a key value or an argon2 hash in it means a caller passed the wrong
    # thing, and a webhook would carry a secret to a third party. Never sent.
    if "$argon2" in text or next(keys_in(text), None) is not None:
        raise ValueError("an event body must never carry a key value or hash")
    return text.encode()


TEST_EVENT_TYPE = "webhook.test"


def webhook_test_event(project: str, environment: str, webhook: str, actor: str, occurred_at: float) -> bytes:
    """The body of a test-send: about the webhook, never a key; sent whatever event types the webhook takes."""
    data = {"webhook": webhook, "project": project, "environment": environment, "actor": actor}
    body = {"type": TEST_EVENT_TYPE, "timestamp": to_iso(occurred_at), "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
