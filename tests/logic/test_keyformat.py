"""The key format: what a user relies on when they copy, paste, scan or mistype a key."""

from __future__ import annotations

import re
import secrets

import pytest

from archie_keys.domain.keyformat import (
    BASE62_ALPHABET,
    CHECKSUM_LENGTH,
    SECRET_LENGTH,
    MalformedKeyError,
    encode_base62,
    generate_key,
    new_key_id,
    parse_key,
)
from tests.support import TAG_KEY


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
    ("project", "environment"), [("", "dev"), ("demo", "Dev"), ("de_mo", "dev"), ("demo\n", "dev")]
)
def test_a_key_is_never_generated_for_a_project_or_environment_it_could_not_name(project, environment) -> None:
    with pytest.raises(ValueError, match=r"^invalid project or environment\Z"):
        generate_key("archie_", project, environment, TAG_KEY)


def test_base62_says_which_number_it_cannot_encode() -> None:
    assert encode_base62(0, 3) == "000" and encode_base62(62**3 - 1, 3) == "zzz"
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
