"""The keys a load run presents besides the ones the service issued: forged keys (well formed, checksum valid,
never issued: what anyone can make, since CRC32 is public) and malformed ones (a typo, a truncation, not a
key at all). Built only with the key format's public helpers, so a change of format changes them too."""

from __future__ import annotations

import secrets

from archie_keys.domain.keyformat import BASE62_ALPHABET, MalformedKeyError, generate_key, parse_key


def forged_keys(count: int, prefix: str, project: str, environment: str, issued_ids: set[str]) -> list[str]:
    """`count` keys of the right place and shape that the service never issued: tagged with a key of the
    forger's own (the service's tag keys never leave it), as anyone can make them."""
    forged: list[str] = []
    forger_tag_key = secrets.token_bytes(32)
    while len(forged) < count:
        value, parsed = generate_key(prefix, project, environment, forger_tag_key)
        if parsed.key_id in issued_ids:
            continue  # 1 in 62**5 within a millisecond: not a forgery then
        if parse_key(value).key_id != parsed.key_id:
            raise AssertionError("a generated key does not parse back")
        forged.append(value)
    return forged


def malformed_keys(count: int, issued: list[str]) -> list[str]:
    """`count` values the authorizer must refuse as malformed (401): in turn an issued key with its last
    character mistyped, an issued key cut short, and a value that is no key at all."""
    made = []
    for j in range(count):
        source = issued[j % len(issued)]
        variant = j % 3
        if variant == 0:
            last = BASE62_ALPHABET[(BASE62_ALPHABET.index(source[-1]) + 1) % len(BASE62_ALPHABET)]
            value = source[:-1] + last
        elif variant == 1:
            value = source[:-5]
        else:
            value = f"not-a-key-{j}"
        try:
            parse_key(value)
        except MalformedKeyError:
            made.append(value)
            continue
        raise AssertionError(f"malformed value {j} parses as a key")
    return made
