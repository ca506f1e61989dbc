"""Sealing a value under a one-use key: XOR with an HMAC-SHA256 keystream plus an HMAC tag.

Used to keep idempotent create responses (which carry a key value) without ever storing the value in clear:
each seal key is derived from the pepper for exactly one (caller, environment, Idempotency-Key), so a
keystream is never reused, and without the pepper the stored record reveals nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

_TAG_LENGTH = 16


def _keystream(key: bytes, length: int) -> bytes:
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hmac.new(key, b"stream" + counter.to_bytes(4, "big"), hashlib.sha256).digest())
    return b"".join(blocks)[:length]


def seal(key: bytes, plaintext: str) -> str:
    data = plaintext.encode("utf-8")
    sealed = bytes(a ^ b for a, b in zip(data, _keystream(key, len(data)), strict=True))
    tag = hmac.new(key, b"tag" + sealed, hashlib.sha256).digest()[:_TAG_LENGTH]
    return base64.b64encode(sealed + tag).decode("ascii")


def unseal(key: bytes, token: str) -> str:
    raw = base64.b64decode(token)
    sealed, tag = raw[:-_TAG_LENGTH], raw[-_TAG_LENGTH:]
    if not hmac.compare_digest(tag, hmac.new(key, b"tag" + sealed, hashlib.sha256).digest()[:_TAG_LENGTH]):
        raise ValueError("sealed value does not match its tag")
    return bytes(a ^ b for a, b in zip(sealed, _keystream(key, len(sealed)), strict=True)).decode("utf-8")
