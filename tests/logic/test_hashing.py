"""Stored hashes: argon2id over HMAC-SHA256(pepper, secret), parameters recorded, upgradable."""

from __future__ import annotations

import base64
import secrets

import pytest

from archie_keys.domain.hashing import Argon2Parameters, KeyHasher

CHEAP = Argon2Parameters(memory_kib=256, time_cost=1, parallelism=1)


def test_the_stored_hash_is_argon2id_with_its_parameters_recorded() -> None:
    hasher = KeyHasher(secrets.token_bytes(32), CHEAP, "v1")
    stored = hasher.hash_secret("s3cret")
    assert stored.startswith("$argon2id$v=19$m=256,t=1,p=1$")
    assert "s3cret" not in stored


def test_the_hash_holds_a_16_byte_salt_and_a_32_byte_digest_and_the_record_names_its_parameters() -> None:
    hasher = KeyHasher(secrets.token_bytes(32), CHEAP, "v1")
    _, algorithm, _, parameters, salt, digest = hasher.hash_secret("s3cret").split("$")

    def decoded(part: str) -> bytes:
        return base64.b64decode(part + "=" * (-len(part) % 4))

    assert algorithm == "argon2id"
    assert (len(decoded(salt)), len(decoded(digest))) == (16, 32)
    # What a key record stores beside its hash (hash_params), in the hash's own notation.
    assert hasher.parameters.as_record() == {"m": 256, "t": 1, "p": 1}
    assert parameters == "m={m},t={t},p={p}".format(**hasher.parameters.as_record())


@pytest.mark.parametrize("length", [0, 16, 31])
def test_a_pepper_shorter_than_32_bytes_is_refused_at_start(length: int) -> None:
    with pytest.raises(ValueError, match=r"^the pepper must be at least 32 bytes\Z"):
        KeyHasher(secrets.token_bytes(length), CHEAP, "v1")


def test_only_the_right_secret_verifies() -> None:
    hasher = KeyHasher(secrets.token_bytes(32), CHEAP, "v1")
    stored = hasher.hash_secret("right")
    assert hasher.verify_mac(stored, hasher.mac("right"))
    assert not hasher.verify_mac(stored, hasher.mac("wrong"))
    assert not hasher.verify_mac("not a hash", hasher.mac("right"))


def test_a_table_without_the_pepper_is_useless() -> None:
    stored = KeyHasher(secrets.token_bytes(32), CHEAP, "v1").hash_secret("secret")
    other_pepper = KeyHasher(secrets.token_bytes(32), CHEAP, "v1")
    assert not other_pepper.verify_mac(stored, other_pepper.mac("secret"))


def test_raising_the_parameters_marks_old_hashes_for_rehash() -> None:
    pepper = secrets.token_bytes(32)
    old = KeyHasher(pepper, CHEAP, "v1").hash_secret("secret")
    stronger = KeyHasher(pepper, Argon2Parameters(memory_kib=512, time_cost=2, parallelism=1), "v1")
    assert stronger.verify_mac(old, stronger.mac("secret"))
    assert stronger.needs_rehash(old)
    assert not stronger.needs_rehash(stronger.hash_secret("secret"))


def test_the_codes_default_is_at_least_owasps_minimum_written_out_here() -> None:
    # The template deploys this default (tests/logic/test_settings.py) and refuses less (its MinValue:
    # tests/infrastructure/test_template.py); OWASP's figures are written out so lowering the constant fails.
    default = Argon2Parameters()
    assert default.memory_kib >= 19456 and default.time_cost >= 2 and default.parallelism == 1
