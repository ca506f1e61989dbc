"""The seam: what the use cases need of the world, as small interfaces (typing.Protocol).

app/ declares them; aws/ implements them structurally (the classes know nothing of these Protocols: mypy
checks the composition root, edge.composition, hands them over where a port is expected); tests/fakes/
implements them in memory for the logic tier (tests/logic). Each port lists only the calls use cases make.

Writes are opaque to the use cases: a store builds them (`key_create_writes`, `event_write`, ...) and the unit
of work commits a list of them all or none, raising domain.errors.ConditionFailed with the labels of the
conditions that did not hold. A key is a domain.key_record.KeyRecord both ways, a role a domain.role_record.RoleRecord;
other records are still dicts as the stores return them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from archie_keys.app.audit_ports import AuditRecords
from archie_keys.domain.change_records import Claim, Existing, PreparedSecret
from archie_keys.domain.environment_record import EnvironmentRecord
from archie_keys.domain.environment_state import EnvironmentState
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.rate_limits import Limits, QuotaUsage
from archie_keys.domain.role_record import RoleRecord

# Seconds since the epoch, now (domain.clock.now_epoch on AWS; a clock a test advances in the logic tier).
Clock = Callable[[], float]

# Reads one version of the pepper: None for the current one. Returns (pepper, its version id).
PepperSource = Callable[[str | None], tuple[bytes, str]]


class Write(Protocol):
    """One item of a transaction, built by a store; `label` names the condition it carries."""

    @property
    def label(self) -> str: ...


class UnitOfWork(Protocol):
    """Commits writes as one transaction: all or none. A refused condition raises ConditionFailed (labels)."""

    def commit(self, writes: Sequence[Write | None]) -> None: ...


class KeyStore(Protocol):
    """Environments, roles, keys, delivered secrets' holders and the authorizer's witness, per partition."""

    def environment_write(self, record: EnvironmentRecord) -> Write: ...
    def environment_update_write(self, record: EnvironmentRecord, values: dict[str, Any]) -> Write: ...
    def get_environment(self, project: str, environment: str) -> EnvironmentRecord | None: ...
    def require_environment(self, project: str, environment: str) -> EnvironmentRecord: ...
    def count_active_legacy_keys(self, project: str, environment: str, now: float) -> int: ...

    def role_write(
        self, project: str, environment: str, name: str, values: dict[str, Any], previous: RoleRecord | None
    ) -> Write: ...
    def role_delete_writes(self, project: str, environment: str, name: str) -> Sequence[Write]: ...
    def get_role(self, project: str, environment: str, name: str) -> RoleRecord | None: ...
    def get_roles(self, project: str, environment: str, names: Sequence[str]) -> dict[str, RoleRecord]: ...
    def list_roles(
        self, project: str, environment: str, limit: int, after: str | None
    ) -> tuple[list[RoleRecord], str | None]: ...

    def key_create_writes(self, record: KeyRecord) -> Sequence[Write]: ...
    def get_key(self, project: str, environment: str, key_id: str, *, consistent: bool = True) -> KeyRecord | None: ...
    def list_keys(
        self,
        project: str,
        environment: str,
        limit: int,
        after: str | None,
        alternatives: Sequence[dict[str, Any]],
        name_contains: str | None = None,
        statuses: Sequence[str] = ...,
        now: float = 0.0,
    ) -> tuple[list[KeyRecord], str | None]: ...
    def key_update_writes(
        self,
        record: KeyRecord,
        values: dict[str, Any],
        remove: Sequence[str],
        roles_added: Sequence[str],
        roles_removed: Sequence[str],
        now: float,
    ) -> Sequence[Write]: ...
    def key_revoke_writes(
        self,
        record: KeyRecord,
        revoked_at: str,
        revoked_by: str,
        purge_epoch: int,
        unused_since: str | None = None,
        also_set: dict[str, Any] | None = None,
    ) -> Sequence[Write]: ...
    def key_mark_write(self, record: KeyRecord, values: dict[str, Any]) -> Write: ...
    def key_roll_writes(self, record: KeyRecord, values: dict[str, Any]) -> Sequence[Write]: ...

    def authorizations(self, project: str, environment: str, key_id: str) -> dict[str, float]: ...
    def not_authorized_since_checks(
        self, record: KeyRecord, bound: float, regions: Sequence[str]
    ) -> Sequence[Write]: ...

    def get_secret_holder(self, project: str, environment: str, name: str) -> dict[str, Any] | None: ...
    def secret_holder_write(
        self, project: str, environment: str, name: str, holder: dict[str, Any], previous: str | None
    ) -> Write: ...


class DecisionStore(Protocol):
    """What deciding on a presented key reads and records (app.verification, app.authorization_witness): the
    authorizer's store, on clients that give up within about two seconds."""

    def environment_state(self, project: str, environment: str) -> EnvironmentState | None: ...
    def get_key(self, project: str, environment: str, key_id: str, *, consistent: bool = True) -> KeyRecord | None: ...
    def get_roles(self, project: str, environment: str, names: Sequence[str]) -> dict[str, RoleRecord]: ...
    def update_key_hash(
        self,
        project: str,
        environment: str,
        key_id: str,
        old_hash: str,
        new_hash: str,
        params: dict[str, int],
        pepper_version: str,
    ) -> bool: ...
    def record_authorization(self, project: str, environment: str, key_id: str, at: float) -> None: ...


class EventRecorder(Protocol):
    """Where management events go (aws.audit_writer.AuditWriter, or NoAudit): each event is one item of the
    transaction that makes the change it describes."""

    def event_write(
        self,
        event: str,
        project: str,
        environment: str,
        actor_key_id: str,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
        once_for: tuple[str, ...] | None = None,
    ) -> Write | None: ...


class IdempotencyStore(Protocol):
    """One record per Idempotency-Key: claimed, completed in the change's transaction, or released."""

    def claim(self, record_id: str, fingerprint: str, ttl_seconds: int, hold_seconds: int) -> Claim | Existing: ...
    def completion_write(self, claim: Claim, response: dict[str, Any], key_id: str, pepper_version: str) -> Write: ...
    def answer_write(self, claim: Claim, response: dict[str, Any]) -> Write: ...
    def release(self, claim: Claim) -> None: ...
    def forget_response(self, record_id: str, key_id: str) -> None: ...


class ExpirySchedules(Protocol):
    """Arranges the flush that makes a key's expiry felt at the second it expires (one per environment/second)."""

    def put(self, project: str, environment: str, expires_epoch: float) -> bool: ...
    def put_notice(self, project: str, environment: str, key_id: str, expires: int, days: int) -> bool:
        """Arrange a key's key.expiring (`days` before) or key.expired (0) notice; False when none was."""
        ...


class FlushReport(Protocol):
    """What a flush reached: the stages flushed, and those still holding a cache that may serve a key."""

    @property
    def flushed(self) -> tuple[str, ...]: ...
    @property
    def unflushed(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class NothingFlushed:
    """The report of a change that needed no flush."""

    flushed: tuple[str, ...] = ()
    unflushed: tuple[str, ...] = ()


class CacheFlusher(Protocol):
    """Takes a right away everywhere: flushes every authorizer cache serving an environment (twice, after
    the instances' own caches ran out), never raising for a stage it could not reach."""

    def revoke_everywhere(self, project: str, environment: str, since: float | None = None) -> FlushReport: ...
    def longest_declared_ttl(self, project: str, environment: str) -> float | None: ...


class SecretDelivery(Protocol):
    """Writes a key's value into a Secrets Manager secret in two steps around the commit (prepare, promote)."""

    def owned_holder(self, name: str, project: str, environment: str) -> str | None: ...
    def prepare(
        self, name: str, value: str, project: str, environment: str, key_id: str, exists: bool
    ) -> PreparedSecret: ...
    def promote(self, name: str, key_id: str, version_id: str) -> None: ...
    def is_current(self, name: str, version_id: str) -> bool: ...
    def undo(self, prepared: PreparedSecret) -> None: ...
    def unpromoted(self, prepared: PreparedSecret) -> None: ...


class AsyncInvoker(Protocol):
    """Starts a function without waiting for it (a mass revocation's worker, an expiry flush)."""

    def invoke(self, function: str, event: dict[str, Any]) -> None: ...


class RevocationRegistry(Protocol):
    """The region's list of mass revocations under way, with their workers' heartbeats."""

    def heartbeat(
        self, project: str, environment: str, revocation_id: str, now_ms: int, seen_ms: int | None = None
    ) -> bool: ...
    def unregister(self, project: str, environment: str, revocation_id: str) -> None: ...
    def registered(self) -> list[dict[str, Any]]: ...


class RevocationStore(Protocol):
    """Mass revocations: their rule items, the keys they cover, their marks on those keys."""

    @property
    def registry(self) -> RevocationRegistry: ...
    def start_writes(self, rule: dict[str, Any], running_max: int) -> Sequence[Write]: ...
    def finish_writes(self, rule: dict[str, Any], finished_at: str, purge_epoch: int) -> Sequence[Write]: ...
    def get(self, project: str, environment: str, revocation_id: str) -> dict[str, Any] | None: ...
    def record_matched(self, project: str, environment: str, revocation_id: str, matched: int) -> None: ...
    def count_covered(self, rule: dict[str, Any]) -> int: ...
    def uncovered_page(
        self, rule: dict[str, Any], after: str | None, limit: int, since_ms: int | None = None
    ) -> tuple[list[KeyRecord], str | None]: ...
    def mark_writes(
        self, rule: dict[str, Any], records: Sequence[KeyRecord], revoked_at: str, purge_epoch: int
    ) -> Sequence[Write]: ...


class UsagePlans(Protocol):
    """API Gateway's usage plans, where a rotation chain's API key carries its per-key limits. `attach` raises
    domain.errors.CapacityExhausted when the account has no room for another API key or plan."""

    def attach(self, lineage_id: str | None, limits: Limits | None) -> str: ...
    def detach(self, lineage_id: str) -> None: ...
    def quota(self, lineage_id: str, limits: Limits, now: float) -> QuotaUsage | None: ...


class KeyEventBus(Protocol):
    """Where key events are published for other systems (EventBridge), beside the webhooks."""

    def put(self, event_type: str, bodies: Sequence[bytes]) -> None: ...


class RegionalAuditReads(Protocol):
    """Every region's audit (aws.regional_audit.RegionalAudit): the stack's regions, this one first."""

    @property
    def regions(self) -> tuple[str, ...]: ...
    def reader(self, region: str) -> AuditRecords: ...
