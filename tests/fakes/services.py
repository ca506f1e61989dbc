"""app.services.Services on fakes only: no moto, no network, no sockets. Each fake records what a user would
notice (audit events, flushes, schedules, secrets' values) so the logic tier asserts on that.

    services = FakeServices()
    services.clock.advance(3600)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from archie_keys.app.services import AppConfig
from archie_keys.app.verification import KeyVerifier, VerifierConfig
from archie_keys.domain.change_records import COMPLETED, CURRENT, IN_PROGRESS, PENDING, Claim, Existing, PreparedSecret
from archie_keys.domain.errors import ForbiddenError
from archie_keys.domain.hashing import Argon2Parameters, KeyHasher
from archie_keys.domain.paging import PagingTokens
from tests.fakes.channels import FakeEventBus, FakeUsagePlans
from tests.fakes.key_store import FakeKeyStore
from tests.fakes.regional_audit import FakeRegionalAudit, FakeRegionAudit
from tests.fakes.revocations import FakeRevocationStore
from tests.fakes.unit_of_work import FakeUnitOfWork, FakeWrite, Item, MemoryTables

# The smallest argon2 argon2-cffi accepts: the logic tier checks decisions, not the cost of hashing.
FAST_ARGON2 = Argon2Parameters(memory_kib=8, time_cost=1)
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeClock:
    """Now, as a test sets it: it moves only when the test says."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeAudit:
    """Management events, stored only when the transaction that carries them commits."""

    def __init__(self, tables: MemoryTables, clock: FakeClock) -> None:
        self.tables, self.clock = tables, clock
        self._ids = itertools.count()

    def event_write(
        self,
        event: str,
        project: str,
        environment: str,
        actor_key_id: str,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
        once_for: tuple[str, ...] | None = None,
    ) -> FakeWrite:
        ident = repr((event, project, environment, *once_for)) if once_for is not None else str(next(self._ids))
        item = {
            "event": event,
            "project": project,
            "environment": environment,
            "actor_key_id": actor_key_id,
            "key_id": key_id,
            "details": details or {},
            "at": self.clock(),
        }
        if once_for is None:
            return FakeWrite("audit_event", ("audit", ident), change=lambda _: item)
        return FakeWrite("audit_event_recorded", ("audit", ident), lambda found: found is None, lambda _: item)

    @property
    def events(self) -> list[Item]:
        return [item for _, item in self.tables.under(("audit",))]

    def names(self) -> list[str]:
        return [str(event["event"]) for event in sorted(self.events, key=lambda e: e["at"])]


class FakeIdempotency:
    def __init__(self, tables: MemoryTables, clock: FakeClock) -> None:
        self.tables, self.clock = tables, clock
        self._tokens = itertools.count()

    def claim(self, record_id: str, fingerprint: str, ttl_seconds: int, hold_seconds: int) -> Claim | Existing:
        now, key = self.clock(), ("idempotency", record_id)
        found = self.tables.get(key)
        free = (
            found is None
            or found["expiration"] <= now
            or (found["status"] == IN_PROGRESS and found["held_until"] <= now)
        )
        if not free:
            assert found is not None
            return Existing(
                found["status"],
                found["fingerprint"],
                found.get("response"),
                found.get("key_id"),
                found.get("pepper_version"),
            )
        token = f"t{next(self._tokens)}"
        self.tables.items[key] = {
            "status": IN_PROGRESS,
            "fingerprint": fingerprint,
            "claim": token,
            "held_until": now + hold_seconds,
            "expiration": now + ttl_seconds,
        }
        return Claim(record_id, token)

    def _complete(self, claim: Claim, values: dict[str, Any]) -> FakeWrite:
        return FakeWrite(
            "idempotency",
            ("idempotency", claim.record_id),
            lambda item: item is not None and item.get("claim") == claim.token,
            lambda item: {**(item or {}), "status": COMPLETED, **values},
        )

    def completion_write(self, claim: Claim, response: dict[str, Any], key_id: str, pepper_version: str) -> FakeWrite:
        return self._complete(claim, {"response": response, "key_id": key_id, "pepper_version": pepper_version})

    def answer_write(self, claim: Claim, response: dict[str, Any]) -> FakeWrite:
        return self._complete(claim, {"response": response})

    def release(self, claim: Claim) -> None:
        found = self.tables.get(("idempotency", claim.record_id))
        if found is not None and found.get("claim") == claim.token:
            del self.tables.items[("idempotency", claim.record_id)]

    def forget_response(self, record_id: str, key_id: str) -> None:
        found = self.tables.items.get(("idempotency", record_id))
        if found is not None and found.get("key_id") == key_id:
            found.pop("response", None)


class FakeSchedules:
    def __init__(self) -> None:
        self.expiries: list[tuple[str, str, float]] = []
        self.notices: list[tuple[str, str, str, int, int]] = []

    def put(self, project: str, environment: str, expires_epoch: float) -> bool:
        self.expiries.append((project, environment, expires_epoch))
        return True

    def put_notice(self, project: str, environment: str, key_id: str, expires: int, days: int) -> bool:
        self.notices.append((project, environment, key_id, expires, days))
        return True


@dataclass(frozen=True)
class Flushed:
    flushed: tuple[str, ...] = ()
    unflushed: tuple[str, ...] = ()


class FakeFlusher:
    """Records every flush; `unreachable` stages are reported unflushed, as the real one reports them."""

    def __init__(self) -> None:
        self.flushes: list[tuple[str, str, float | None]] = []
        self.unreachable: tuple[str, ...] = ()
        self.declared_ttl: float | None = None

    def revoke_everywhere(self, project: str, environment: str, since: float | None = None) -> Flushed:
        self.flushes.append((project, environment, since))
        return Flushed((f"{project}/{environment}",), self.unreachable)

    def longest_declared_ttl(self, project: str, environment: str) -> float | None:
        return self.declared_ttl


@dataclass
class FakeSecret:
    project: str
    environment: str
    holder: str
    versions: dict[str, str] = field(default_factory=dict)  # version id -> value
    stages: dict[str, set[str]] = field(default_factory=dict)  # version id -> stages


class FakeSecrets:
    """Secrets Manager as app.delivery uses it: tagged owners, pending and current versions."""

    def __init__(self) -> None:
        self.secrets: dict[str, FakeSecret] = {}
        self.unpromoted_names: list[str] = []
        self._versions = itertools.count()

    def owned_holder(self, name: str, project: str, environment: str) -> str | None:
        secret = self.secrets.get(name)
        if secret is None:
            return None
        if (secret.project, secret.environment) != (project, environment):
            raise ForbiddenError(
                "this secret belongs to another project or environment", field="secret_name", code="secret_not_owned"
            )
        return secret.holder

    def prepare(
        self, name: str, value: str, project: str, environment: str, key_id: str, exists: bool
    ) -> PreparedSecret:
        secret = self.secrets.setdefault(name, FakeSecret(project, environment, key_id))
        version = f"v{next(self._versions)}"
        secret.versions[version] = value
        secret.stages[version] = {PENDING}
        return PreparedSecret(name, version, created=not exists, key_id=key_id)

    def promote(self, name: str, key_id: str, version_id: str) -> None:
        secret = self.secrets[name]
        secret.holder = key_id
        for stages in secret.stages.values():
            stages.discard(CURRENT)
        secret.stages[version_id] = {CURRENT}

    def is_current(self, name: str, version_id: str) -> bool:
        return CURRENT in self.secrets[name].stages.get(version_id, set())

    def undo(self, prepared: PreparedSecret) -> None:
        if prepared.created:
            self.secrets.pop(prepared.name, None)
        else:
            self.secrets[prepared.name].stages[prepared.version_id].discard(PENDING)

    def unpromoted(self, prepared: PreparedSecret) -> None:
        self.unpromoted_names.append(prepared.name)

    def current_value(self, name: str) -> str | None:
        secret = self.secrets[name]
        return next((secret.versions[v] for v, s in secret.stages.items() if CURRENT in s), None)


class FakeInvoker:
    def __init__(self) -> None:
        self.invocations: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, function: str, event: dict[str, Any]) -> None:
        self.invocations.append((function, event))


class FakeWatermarks:
    """The audit's ingest watermark: caught up with the clock unless a test holds it back (None: nothing
    attests deliveries, as with CloudWatch Logs' own)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.behind: float | None = 0.0

    def proven_through(self) -> float | None:
        return None if self.behind is None else self.clock() - self.behind + 1.0


class NoTrustPolicies:
    """An environment that trusts no OIDC issuer (tests/component covers federation on moto)."""

    def list(self, project: str, environment: str) -> list[Item]:
        return []


class NoWebhooks:
    """An environment with no webhooks: key events go nowhere (tests/component covers their delivery)."""

    def of_environment(self, project: str, environment: str) -> list[dict[str, Any]]:
        return []


class FakeServices:
    """Every collaborator a key use case reaches, in memory; one `tables` under the store, the audit and the
    idempotency records, so their writes commit together."""

    def __init__(self, config: AppConfig | None = None) -> None:
        self.config = config or AppConfig()
        self.clock = FakeClock()
        self.tables = MemoryTables()
        self.store = FakeKeyStore(self.tables)
        self.transactions = FakeUnitOfWork(self.tables)
        self.audit = FakeAudit(self.tables, self.clock)
        self.idempotency = FakeIdempotency(self.tables, self.clock)
        self.schedules = FakeSchedules()
        self.flusher = FakeFlusher()
        self.secrets = FakeSecrets()
        self.invoker = FakeInvoker()
        self.webhooks = NoWebhooks()
        self.trust = NoTrustPolicies()
        self.ingest_watermarks = FakeWatermarks(self.clock)
        # This region's audit (uses not compacted yet, hourly usage, records); more regions: add to regional_audit.
        self.compactor = self.audit_reader = FakeRegionAudit()
        self.regional_audit = FakeRegionalAudit({self.store.region: self.audit_reader})
        self.revocations = FakeRevocationStore(self.tables)
        self.usage_plans = FakeUsagePlans()
        self.key_event_queue = None
        self.key_event_bus = FakeEventBus()
        self.pepper_version = "pepper-1"
        self._hashers: dict[str, KeyHasher] = {}

    def hasher_for(self, pepper_version: str | None) -> KeyHasher:
        version = pepper_version or self.pepper_version
        if version not in self._hashers:
            self._hashers[version] = KeyHasher(f"pepper of {version}".encode().ljust(32, b"."), FAST_ARGON2, version)
        return self._hashers[version]

    def hasher(self) -> KeyHasher:
        return self.hasher_for(self.pepper_version)

    def for_version(self, version: str | None) -> KeyHasher:  # the verifier's HasherSource
        return self.hasher_for(version)

    def __call__(self) -> KeyHasher:
        return self.hasher()

    @cached_property
    def verifier(self) -> KeyVerifier:
        """The authorizer's decision on the same fakes, with no cache a test would have to wait out."""
        config = VerifierConfig(cache_ttl_seconds=0.0, negative_cache_ttl_seconds=0.0, proof_ttl_seconds=0.0)
        return KeyVerifier(self.store, self, config, clock=self.clock, tag_keys=self.key_tags)

    def key_tags(self) -> Any:
        from archie_keys.app.key_tags import TagKeys

        return TagKeys(b"t" * 32, (b"t" * 32,))

    def paging_tokens(self) -> PagingTokens:
        return PagingTokens(self.hasher().derive(b"paging-tokens"))


def _conforms(services: FakeServices) -> None:
    """Never called: mypy (make typecheck covers tests/fakes) checks here that each fake meets its port."""
    from archie_keys.app import ports

    store: ports.KeyStore = services.store
    decisions: ports.DecisionStore = services.store
    unit_of_work: ports.UnitOfWork = services.transactions
    audit: ports.EventRecorder = services.audit
    idempotency: ports.IdempotencyStore = services.idempotency
    schedules: ports.ExpirySchedules = services.schedules
    flusher: ports.CacheFlusher = services.flusher
    secrets: ports.SecretDelivery = services.secrets
    invoker: ports.AsyncInvoker = services.invoker
    clock: ports.Clock = services.clock
    revocations: ports.RevocationStore = services.revocations
    usage_plans: ports.UsagePlans = services.usage_plans
    bus: ports.KeyEventBus = services.key_event_bus
    regional_audit: ports.RegionalAuditReads = services.regional_audit
    del store, decisions, unit_of_work, audit, idempotency, schedules, flusher, secrets, invoker, clock
    del revocations, usage_plans, bus, regional_audit
