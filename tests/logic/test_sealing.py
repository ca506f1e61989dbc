"""A created key's value is kept for an idempotent replay only sealed (domain.sealing): unreadable without the
sealing key, and refused, not garbled, under another."""

from __future__ import annotations

import pytest

from archie_keys.domain.sealing import seal, unseal


def test_the_idempotency_record_holds_the_key_only_sealed() -> None:
    sealed = seal(b"k" * 32, "archie_demo_dev_secret")
    assert "secret" not in sealed and unseal(b"k" * 32, sealed) == "archie_demo_dev_secret"
    with pytest.raises(ValueError):
        unseal(b"x" * 32, sealed)
