"""What verifying a presented key answers (VerifiedKey), how long a verifier trusts its decisions
(VerifierConfig), and when a key has expired: the values app.verification's KeyVerifier shares with the
authorizer, /verify, /whoami and the use cases that end or roll a key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archie_keys.domain.identity import Identity
from archie_keys.domain.network import AllowList


@dataclass(frozen=True)
class VerifierConfig:
    # How long a warm instance trusts its own decision. It bounds how stale a revocation can be at the
    # function layer, so it is short; a refresh costs one GetItem, not another argon2 verify.
    cache_ttl_seconds: float = 1.0
    # How long a refused key is remembered, so a flood of the same bad key costs no DynamoDB reads.
    negative_cache_ttl_seconds: float = 5.0
    # How long a verified secret is remembered (the argon2 proof); the record itself is re-read every TTL.
    proof_ttl_seconds: float = 300.0


@dataclass
class VerifiedKey:
    identity: Identity
    expires_epoch: float | None
    break_glass: bool = False  # an environment's bootstrap admin key (identity.is_break_glass): alarmed on use
    disabled: bool = False  # refused from the positive cache: enabling it again is seen within one cache TTL
    # Per-consumer memo of derived answers (the authorizer keeps its built policy here), dropped with the entry.
    memo: dict[Any, Any] = field(default_factory=dict)
    # Where the key may be used from, parsed once per record read. Never folded into the memo: the address is
    # checked on every request (it changes; the key does not).
    allow_list: AllowList = field(default_factory=lambda: AllowList(()))
    # The rotation chain whose API key carries the key's rate limit and quota (docs/limits.md); None: no limits.
    limits_lineage: str | None = None


def is_expired(expires_epoch: float | None, now: float) -> bool:
    return expires_epoch is not None and now >= expires_epoch
