"""Hashing of key secrets: argon2id over HMAC-SHA256(pepper, secret).

The HMAC binds every stored hash to the pepper in Secrets Manager, so a stolen table alone cannot be
brute-forced; argon2id makes each guess expensive even for someone who also has the pepper. Each hasher
knows which version of the pepper it holds (the secret's VersionId), and each stored hash records it, so
the pepper can be rotated: old versions verify the keys hashed with them, which are rehashed with the new
one on their next use. The argon2
parameters are encoded in every stored hash (PHC string), so they can be raised later: a key whose hash
uses weaker parameters than configured is rehashed on its next successful use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's minimum for argon2id (Password Storage Cheat Sheet): m=19456 KiB, t=2, p=1.
OWASP_MIN_MEMORY_KIB = 19456
OWASP_MIN_TIME_COST = 2


@dataclass(frozen=True)
class Argon2Parameters:
    """The deployed default is OWASP's minimum."""

    memory_kib: int = OWASP_MIN_MEMORY_KIB
    time_cost: int = OWASP_MIN_TIME_COST
    parallelism: int = 1

    def as_record(self) -> dict[str, int]:
        return {"m": self.memory_kib, "t": self.time_cost, "p": self.parallelism}


class KeyHasher:
    def __init__(self, pepper: bytes, parameters: Argon2Parameters, version: str) -> None:
        if len(pepper) < 32:
            # A short pepper would make the HMAC layer decorative.
            raise ValueError("the pepper must be at least 32 bytes")
        self._pepper = pepper
        self.parameters = parameters
        # The pepper's version id (Secrets Manager), recorded with every hash this hasher makes: without it a
        # hash could not be checked once the pepper is rotated, so there is no default.
        self.version = version
        self._argon2 = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )

    def has_pepper(self, pepper: bytes) -> bool:
        return hmac.compare_digest(self._pepper, pepper)

    def derive(self, label: bytes) -> bytes:
        """A subkey for another purpose (sealing idempotent responses), independent of key hashing."""
        return hmac.new(self._pepper, b"archie-keys/derive\x00" + label, hashlib.sha256).digest()

    def mac(self, secret: str) -> bytes:
        return hmac.new(self._pepper, secret.encode("ascii"), hashlib.sha256).digest()

    def hash_mac(self, mac: bytes) -> str:
        return self._argon2.hash(mac)

    def hash_secret(self, secret: str) -> str:
        return self.hash_mac(self.mac(secret))

    def verify_mac(self, stored_hash: str, mac: bytes) -> bool:
        """Constant-time within argon2. A malformed stored hash counts as a mismatch, never an error."""
        try:
            return self._argon2.verify(stored_hash, mac)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def burn_verify(self, mac: bytes) -> None:
        """Spend the time of one verify against a hash nobody holds, so an unknown key answers in the same
        time as a wrong secret and response timing does not reveal which keys exist."""
        self.verify_mac(self._decoy_hash, mac)

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    @cached_property
    def _decoy_hash(self) -> str:
        return self._argon2.hash(secrets.token_bytes(32))
