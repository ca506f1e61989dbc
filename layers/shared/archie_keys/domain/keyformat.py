"""The key format: generate, parse and checksum API keys. Pure functions, no AWS.

    archie_demo_dev_0NxQ3aB7kR2c8hTq1ZpLmW4vYs9dFgH2jKe3uV1f5
    |------|----|---|-----------|----------------------|-----|
    prefix  proj env  key_id (12)      secret (22)       crc (6)

* prefix: 1-16 chars of [a-z0-9_] ending in "_", chosen per key (default "archie_"), for secret scanners.
* project, environment: verbatim, so the authorizer finds the key's partition and refuses a key from another
  environment before any database read. They contain no "_", so the key splits unambiguously from the right.
* key_id: 7 base62 chars of milliseconds since the epoch + 5 random chars: unique, public, and sorting
  ids sorts keys by creation time (lists are newest first with no index).
* secret: 22 base62 chars from `secrets` (62**22 > 2**130).
* checksum: CRC32 of everything before it, base62, zero-padded to 6 chars. A typo or a random string is
  refused without touching DynamoDB (the chance a random tail passes is 1 in 2**32).

Only [A-Za-z0-9_] appears, so a double-click selects the whole key.
"""

from __future__ import annotations

import secrets
import time
import zlib
from dataclasses import dataclass

from archie_keys.domain.limits import PREFIX_MAX_LENGTH, PREFIX_PATTERN, SLUG_MAX_LENGTH, SLUG_PATTERN, whole

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

KEY_ID_TIME_LENGTH = 7
KEY_ID_RANDOM_LENGTH = 5
KEY_ID_LENGTH = KEY_ID_TIME_LENGTH + KEY_ID_RANDOM_LENGTH
SECRET_LENGTH = 22
CHECKSUM_LENGTH = 6
TAIL_LENGTH = KEY_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH
# prefix(16) + project(24) + "_" + environment(24) + "_" + tail: anything longer is refused before parsing.
KEY_MAX_LENGTH = PREFIX_MAX_LENGTH + SLUG_MAX_LENGTH + 1 + SLUG_MAX_LENGTH + 1 + TAIL_LENGTH

_PREFIX_RE = whole(PREFIX_PATTERN)
SLUG_RE = whole(SLUG_PATTERN)
_BASE62_RE = whole(r"^[0-9A-Za-z]+$")
KEY_ID_RE = whole(rf"^[0-9A-Za-z]{{{KEY_ID_LENGTH}}}$")


def _unanchored(pattern: str) -> str:
    return pattern.removeprefix("^").removesuffix("$")


# The shape of a key, unanchored, for finding keys in text: prefix, project "_" environment "_", and the 40
# base62 characters of key_id, secret and checksum. Built from the limits, so it changes when they do. It is
# published (README, gitleaks rule, GitHub secret scanning), so it uses only syntax Go's RE2 accepts: no
# lookaround, no backreferences. It is anchored on the structure, not on "archie_", since the prefix is
# chosen per key. A shape is not a key: only parse_key's checksum says that a match is one, and where it
# starts (a prefix may contain "_", so a match can begin inside the identifier glued before a key).
_SLUG = _unanchored(SLUG_PATTERN)
KEY_PATTERN = f"{_unanchored(PREFIX_PATTERN)}{_SLUG}_{_SLUG}_[0-9A-Za-z]{{{TAIL_LENGTH}}}"


class MalformedKeyError(ValueError):
    """The string is not an Archie key (wrong shape or bad checksum)."""


@dataclass(frozen=True, slots=True)
class ParsedKey:
    prefix: str
    project: str
    environment: str
    key_id: str
    secret: str

    @property
    def start(self) -> str:
        """The public, recognisable beginning of the key: everything up to and including the key id."""
        return f"{self.prefix}{self.project}_{self.environment}_{self.key_id}"


def encode_base62(number: int, width: int) -> str:
    if number < 0:
        raise ValueError("base62 encodes non-negative integers")
    chars, rest = [], number
    while rest:
        rest, remainder = divmod(rest, 62)
        chars.append(BASE62_ALPHABET[remainder])
    encoded = "".join(reversed(chars)).rjust(width, "0")
    if len(encoded) > width:
        raise ValueError(f"{number} does not fit in {width} base62 characters")
    return encoded


def checksum(body: str) -> str:
    return encode_base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62_ALPHABET) for _ in range(length))


def new_key_id(now_ms: int | None = None) -> str:
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    return encode_base62(millis, KEY_ID_TIME_LENGTH) + _random_base62(KEY_ID_RANDOM_LENGTH)


def generate_key(prefix: str, project: str, environment: str, key_id: str | None = None) -> tuple[str, ParsedKey]:
    """A fresh key value and its parts. The value must be shown once and then forgotten."""
    if not _PREFIX_RE.match(prefix):
        raise ValueError("invalid prefix")
    if not (SLUG_RE.match(project) and SLUG_RE.match(environment)):
        raise ValueError("invalid project or environment")
    parsed = ParsedKey(prefix, project, environment, key_id or new_key_id(), _random_base62(SECRET_LENGTH))
    body = f"{parsed.start}{parsed.secret}"
    return body + checksum(body), parsed


def parse_key(value: str) -> ParsedKey:
    """Split and checksum a presented key, or raise MalformedKeyError. Costs no I/O: it is the authorizer's
    first gate, so a flood of garbage never reaches DynamoDB."""
    if not value or len(value) > KEY_MAX_LENGTH or not value.isascii():
        raise MalformedKeyError("malformed")
    parts = value.rsplit("_", 3)
    if len(parts) != 4:
        raise MalformedKeyError("malformed")
    prefix, project, environment, tail = parts[0] + "_", parts[1], parts[2], parts[3]
    if (
        len(tail) != TAIL_LENGTH
        or not _BASE62_RE.match(tail)
        or not _PREFIX_RE.match(prefix)
        or not SLUG_RE.match(project)
        or not SLUG_RE.match(environment)
    ):
        raise MalformedKeyError("malformed")
    body, presented = value[:-CHECKSUM_LENGTH], value[-CHECKSUM_LENGTH:]
    # The checksum is public (anyone can compute CRC32), so an ordinary comparison leaks nothing.
    if checksum(body) != presented:
        raise MalformedKeyError("malformed")
    return ParsedKey(
        prefix=prefix,
        project=project,
        environment=environment,
        key_id=tail[:KEY_ID_LENGTH],
        secret=tail[KEY_ID_LENGTH : KEY_ID_LENGTH + SECRET_LENGTH],
    )
