"""The signing keys of trusted issuers, cached: what the OIDC verifier asks for a token's `kid`.

Fetching is behind a port (`JwksSource`: OIDC discovery then `jwks_uri`; aws/oidc_discovery.py over HTTP,
an in-process issuer in tests). The cache decides when to fetch:
  - keys are re-read once JWKS_CACHE_TTL_SECONDS old (rotation reaches us within it);
  - a `kid` the cached keys lack re-reads them at once, but only if the last attempt is at least
    JWKS_REFETCH_MIN_INTERVAL_SECONDS old: a flood of tokens naming invented kids costs one fetch per
    issuer per interval, never one per token;
  - after a failed fetch no attempt for JWKS_FAILURE_BACKOFF_SECONDS (503 with Retry-After meanwhile), and
    keys fetched successfully within JWKS_STALE_MAX_SECONDS keep serving through an issuer's outage;
  - at most JWKS_ISSUERS_CACHED_MAX issuers are remembered, the least recently fetched forgotten first.
One lock serialises fetches, so concurrent requests for one issuer cause one fetch.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from archie_keys.domain.clock import now_epoch
from archie_keys.domain.errors import shown
from archie_keys.domain.limits import (
    JWKS_CACHE_TTL_SECONDS,
    JWKS_FAILURE_BACKOFF_SECONDS,
    JWKS_ISSUERS_CACHED_MAX,
    JWKS_REFETCH_MIN_INTERVAL_SECONDS,
    JWKS_STALE_MAX_SECONDS,
)
from archie_keys.domain.oidc_errors import IssuerUnavailableError, UnknownSigningKeyError
from archie_keys.domain.oidc_keys import SigningKey, signing_keys


class JwksSource(Protocol):
    """Reads an issuer's current JWKS document. Raises IssuerUnavailableError when it cannot."""

    def fetch_jwks(self, issuer: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class CachePolicy:
    ttl_seconds: float = JWKS_CACHE_TTL_SECONDS
    refetch_min_interval_seconds: float = JWKS_REFETCH_MIN_INTERVAL_SECONDS
    failure_backoff_seconds: float = JWKS_FAILURE_BACKOFF_SECONDS
    stale_max_seconds: float = JWKS_STALE_MAX_SECONDS
    max_issuers: int = JWKS_ISSUERS_CACHED_MAX


@dataclass(frozen=True)
class _Entry:
    keys: tuple[SigningKey, ...]
    fetched_at: float | None  # the last successful fetch (None: never)
    attempted_at: float  # the last attempt, successful or not
    failed: bool  # whether that last attempt failed

    def with_kid(self, kid: str) -> tuple[SigningKey, ...]:
        return tuple(key for key in self.keys if key.kid == kid)


class IssuerKeys:
    def __init__(
        self, source: JwksSource, clock: Callable[[], float] = now_epoch, policy: CachePolicy | None = None
    ) -> None:
        self._source = source
        self._clock = clock
        self._policy = policy or CachePolicy()
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def keys_for(self, issuer: str, kid: str) -> tuple[SigningKey, ...]:
        """The keys of `issuer` named `kid` (usually one). Raises UnknownSigningKeyError when there is none
        even after the one re-read allowed, IssuerUnavailableError when the keys cannot be had."""
        with self._lock:
            now = self._clock()
            entry = self._entries.get(issuer)
            if entry is None or entry.fetched_at is None or now - entry.fetched_at >= self._policy.ttl_seconds:
                entry = self._refresh(issuer, entry, now)
            found = entry.with_kid(kid)
            if not found and now - entry.attempted_at >= self._policy.refetch_min_interval_seconds:
                entry = self._refresh(issuer, entry, now)
                found = entry.with_kid(kid)
            if not found:
                raise UnknownSigningKeyError(f"no key {shown(kid[:64])} among {issuer}'s keys")
            return found

    def _usable_while_failing(self, entry: _Entry | None, now: float) -> bool:
        return (
            entry is not None
            and entry.fetched_at is not None
            and now - entry.fetched_at < self._policy.stale_max_seconds
        )

    def _refresh(self, issuer: str, entry: _Entry | None, now: float) -> _Entry:
        if entry is not None and entry.failed:
            wait = self._policy.failure_backoff_seconds - (now - entry.attempted_at)
            if wait > 0:
                if self._usable_while_failing(entry, now):
                    return entry
                raise IssuerUnavailableError(f"{issuer}: backing off after a failed fetch", math.ceil(wait))
        try:
            document = self._source.fetch_jwks(issuer)
        except IssuerUnavailableError as error:
            kept = _Entry(entry.keys if entry else (), entry.fetched_at if entry else None, now, failed=True)
            self._store(issuer, kept)
            if self._usable_while_failing(kept, now):
                return kept
            raise IssuerUnavailableError(error.detail, math.ceil(self._policy.failure_backoff_seconds)) from None
        fresh = _Entry(signing_keys(document), now, now, failed=False)
        self._store(issuer, fresh)
        return fresh

    def _store(self, issuer: str, entry: _Entry) -> None:
        self._entries.pop(issuer, None)
        self._entries[issuer] = entry
        while len(self._entries) > self._policy.max_issuers:
            del self._entries[next(iter(self._entries))]
