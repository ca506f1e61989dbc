"""The key format: what a user relies on when they copy, paste, scan or mistype a key, and what is refused
before any I/O, as a scanner, a user with a typo and an attacker crafting strings each see it. The crafted
keys follow docs/key-format.md's description of the format alone (its checksum and base62 are recomputed
here from the text, not from the code)."""

from __future__ import annotations

import re
import secrets
import time
import zlib

import pytest

from archie_keys.domain.keyformat import (
    BASE62_ALPHABET,
    CHECKSUM_LENGTH,
    KEY_MAX_LENGTH,
    SECRET_LENGTH,
    MalformedKeyError,
    checksum,
    encode_base62,
    generate_key,
    has_valid_tag,
    key_id_millis,
    key_tag,
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


def test_a_generated_key_parses_back_to_its_parts() -> None:
    value, parts = generate_key("archie_", "demo", "dev", TAG_KEY)
    assert value.startswith("archie_demo_dev_")
    assert parse_key(value) == parts
    assert parts.start == value[: len(parts.start)] and parts.secret not in parts.start


def test_keys_use_only_characters_a_double_click_selects() -> None:
    for _ in range(50):
        value, _ = generate_key("acme_ci_", "proj1", "prod", TAG_KEY)
        assert re.fullmatch(r"[A-Za-z0-9_]+", value)


def test_the_secret_carries_at_least_128_bits_of_randomness() -> None:
    assert len(BASE62_ALPHABET) ** SECRET_LENGTH >= 2**128
    secrets_seen = {generate_key("archie_", "demo", "dev", TAG_KEY)[1].secret for _ in range(200)}
    assert len(secrets_seen) == 200


@pytest.mark.parametrize("prefix", ["a_", "archie_", "my_org_keys_", "x" * 15 + "_", "_"])
def test_any_valid_prefix_round_trips_even_with_underscores(prefix: str) -> None:
    value, parts = generate_key(prefix, "p1", "e1", TAG_KEY)
    assert parse_key(value).prefix == prefix == parts.prefix


@pytest.mark.parametrize("prefix", ["", "archie", "Archie_", "x" * 16 + "_", "arch-ie_", "a b_"])
def test_invalid_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid prefix\Z"):
        generate_key(prefix, "demo", "dev", TAG_KEY)


@pytest.mark.parametrize(
    ("project", "environment"),
    [
        ("", "dev"),
        ("demo", ""),
        ("Demo", "dev"),
        ("demo", "Dev"),
        ("de_mo", "dev"),
        ("de-mo", "dev"),
        ("demo\n", "dev"),
    ],
)
def test_a_key_is_never_generated_for_a_project_or_environment_it_could_not_name(project, environment) -> None:
    with pytest.raises(ValueError, match=r"^invalid project or environment\Z"):
        generate_key("archie_", project, environment, TAG_KEY)


def test_base62_is_the_documented_alphabet_with_fixed_width_and_says_which_number_it_cannot_encode() -> None:
    assert encode_base62(0, 7) == "0000000" and encode_base62(0, 3) == "000" and encode_base62(62**3 - 1, 3) == "zzz"
    assert encode_base62(61, 1) == "z" and encode_base62(62, 2) == "10" and encode_base62(62, 3) == "010"
    assert encode_base62(62**6 - 1, 6) == "zzzzzz"
    assert documented_decode(encode_base62(2**32 - 1, 6)) == 2**32 - 1
    with pytest.raises(ValueError, match=r"^238328 does not fit in 3 base62 characters\Z"):
        encode_base62(62**3, 3)
    with pytest.raises(ValueError, match=r"^base62 encodes non-negative integers\Z"):
        encode_base62(-1, 3)


def test_every_single_character_typo_is_caught_by_the_checksum() -> None:
    value, _ = generate_key("archie_", "demo", "dev", TAG_KEY)
    for position in range(len(value)):
        for replacement in "aZ09_":
            if value[position] == replacement:
                continue
            mistyped = value[:position] + replacement + value[position + 1 :]
            with pytest.raises(MalformedKeyError):
                parse_key(mistyped)


def test_random_strings_of_the_right_shape_are_refused() -> None:
    for _ in range(500):
        tail = "".join(secrets.choice(BASE62_ALPHABET) for _ in range(40))
        with pytest.raises(MalformedKeyError):
            parse_key(f"archie_demo_dev_{tail}")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "archie_",
        "Bearer archie_demo_dev_x",
        "archie_demo_dev_" + "a" * 39,
        "é" * 60,
        "archie_demo_dev_" + "a" * 4000,
    ],
)
def test_malformed_values_are_refused(value: str) -> None:
    with pytest.raises(MalformedKeyError):
        parse_key(value)


def test_key_ids_sort_by_creation_time() -> None:
    moments = [1_700_000_000_000, 1_700_000_000_001, 1_700_000_061_999, 1_800_000_000_000]
    ids = [new_key_id(moment) for moment in moments]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_the_checksum_is_a_fixed_width_suffix() -> None:
    value, parts = generate_key("archie_", "demo", "dev", TAG_KEY)
    assert len(value) == len(parts.start) + SECRET_LENGTH + CHECKSUM_LENGTH


@pytest.mark.parametrize("position", [1, 2])  # the project, the environment
def test_a_trailing_newline_never_passes_as_a_name(position: int) -> None:
    """Python's `$` matches before a final newline: every name pattern is anchored at the very end, so a
    key whose project or environment ends in one is refused even with a correct checksum."""
    from archie_keys.domain.clock import parse_client_time
    from archie_keys.domain.keyformat import KEY_ID_RE, SLUG_RE, checksum

    assert SLUG_RE.match("demo") and not SLUG_RE.match("demo\n")
    assert KEY_ID_RE.match("Vc37AAAAAAAA") and not KEY_ID_RE.match("Vc37AAAAAAAA\n")
    with pytest.raises(ValueError):
        parse_client_time("2026-11-26T00:00:00Z\n")
    value, _ = generate_key("archie_", "demo", "dev", TAG_KEY)
    parts = value.split("_")
    parts[position] += "\n"
    body = "_".join(parts)[:-CHECKSUM_LENGTH]
    with pytest.raises(MalformedKeyError):
        parse_key(body + checksum(body))


def test_a_scanner_can_validate_a_key_from_the_documentation_alone() -> None:
    # Enough keys that some checksums are short numbers and need the zero padding.
    values = [generate_key("archie_", "demo", "dev", TAG_KEY)[0] for _ in range(300)]
    assert all(value[-6:] == documented_checksum(value[:-6]) for value in values)
    assert any(value[-6] == "0" for value in values)


def test_a_key_id_encodes_its_creation_time_in_milliseconds() -> None:
    before = int(time.time() * 1000)
    key_id = new_key_id()
    after = int(time.time() * 1000)
    assert before <= documented_decode(key_id[:7]) <= after
    assert new_key_id(1_700_000_000_000)[:7] == encode_base62(1_700_000_000_000, 7)
    assert all(c in BASE62_ALPHABET for c in new_key_id())


@pytest.mark.parametrize("millis", [0, 1, 61, 62, 1_700_000_000_000, 1_764_547_200_123, 62**7 - 1])
def test_a_key_ids_creation_time_is_read_back_to_the_millisecond(millis: int) -> None:
    # What a mass revocation compares with its own moment: keys made before it are covered, keys after it not.
    key_id = new_key_id(millis)
    assert key_id_millis(key_id) == millis == documented_decode(key_id[:7])
    # Only the time part counts: the random part after it (here its largest and smallest digits) never does.
    assert key_id_millis(key_id[:7] + "z" * 5) == key_id_millis(key_id[:7] + "0" * 5) == millis


def test_only_a_key_tagged_under_one_of_the_tag_keys_passes_the_tag_check() -> None:
    # The tag lets a forged key be refused before any read: a valid checksum alone never passes it.
    value, _ = generate_key("archie_", "demo", "dev", TAG_KEY)
    other_tag_key = b"another-tag-key-0123456789abcdefg"
    body = value[:-6]
    retagged = body[:-6] + ("A" if body[-6] != "A" else "B") + body[-5:]
    assert has_valid_tag(value, [TAG_KEY]) and has_valid_tag(value, [other_tag_key, TAG_KEY])  # during rotation
    assert not has_valid_tag(value, [other_tag_key]) and not has_valid_tag(value, [])
    assert not has_valid_tag(retagged + checksum(retagged), [TAG_KEY])
    # A tag is bound to its own key's text: one key's tag moved onto another key is no tag.
    second = generate_key("archie_", "demo", "dev", TAG_KEY)[0][:-6]
    transplanted = second[:-6] + body[-6:]
    assert has_valid_tag(second + checksum(second), [TAG_KEY])
    assert not has_valid_tag(transplanted + checksum(transplanted), [TAG_KEY])


def test_a_key_issued_by_an_earlier_release_keeps_its_tag() -> None:
    # Every issued key carries its tag: a change to how tags are computed (digest size, personalization, byte
    # order) would refuse every key already out there. This one was issued under TAG_KEY and stays valid.
    # In parts: whole, it is a key the repository's own secret scan (test_scan.py) refuses to see committed.
    issued = "archie_demo_dev_" + "Vc37AAAAAAAA" + "R4nd0mPart1234AB" + "hW3CRX" + "1wP7Y4"
    assert key_tag(TAG_KEY, issued[:-12]) == "hW3CRX" and checksum(issued[:-6]) == issued[-6:]
    assert has_valid_tag(issued, [TAG_KEY])


@pytest.mark.parametrize("size", [31, 65])
def test_a_tag_key_of_the_wrong_size_is_refused_saying_which_sizes_fit(size: int) -> None:
    with pytest.raises(ValueError, match=r"^a tag key has 32 to 64 bytes\Z"):
        generate_key("archie_", "demo", "dev", b"k" * size)


def test_a_given_key_id_is_used_as_is() -> None:
    value, parts = generate_key("archie_", "demo", "dev", TAG_KEY, key_id="Vc37AAAAAAAA")
    assert parts.key_id == "Vc37AAAAAAAA" and value.startswith("archie_demo_dev_Vc37AAAAAAAA")
    assert len(parts.secret) == 22 and all(c in BASE62_ALPHABET for c in parts.secret)


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
