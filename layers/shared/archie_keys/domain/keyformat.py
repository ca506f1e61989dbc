"""The key format: generate, parse, checksum and tag API keys. Pure functions, no AWS.

    archie_demo_dev_0NxQ3aB7kR2c8hTq1ZpLmW4vYs9dFgH2jKe3uV1f5
    |------|----|---|-----------|----------------------|-----|
    prefix  proj env  key_id (12)      secret (22)       crc (6)
                                   random (16) + tag (6)

* prefix: 1-16 chars of [a-z0-9_] ending in "_", chosen per key (default "archie_"), for secret scanners.
* project, environment: verbatim, so the authorizer finds the key's partition and refuses a key from another
  environment before any database read. They contain no "_", so the key splits unambiguously from the right.
* key_id: 7 base62 chars of milliseconds since the epoch + 5 random chars: unique, public, and sorting
  ids sorts keys by creation time (lists are newest first with no index).
* secret: 22 base62 chars. Keys issued since the tag (format 2): 16 random chars from `secrets` (62**16 >
  2**95) and a 6-char **tag**, a MAC of everything before it under a key only this service holds (the key
  tag secret, not the pepper: rotating the pepper never touches a tag). Anyone can compute a checksum, nobody
  else a tag, so a forged key is refused with one keyed hash and no I/O. Keys issued before (format 1) have 22
  random chars; the tag of one fails, and an environment that still accepts such keys checks them the old way.
* checksum: CRC32 of everything before it, base62, zero-padded to 6 chars. A typo or a random string is
  refused without touching DynamoDB (the chance a random tail passes is 1 in 2**32).

Only [A-Za-z0-9_] appears, so a double-click selects the whole key. The shape, the checksum and therefore
the published pattern and every scanner are the same for both formats.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from archie_keys.domain.limits import PREFIX_MAX_LENGTH, PREFIX_PATTERN, SLUG_MAX_LENGTH, SLUG_PATTERN, whole

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

KEY_ID_TIME_LENGTH = 7
KEY_ID_RANDOM_LENGTH = 5
KEY_ID_LENGTH = KEY_ID_TIME_LENGTH + KEY_ID_RANDOM_LENGTH
SECRET_LENGTH = 22
TAG_LENGTH = 6
RANDOM_LENGTH = SECRET_LENGTH - TAG_LENGTH
CHECKSUM_LENGTH = 6
TAIL_LENGTH = KEY_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH
# prefix(16) + project(24) + "_" + environment(24) + "_" + tail: anything longer is refused before parsing.
KEY_MAX_LENGTH = PREFIX_MAX_LENGTH + SLUG_MAX_LENGTH + 1 + SLUG_MAX_LENGTH + 1 + TAIL_LENGTH

_PREFIX_RE = whole(PREFIX_PATTERN)
SLUG_RE = whole(SLUG_PATTERN)
_BASE62_RE = whole(r"^[0-9A-Za-z]+$")
# A key's id, public (it names the key in paths, the audit and the dashboard): the API's documents read it here.
KEY_ID_PATTERN = rf"^[0-9A-Za-z]{{{KEY_ID_LENGTH}}}$"
KEY_ID_RE = whole(KEY_ID_PATTERN)


def _unanchored(pattern: str) -> str:
    return pattern.removeprefix("^").removesuffix("$")


# The shape of a key, unanchored, for finding keys in text: prefix, project "_" environment "_", and the 40
# base62 characters of key_id, secret and checksum. Built from the limits, so it changes when they do. It is
# published (docs/key-format.md, gitleaks rule, GitHub secret scanning), so it uses only syntax Go's RE2 accepts: no
# lookaround, no backreferences. It is anchored on the structure, not on "archie_", since the prefix is
# chosen per key. A shape is not a key: only parse_key's checksum says that a match is one, and where it
# starts (a prefix may contain "_", so a match can begin inside the identifier glued before a key).
_SLUG = _unanchored(SLUG_PATTERN)
KEY_PATTERN = f"{_unanchored(PREFIX_PATTERN)}{_SLUG}_{_SLUG}_[0-9A-Za-z]{{{TAIL_LENGTH}}}"


# Every position where a key's shape starts, overlapping ones included: the lookahead matches the empty
# string, so finditer tries every start in turn, and the checksum picks the true one. In `x_archie_demo_...`
# the shape also starts at `x_archie_` and `_archie_` (a prefix may contain "_"); only `archie_...` checksums.
# The lookahead is Python's own; the published KEY_PATTERN has none (RE2 refuses it).
_CANDIDATE_RE = re.compile(f"(?=({KEY_PATTERN}))")
# What every key holds: "_" and the 40 base62 characters after it. Text without it is skipped before the
# lookahead above tries each of its positions (4 MiB of snake_case: 2 s without it, 0.05 s with it).
_TAIL_RE = re.compile(f"_[0-9A-Za-z]{{{TAIL_LENGTH}}}")


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


_BASE62_VALUES = {char: value for value, char in enumerate(BASE62_ALPHABET)}


def decode_base62(text: str) -> int:
    """The number base62 digits (already checked to be base62) stand for, most significant first."""
    value = 0
    for char in text:
        value = value * 62 + _BASE62_VALUES[char]
    return value


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


def key_id_millis(key_id: str) -> int:
    """When a key was created (ms since the epoch), read from its id: its first 7 characters."""
    value = 0
    for char in key_id[:KEY_ID_TIME_LENGTH]:
        value = value * 62 + BASE62_ALPHABET.index(char)
    return value


# The MAC's domain (BLAKE2b's personalization): a tag key is used for nothing else.
_TAG_PERSON = b"archie-keytag-v2"
_TAG_SPACE = 62**TAG_LENGTH
# Keyed BLAKE2b takes keys of up to 64 bytes. Keyed BLAKE2b is a MAC of its own (no HMAC construction needed)
# and about a quarter of HMAC-SHA256's cost in Python: the tag is checked on every forged key of a flood.
TAG_KEY_MIN_BYTES, TAG_KEY_MAX_BYTES = 32, 64


def _tag_number(tag_key: bytes, untagged: bytes) -> int:
    digest = hashlib.blake2b(untagged, key=tag_key, digest_size=8, person=_TAG_PERSON).digest()
    number: int = int.from_bytes(digest, "big") % _TAG_SPACE
    return number


def key_tag(tag_key: bytes, untagged: str) -> str:
    """The 6-char tag of a key whose text up to its tag is `untagged`: a MAC (keyed BLAKE2b) under the tag
    key, reduced to 6 base62 characters (about 35.7 bits: a forger's blind guess passes once in 5.7e10)."""
    return encode_base62(_tag_number(tag_key, untagged.encode("ascii")), TAG_LENGTH)


def has_valid_tag(key: str, tag_keys: Iterable[bytes]) -> bool:
    """Whether a key (one parse_key accepted) ends, before its checksum, with its tag under one of the tag
    keys. Compared as numbers (one decode instead of an encode per tag key), in constant time."""
    untagged = key[: -(TAG_LENGTH + CHECKSUM_LENGTH)].encode("ascii")
    presented = decode_base62(key[-(TAG_LENGTH + CHECKSUM_LENGTH) : -CHECKSUM_LENGTH]).to_bytes(8, "big")
    for tag_key in tag_keys:
        if hmac.compare_digest(_tag_number(tag_key, untagged).to_bytes(8, "big"), presented):
            return True
    return False


def generate_key(
    prefix: str, project: str, environment: str, tag_key: bytes, key_id: str | None = None
) -> tuple[str, ParsedKey]:
    """A fresh (format 2: tagged) key value and its parts. The value must be shown once and then forgotten."""
    if not _PREFIX_RE.match(prefix):
        raise ValueError("invalid prefix")
    if not (SLUG_RE.match(project) and SLUG_RE.match(environment)):
        raise ValueError("invalid project or environment")
    if not TAG_KEY_MIN_BYTES <= len(tag_key) <= TAG_KEY_MAX_BYTES:
        raise ValueError(f"a tag key has {TAG_KEY_MIN_BYTES} to {TAG_KEY_MAX_BYTES} bytes")
    key_id = key_id or new_key_id()
    start = f"{prefix}{project}_{environment}_{key_id}"
    random_part = _random_base62(RANDOM_LENGTH)
    parsed = ParsedKey(prefix, project, environment, key_id, random_part + key_tag(tag_key, start + random_part))
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
    # The checksum is public (anyone can compute CRC32), so an ordinary comparison leaks nothing. Compared as
    # numbers (decoding 6 digits is cheaper than encoding a CRC): 6 base62 digits stand for one number each.
    if zlib.crc32(body.encode("ascii")) != decode_base62(presented):
        raise MalformedKeyError("malformed")
    return ParsedKey(
        prefix=prefix,
        project=project,
        environment=environment,
        key_id=tail[:KEY_ID_LENGTH],
        secret=tail[KEY_ID_LENGTH : KEY_ID_LENGTH + SECRET_LENGTH],
    )


def keys_in(text: str) -> Iterator[tuple[int, str, ParsedKey]]:
    """Every key text holds, in order: (offset of its first character, the key, its parts). The one rule for
    "the keys in this text", used by the scanner on each line of a file and by the leak alerts on each
    reported match, so what one finds the other finds.

    A key glued to the identifier before it (`old_archie_...`, `x_archie_...`) is found at its own first
    character: every start where the shape begins is tried, and the checksum, which covers the prefix, picks
    the true one (another start passes 1 time in 2**32). Characters glued after it do not hide it either
    (`<key>X`, `<key>_old`): the 40 base62 characters after the environment carry a valid checksum, so the
    text holds a working key however it continues. Any text may be given, ASCII or not (a key is ASCII; what
    surrounds it need not be); the work grows with its length, so callers bound that. The generator is lazy:
    a caller that wants only the first keys stops the search there.
    """
    if not _TAIL_RE.search(text):
        return
    for match in _CANDIDATE_RE.finditer(text):
        candidate = match.group(1)
        try:
            parsed = parse_key(candidate)
        except MalformedKeyError:
            continue
        yield match.start(1), candidate, parsed
