"""What the use cases work with: their configuration and their collaborators, in one object.

`edge.composition` builds the one `Services` of a process, creating each collaborator on first use (so a
function pays only for the clients it touches); tests build theirs the same way against moto.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from archie_keys.domain.authorization_witness import DEFAULT_COALESCE_SECONDS, WitnessBounds
from archie_keys.domain.hashing import Argon2Parameters, KeyHasher

if TYPE_CHECKING:
    from archie_keys.app.audit_ports import AuditReader, IngestWatermarks
    from archie_keys.app.compaction import AuditCompactor
    from archie_keys.app.event_ports import KeyEventQueue, QuotaNotices, WebhookStore, WebhookTargets
    from archie_keys.app.key_tags import TagKeys
    from archie_keys.app.oidc_verifier import OidcVerifier
    from archie_keys.app.ports import (
        AsyncInvoker,
        CacheFlusher,
        Clock,
        EventRecorder,
        ExpirySchedules,
        IdempotencyStore,
        KeyEventBus,
        KeyStore,
        PepperSource,
        RegionalAuditReads,
        RevocationStore,
        SecretDelivery,
        UnitOfWork,
        UsagePlans,
        Write,
    )
    from archie_keys.app.trust_ports import EnvironmentRate, TrustStore
    from archie_keys.app.verification import KeyVerifier
    from archie_keys.domain.paging import PagingTokens


# The authorizer is no witness until every version in service records its authorizations.
NO_WITNESS = WitnessBounds(300.0, DEFAULT_COALESCE_SECONDS, 10.0, None)


@dataclass(frozen=True)
class AppConfig:
    """The configuration the use cases read (edge.settings validates it and builds this)."""

    # An expires_at closer than this is almost certainly a clock or unit mistake by the caller.
    key_min_lifetime_seconds: int = 60
    # Keys may be delivered only to secrets whose names start with this.
    secret_name_prefix: str = "archie/keys/"
    # The function that marks a mass revocation's keys (its name or ARN); empty: none is started.
    revocation_worker_function: str = ""
    # A mass revocation's last pass comes this long after it began (limits.REVOCATION_SETTLE_SECONDS).
    revocation_settle_seconds: float = 65.0
    # A revocation whose worker gave no sign of life for this long is resumed by the sweep.
    revocation_stale_seconds: float = 180.0
    # Where an expiry flush is invoked directly when a key expires too soon for a schedule (app.expiry).
    expiry_flush_function: str = ""
    # Trust policies may name an issuer on http://127.0.0.1 (the local stack's development issuer); on AWS
    # issuers are https only.
    oidc_allow_loopback_http: bool = False
    # The dashboard's client id at the stack's sign-in issuer: a token for it is a person's, never exchanged.
    sign_in_client_id: str = ""
    # What the authorizer's recorded authorizations prove (domain.authorization_witness); by default not in
    # force, so a guarded delete relies on the audit alone.
    witness: WitnessBounds = NO_WITNESS


class Services(Protocol):
    """The collaborators of the use cases, each typed by its port (app.ports, app.audit_ports,
    app.event_ports, app.trust_ports) or by a use case's own class: nothing here names aws/."""

    @property
    def config(self) -> AppConfig: ...
    @property
    def clock(self) -> Clock:
        """Now, in epoch seconds: every use case reads the time here, so a test can set it."""
        ...

    @property
    def store(self) -> KeyStore: ...
    @property
    def transactions(self) -> UnitOfWork: ...
    @property
    def audit(self) -> EventRecorder: ...
    @property
    def audit_reader(self) -> AuditReader: ...
    @property
    def regional_audit(self) -> RegionalAuditReads:
        """Every region's audit table (each region's is its own, not replicated), this region's first."""
        ...

    @property
    def compactor(self) -> AuditCompactor: ...
    @property
    def ingest_watermarks(self) -> IngestWatermarks: ...
    @property
    def secrets(self) -> SecretDelivery: ...
    @property
    def flusher(self) -> CacheFlusher: ...
    @property
    def schedules(self) -> ExpirySchedules: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def revocations(self) -> RevocationStore: ...
    @property
    def invoker(self) -> AsyncInvoker: ...
    @property
    def verifier(self) -> KeyVerifier: ...
    @property
    def usage_plans(self) -> UsagePlans: ...
    @property
    def webhooks(self) -> WebhookStore: ...
    @property
    def webhook_targets(self) -> WebhookTargets:
        """Checks a webhook URL (and sends deliveries): the local stack's policy locally, AWS's there."""
        ...

    @property
    def key_event_queue(self) -> KeyEventQueue | None:
        """The webhook delivery queue; None where the stack has none (a bootstrap run)."""
        ...

    @property
    def key_event_bus(self) -> KeyEventBus | None: ...
    @property
    def trust(self) -> TrustStore: ...
    @property
    def oidc_verifier(self) -> OidcVerifier: ...
    @property
    def environment_rate(self) -> EnvironmentRate | None: ...
    @property
    def quota_notices(self) -> QuotaNotices | None:
        """Which chains were told their quota is used up this period; None without a coordination table."""
        ...

    def hasher(self) -> KeyHasher: ...
    def key_tags(self) -> TagKeys: ...
    def hasher_for(self, pepper_version: str | None) -> KeyHasher: ...
    def paging_tokens(self) -> PagingTokens: ...


# When a re-read of the pepper fails, the last good one keeps serving for at most this long (an outage of
# Secrets Manager must not stop every warm authorizer at once), re-tried every STALE_RETRY_SECONDS meanwhile;
# past it, the instance cannot decide (503) rather than trust a pepper a rotation may have replaced long ago.
PEPPER_STALE_MAX_SECONDS = 3600.0
PEPPER_STALE_RETRY_SECONDS = 10.0

logger = logging.getLogger("archie_keys.pepper")


class HasherProvider:
    """Hashers for the pepper's versions. The current one is re-read every `refresh_seconds` (so a rotation
    is picked up without a redeploy) and between reads returned without asking the source at all: the warm
    authorizer path calls this on every request. Older versions, needed only to verify keys hashed before a
    rotation, are read once each (a version never changes). A failed re-read keeps the last good pepper
    (bounded by PEPPER_STALE_MAX_SECONDS, logged, and reported to `on_stale` for the alarm)."""

    def __init__(
        self,
        fetch_pepper: PepperSource,
        parameters: Argon2Parameters,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_stale: Callable[[float], None] | None = None,
    ) -> None:
        self._fetch_pepper = fetch_pepper
        self._parameters = parameters
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._on_stale = on_stale
        self._lock = threading.Lock()
        self._hasher: KeyHasher | None = None
        self._fresh_until = 0.0
        self._read_at = 0.0
        self._versions: dict[str, KeyHasher] = {}

    def __call__(self) -> KeyHasher:
        now = self._clock()
        hasher = self._hasher
        if hasher is not None and now < self._fresh_until:
            return hasher
        try:
            pepper, version = self._fetch_pepper(None)
        except Exception:
            if hasher is None or now - self._read_at > PEPPER_STALE_MAX_SECONDS:
                raise
            logger.warning("the pepper could not be re-read; the last good one keeps serving", exc_info=True)
            if self._on_stale is not None:
                self._on_stale(now - self._read_at)
            with self._lock:
                self._fresh_until = now + PEPPER_STALE_RETRY_SECONDS
            return hasher
        with self._lock:
            self._read_at = now
            if self._hasher is None or not self._hasher.has_pepper(pepper) or self._hasher.version != version:
                self._hasher = self._versions.get(version) or KeyHasher(pepper, self._parameters, version)
                self._versions[version] = self._hasher
            self._fresh_until = now + self._refresh_seconds
            return self._hasher

    def for_version(self, version: str | None) -> KeyHasher:
        """The hasher of one pepper version; the current one for None (a hash made before versions were
        recorded) or for the current version."""
        current = self()
        if version is None or version == current.version:
            return current
        hasher = self._versions.get(version)
        if hasher is None:
            pepper, read = self._fetch_pepper(version)
            hasher = KeyHasher(pepper, self._parameters, read)
            with self._lock:
                self._versions[version] = hasher
        return hasher


class NoAudit:
    """Records nothing: for a bootstrap run against a stack without an audit table."""

    def event_write(
        self,
        event: str,
        project: str,
        environment: str,
        actor_key_id: str,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
        once_for: tuple[str, ...] | None = None,
    ) -> Write | None:
        return None
