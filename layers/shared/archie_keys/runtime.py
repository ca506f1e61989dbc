"""Lazily built, per-process collaborators: settings, the key store, the hasher with the pepper.

Nothing here runs at import time, so every handler imports cheaply and tests can reset state with
`reset()` between cases (settings and clients then follow the environment of the next test).
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

from archie_keys import idempotency
from archie_keys.audit import AuditLog
from archie_keys.cache_flush import apigateway_client
from archie_keys.expiry import scheduler_client
from archie_keys.hashing import KeyHasher
from archie_keys.secret_delivery import secretsmanager_client
from archie_keys.settings import get_settings
from archie_keys.store import KeyStore, dynamodb_client
from archie_keys.verification import KeyVerifier

_lock = threading.Lock()
_hasher: KeyHasher | None = None
_hasher_fresh_until = 0.0


def get_store() -> KeyStore:
    return KeyStore(get_settings().keys_table)


def fetch_pepper() -> bytes:
    """The pepper from Secrets Manager through Powertools Parameters, cached for PEPPER_MAX_AGE_SECONDS so
    a rotation is picked up without a redeploy and a warm request costs no Secrets Manager call."""
    from aws_lambda_powertools.utilities import parameters

    settings = get_settings()
    value = parameters.get_secret(settings.pepper_secret_id, max_age=settings.pepper_max_age_seconds)
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def get_hasher() -> KeyHasher:
    """The hasher for the current pepper. Between pepper refreshes it is returned without asking Powertools'
    cache at all: the warm authorizer path calls this on every request."""
    global _hasher, _hasher_fresh_until
    now = time.monotonic()
    hasher = _hasher
    if hasher is not None and now < _hasher_fresh_until:
        return hasher
    pepper = fetch_pepper()
    with _lock:
        if _hasher is None or not _hasher.has_pepper(pepper):
            _hasher = KeyHasher(pepper, get_settings().argon2)
        _hasher_fresh_until = now + get_settings().pepper_max_age_seconds
        return _hasher


@lru_cache(maxsize=1)
def get_audit_log() -> AuditLog:
    """The audit trail; protected APIs' stages map to their environments through the flush targets."""
    from archie_keys.cache_flush import flush_targets

    settings = get_settings()

    def stages() -> dict[str, tuple[str, str]]:
        return {
            f"{t.rest_api_id}/{t.stage}": (t.project, t.environment)
            for t in flush_targets(settings)
            if t.project != "*" and t.environment != "*"
        }

    return AuditLog(settings.audit_table, settings.keys_table, settings.audit_retention_days, stages)


@lru_cache(maxsize=1)
def get_verifier() -> KeyVerifier:
    """One verifier per process, so its caches survive between invocations of a warm instance."""
    return KeyVerifier(get_store(), get_hasher, get_settings())


def reset() -> None:
    """Forget every cached collaborator (tests, and the local stack between runs)."""
    global _hasher, _hasher_fresh_until
    from aws_lambda_powertools.utilities import parameters

    _hasher, _hasher_fresh_until = None, 0.0
    get_settings.cache_clear()
    dynamodb_client.cache_clear()
    get_verifier.cache_clear()
    get_audit_log.cache_clear()
    secretsmanager_client.cache_clear()
    idempotency.reset()
    apigateway_client.cache_clear()
    scheduler_client.cache_clear()
    parameters.clear_caches()
