"""The key format decides what is refused before any I/O: what a scanner, a user with a typo and an attacker
crafting strings each see. Everything here follows docs/key-format.md's description of the format alone."""

from __future__ import annotations

import time
import zlib

import pytest

from archie_keys.domain.keyformat import (
    BASE62_ALPHABET,
    KEY_MAX_LENGTH,
    MalformedKeyError,
    checksum,
    encode_base62,
    generate_key,
    keys_in,
    new_key_id,
    parse_key,
)
from tests.support import TAG_KEY


def documented_checksum(body: str) -> str:
    """CRC32 of everything before the checksum, in base62, zero-padded to 6 characters (docs/key-format.md)."""
    number, digits = zlib.crc32(body.encode()), ""
    while number:
        number, digit = divmod(number, 62)
        digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[digit] + digits
    return digits.rjust(6, "0")


def documented_decode(digits: str) -> int:
    return sum(BASE62_ALPHABET.index(c) * 62**i for i, c in enumerate(reversed(digits)))


def crafted(prefix: str, project: str, environment: str, tail_without_checksum: str) -> str:
    """A string with a correct checksum, as anyone who read docs/key-format.md can compute one."""
    body = f"{prefix}{project}_{environment}_{tail_without_checksum}"
    return body + documented_checksum(body)


VALID_TAIL = "0NxQ3aB7kR2c" + "8hTq1ZpLmW4vYs9dFgH2jK"  # key_id (12) + secret (22)


def test_a_scanner_can_validate_a_key_from_the_documentation_alone() -> None:
    # Enough keys that some checksums are short numbers and need the zero padding.
    values = [generate_key("archie_", "demo", "dev", TAG_KEY)[0] for _ in range(300)]
    assert all(value[-6:] == documented_checksum(value[:-6]) for value in values)
    assert any(value[-6] == "0" for value in values)


def test_base62_is_the_documented_alphabet_with_fixed_width() -> None:
    assert encode_base62(0, 7) == "0000000"
    assert encode_base62(61, 1) == "z" and encode_base62(62, 2) == "10" and encode_base62(62, 3) == "010"
    assert encode_base62(62**6 - 1, 6) == "zzzzzz"
    assert documented_decode(encode_base62(2**32 - 1, 6)) == 2**32 - 1
    with pytest.raises(ValueError):
        encode_base62(62**6, 6)
    with pytest.raises(ValueError):
        encode_base62(-1, 6)


def test_a_key_id_encodes_its_creation_time_in_milliseconds() -> None:
    before = int(time.time() * 1000)
    key_id = new_key_id()
    after = int(time.time() * 1000)
    assert before <= documented_decode(key_id[:7]) <= after
    assert new_key_id(1_700_000_000_000)[:7] == encode_base62(1_700_000_000_000, 7)
    assert all(c in BASE62_ALPHABET for c in new_key_id())


def test_a_given_key_id_is_used_as_is() -> None:
    value, parts = generate_key("archie_", "demo", "dev", TAG_KEY, key_id="Vc37AAAAAAAA")
    assert parts.key_id == "Vc37AAAAAAAA" and value.startswith("archie_demo_dev_Vc37AAAAAAAA")
    assert len(parts.secret) == 22 and all(c in BASE62_ALPHABET for c in parts.secret)


@pytest.mark.parametrize(
    ("project", "environment"), [("Demo", "dev"), ("demo", "Dev"), ("de-mo", "dev"), ("demo", ""), ("", "dev")]
)
def test_a_key_is_never_generated_for_a_project_or_environment_that_could_not_be_parsed(project, environment) -> None:
    with pytest.raises(ValueError):
        generate_key("archie_", project, environment, TAG_KEY)


def test_the_longest_possible_key_round_trips_and_one_character_more_is_refused() -> None:
    value, parts = generate_key("p" * 15 + "_", "a" * 24, "b" * 24, TAG_KEY)
    assert len(value) == KEY_MAX_LENGTH
    assert parse_key(value) == parts
    with pytest.raises(MalformedKeyError):
        parse_key(crafted("p" * 16 + "_", "a" * 24, "b" * 24, VALID_TAIL))


def test_every_part_comes_back_from_the_place_the_documentation_says() -> None:
    value = crafted("my_org_", "proj1", "prod", VALID_TAIL)
    parts = parse_key(value)
    assert (parts.prefix, parts.project, parts.environment) == ("my_org_", "proj1", "prod")
    assert (parts.key_id, parts.secret) == ("0NxQ3aB7kR2c", "8hTq1ZpLmW4vYs9dFgH2jK")
    assert parts.start == "my_org_proj1_prod_0NxQ3aB7kR2c"


@pytest.mark.parametrize(
    ("prefix", "project", "environment", "tail"),
    [
        ("archie_", "Demo", "dev", VALID_TAIL),  # project not a slug
        ("archie_", "demo", "DEV", VALID_TAIL),  # environment not a slug
        ("archie_", "d" * 25, "dev", VALID_TAIL),  # project too long
        ("Archie_", "demo", "dev", VALID_TAIL),  # prefix not [a-z0-9_]
        ("archie_", "demo", "dev", VALID_TAIL + "x"),  # one character more in the secret
        ("archie_", "demo", "dev", VALID_TAIL[:-1]),  # one character less
        ("archie_", "demo", "dev", VALID_TAIL[:-1] + "-"),  # not base62
        ("", "demo", "dev", VALID_TAIL),  # no prefix at all
    ],
)
def test_a_correct_checksum_does_not_make_a_wrong_shape_acceptable(prefix, project, environment, tail) -> None:
    with pytest.raises(MalformedKeyError):
        parse_key(crafted(prefix, project, environment, tail))


def test_a_checksum_off_by_one_character_is_refused() -> None:
    value = crafted("archie_", "demo", "dev", VALID_TAIL)
    parse_key(value)
    for position in range(len(value) - 6, len(value)):
        digit = BASE62_ALPHABET.index(value[position])
        off_by_one = value[:position] + BASE62_ALPHABET[(digit + 1) % 62] + value[position + 1 :]
        with pytest.raises(MalformedKeyError):
            parse_key(off_by_one)
    with pytest.raises(MalformedKeyError):
        parse_key(value[:-6] + checksum(value[:-7]))  # the checksum of a shorter body


def test_the_keys_in_a_text_are_cut_out_whole_wherever_they_sit() -> None:
    # The one rule the scanner and GitHub's leak alerts share: text glued before or after a key, in any
    # script, does not hide it, and what comes back is the key itself (what the alert path verifies).
    value, parts = generate_key("my_org_", "billing", "prod", TAG_KEY)
    text = f"old_{value}X — ключ={value}_old"
    second = text.index(value, len(value))
    assert list(keys_in(text)) == [(4, value, parts), (second, value, parts)]
    assert list(keys_in(value)) == [(0, value, parts)]
    assert list(keys_in(f"old_{value[:-1]}")) == []
