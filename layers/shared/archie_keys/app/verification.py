"""Verifying a presented key: the one decision the authorizer, /verify and /whoami share.

Order of checks, cheapest first, so that what can be refused without I/O is:
 1. shape and CRC32 checksum (no I/O at all: a random string never costs a Secrets Manager or DynamoDB call);
 2. the environment the key names against the one being served (still no I/O);
 3. the key's tag (one keyed hash under the cached tag keys): a key this service did not issue fails it and is
    refused here, unless its environment still accepts keys of the first, untagged format (its cached
    state says so), which are checked the old way;
 4. HMAC of the secret with the pepper (cached pepper), then the in-process caches;
 5. GetItem of the key, argon2id verify, BatchGetItem of its roles;
 6. the environment's mass revocations under way (its cached state, re-read every cache TTL).

Refusals carry a reason (malformed, not_found, expired, revoked, disabled, wrong_environment) that only /verify
shows. A forged key and a known key id with a wrong secret both fail the tag the same way and read `not_found`,
so neither timing nor answer tells an attacker which keys exist. In an environment accepting untagged keys, an
unknown key and a wrong secret both cost one GetItem and one argon2 verify; a wrong secret then costs the roles
read besides (docs/key-format.md: keys issued before tags). The decision and its two caches, which must agree on
every refusal, are kept in one class; what it answers and how it is configured are app.verified_key's.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from archie_keys.app.environment_states import EnvironmentStates
from archie_keys.app.verified_key import VerifiedKey, VerifierConfig, is_expired
from archie_keys.domain.environment_state import EnvironmentState
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.grants import resolve_grants
from archie_keys.domain.hashing import KeyHasher
from archie_keys.domain.identity import Identity, is_break_glass
from archie_keys.domain.keyformat import MalformedKeyError, ParsedKey, has_valid_tag, parse_key
from archie_keys.domain.limits import NEGATIVE_CACHE_MAX, POSITIVE_CACHE_MAX
from archie_keys.domain.network import AllowList
from archie_keys.domain.usage_keys import lineage_of

# What a decision answers and its configuration, imported from here by the authorizer, the use cases and tests.
__all__ = [
    "LEGACY_DECISION_MAX_AGE_SECONDS",
    "HasherSource",
    "KeyVerifier",
    "VerifiedKey",
    "VerifierConfig",
    "is_expired",
]


class HasherSource(Protocol):
    """The current pepper's hasher (called), and any version's (app.services.HasherProvider)."""

    def __call__(self) -> KeyHasher: ...
    def for_version(self, version: str | None) -> KeyHasher: ...


if TYPE_CHECKING:
    from archie_keys.app.key_tags import TagKeys
    from archie_keys.app.ports import DecisionStore as KeyStore
    from archie_keys.domain.key_record import KeyRecord
    from archie_keys.domain.role_record import RoleRecord

# How old an environment's cached state may be when it only decides whether an untagged key is worth a
# database read: whether the environment accepts the first format changes rarely (an operator's PUT), and
# a flood of forged keys then costs no read at all. Its mass revocations are re-read every cache TTL.
LEGACY_DECISION_MAX_AGE_SECONDS = 300.0


@dataclass
class _Entry:
    mac: bytes
    stored_hash: str
    verified: VerifiedKey
    fresh_until: float
    proof_until: float


class KeyVerifier:
    def __init__(
        self,
        store: KeyStore,
        hasher_provider: HasherSource,
        config: VerifierConfig,
        clock: Callable[[], float] = time.time,
        *,
        tag_keys: Callable[[], TagKeys],
    ) -> None:
        self._store = store
        self._hasher_provider = hasher_provider
        self._config = config
        self._clock = clock
        self._tag_keys = tag_keys
        self._positive: dict[tuple[str, str, str], _Entry] = {}
        self._negative: dict[tuple[str, str, str, bytes], tuple[str, float]] = {}
        self._environments = EnvironmentStates(store)
        self._lock = threading.Lock()
        self._pool: Any = None

    @property
    def store(self) -> KeyStore:
        """Where this verifier reads keys (its own client: the decision path's timeouts)."""
        return self._store

    def verify(self, presented: str, *, project: str | None = None, environment: str | None = None) -> VerifiedKey:
        try:
            parsed = parse_key(presented)
        except MalformedKeyError:
            raise KeyRefusedError("malformed") from None
        if (project is not None and parsed.project != project) or (
            environment is not None and parsed.environment != environment
        ):
            raise KeyRefusedError("wrong_environment", parsed)
        now = self._clock()
        if not has_valid_tag(presented, self._tag_keys().every):
            # Not a key this service tagged: a forged one, or one of the first format (issued before tags),
            # which only an environment still accepting them checks the old way.
            state = self._environment(parsed.project, parsed.environment, now, LEGACY_DECISION_MAX_AGE_SECONDS)
            if state is None or not state.legacy_keys_accepted:
                raise KeyRefusedError("not_found", parsed)

        hasher = self._hasher_provider()
        mac = hasher.mac(parsed.secret)
        # What the caches compare: the secret's HMAC and the prefix as presented (the prefix is part of the
        # key: the same secret under another prefix is another, unknown key).
        seen = mac + b"|" + parsed.prefix.encode("ascii")
        ident = (parsed.project, parsed.environment, parsed.key_id)

        refused = self._negative.get((*ident, seen))
        if refused is not None and now < refused[1]:
            raise KeyRefusedError(refused[0], parsed)

        entry = self._positive.get(ident)
        if entry is not None and hmac.compare_digest(entry.mac, seen):
            if is_expired(entry.verified.expires_epoch, now):
                self._forget(ident)
                raise KeyRefusedError("expired", parsed)
            verified = (
                entry.verified if now < entry.fresh_until else self._refresh(parsed, entry, hasher, mac, seen, now)
            )
        else:
            verified = self._verify_cold(parsed, hasher, mac, seen, now)
        return self._in_force(parsed, seen, verified, now)

    def _in_force(self, parsed: ParsedKey, seen: bytes, verified: VerifiedKey, now: float) -> VerifiedKey:
        """The key unless disabled, or covered by a mass revocation under way (state at most one cache TTL old)."""
        state = self._environment(parsed.project, parsed.environment, now, self._config.cache_ttl_seconds)
        if state is None or state.revoking_rule(parsed.key_id, verified.identity.context) is not None:
            self._forget((parsed.project, parsed.environment, parsed.key_id))
            self._refuse(parsed, seen, "revoked", now)
        if verified.disabled:
            raise KeyRefusedError("disabled", parsed)
        return verified

    def _environment(self, project: str, environment: str, now: float, max_age: float) -> EnvironmentState | None:
        return self._environments.read(project, environment, now, max_age)

    # --- slow paths --------------------------------------------------------------------------------------

    def _verify_cold(self, parsed: ParsedKey, hasher: KeyHasher, mac: bytes, seen: bytes, now: float) -> VerifiedKey:
        record = self._store.get_key(parsed.project, parsed.environment, parsed.key_id)
        if record is None:
            hasher.burn_verify(mac)
            self._refuse(parsed, seen, "not_found", now)
        assert record is not None
        # Fetch the roles while argon2 runs (it releases the GIL): the cold path costs about one GetItem plus
        # one verify instead of two round trips plus a verify. Discarded if the secret is wrong.
        roles_future = self._executor().submit(self._store.get_roles, parsed.project, parsed.environment, record.roles)
        # A key hashed before the pepper was rotated is checked with the pepper version it records.
        recorded = record.pepper_version
        hashed_with = hasher if recorded in (None, hasher.version) else self._hasher_provider.for_version(recorded)
        record_mac = mac if hashed_with is hasher else hashed_with.mac(parsed.secret)
        secret_matches = hashed_with.verify_mac(record.hash, record_mac)
        # The prefix is part of the key: a key re-prefixed (its checksum recomputed) is refused like a wrong
        # secret, after the same work, and compared in constant time.
        prefix_matches = hmac.compare_digest(record.prefix.encode(), parsed.prefix.encode("ascii"))
        if not (secret_matches and prefix_matches):
            roles_future.cancel()
            self._refuse(parsed, seen, "not_found", now)
        if record.revoked_at:
            self._refuse(parsed, seen, "revoked", now)
        if is_expired(record.expires_epoch, now):
            self._refuse(parsed, seen, "expired", now)
        stored_hash = record.hash
        if hasher.needs_rehash(stored_hash) or recorded != hasher.version:
            # Outdated argon2 parameters or pepper version: rehash with today's, now that the secret is known,
            # and remember the new hash (the next refresh reads it and must not take it for a replaced key).
            rehashed = hasher.hash_mac(mac)
            if self._store.update_key_hash(
                parsed.project,
                parsed.environment,
                parsed.key_id,
                stored_hash,
                rehashed,
                hasher.parameters.as_record(),
                hasher.version,
            ):
                stored_hash = rehashed
        verified = self._build(parsed, record, roles_future.result())
        self._remember(parsed, stored_hash, seen, verified, now, proof_until=now + self._config.proof_ttl_seconds)
        return verified

    def _refresh(
        self, parsed: ParsedKey, entry: _Entry, hasher: KeyHasher, mac: bytes, seen: bytes, now: float
    ) -> VerifiedKey:
        """The decision is older than the cache TTL: re-read the record (one GetItem + roles) to catch
        revocation, expiry changes and role edits. argon2 is skipped while the hash is unchanged and the
        proof is younger than its own TTL."""
        record = self._store.get_key(parsed.project, parsed.environment, parsed.key_id)
        ident = (parsed.project, parsed.environment, parsed.key_id)
        if record is None or record.revoked_at:
            self._forget(ident)
            self._refuse(parsed, seen, "revoked", now)
        assert record is not None
        if record.hash != entry.stored_hash or now >= entry.proof_until:
            self._forget(ident)
            return self._verify_cold(parsed, hasher, mac, seen, now)
        if is_expired(record.expires_epoch, now):
            self._forget(ident)
            self._refuse(parsed, seen, "expired", now)
        verified = self._build(parsed, record)
        self._remember(parsed, entry.stored_hash, seen, verified, now, proof_until=entry.proof_until)
        return verified

    def _build(self, parsed: ParsedKey, record: KeyRecord, roles: dict[str, RoleRecord] | None = None) -> VerifiedKey:
        role_names = record.roles
        if roles is None:
            roles = self._store.get_roles(parsed.project, parsed.environment, role_names)
        context = dict(record.context)
        grants = resolve_grants(
            [(name, roles[name].permissions) for name in role_names if name in roles], context, strict=False
        )
        identity = Identity(
            key_id=parsed.key_id,
            project=parsed.project,
            environment=parsed.environment,
            name=record.name,
            roles=role_names,
            context=context,
            grants=grants,
        )
        return VerifiedKey(
            identity,
            record.expires_epoch,
            disabled=bool(record.disabled_at),
            allow_list=AllowList.of(record.allowed_cidrs),
            limits_lineage=lineage_of(record) if record.limits else None,
            break_glass=is_break_glass(record),
        )

    # --- caches ------------------------------------------------------------------------------------------

    def _remember(
        self, parsed: ParsedKey, stored_hash: str, mac: bytes, verified: VerifiedKey, now: float, proof_until: float
    ) -> None:
        ttl = self._config.cache_ttl_seconds
        if ttl <= 0:
            return
        with self._lock:
            if len(self._positive) >= POSITIVE_CACHE_MAX:
                self._positive.pop(next(iter(self._positive)))
            self._positive[(parsed.project, parsed.environment, parsed.key_id)] = _Entry(
                mac, stored_hash, verified, now + ttl, proof_until
            )

    def _refuse(self, parsed: ParsedKey, mac: bytes, reason: str, now: float) -> None:
        ttl = self._config.negative_cache_ttl_seconds
        if ttl > 0:
            with self._lock:
                if len(self._negative) >= NEGATIVE_CACHE_MAX:
                    self._negative.pop(next(iter(self._negative)))
                self._negative[(parsed.project, parsed.environment, parsed.key_id, mac)] = (reason, now + ttl)
        raise KeyRefusedError(reason, parsed)

    def _forget(self, ident: tuple[str, str, str]) -> None:
        with self._lock:
            self._positive.pop(ident, None)

    def _executor(self) -> Any:
        if self._pool is None:
            # Imported here: only a cold decision fetches roles in parallel, and the warm path imports nothing.
            from concurrent.futures import ThreadPoolExecutor

            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="roles")
        return self._pool

    def clear(self) -> None:
        with self._lock:
            self._positive.clear()
            self._negative.clear()
        self._environments.clear()
