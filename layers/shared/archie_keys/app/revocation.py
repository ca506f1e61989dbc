"""Use case: revoke (delete) a key, optionally only when it is idle.

The revocation, its roles' counts and the audit event are one transaction; then the idempotent response that
created the key is dropped and every cache layer flushed (aws.cache_flush). A guarded delete (`if_unused_for`)
must see every request accepted before the DELETE arrived. It asks two witnesses, cheapest and AWS-sound first:

* the authorizer (domain.authorization_witness): when the key was last recorded authorized, so when a
  request could last have been accepted on its strength. Older than the window plus that reach proves the key
  idle with one GetItem, and the revocation's write re-checks it (a ConditionCheck of the witness item);
* otherwise the audit: wait for the ingest watermark to pass the arrival (app.ingest_proof: every request
  answered before the DELETE is in the audit, or 503; on AWS nothing attests, so 503), then read the key's use.

Either way the "no accepted request since" condition is part of the revocation's own write, so a request that
lands between the check and the revocation is never missed: rotation's step 3 ("the old key has no traffic")
becomes a guard instead of a habit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from archie_keys.app.audit import regional_usage
from archie_keys.app.changes import after_commit, commit_change
from archie_keys.app.commands import Place
from archie_keys.app.ingest_proof import wait_until_ingested
from archie_keys.app.key_events import emit_key_event
from archie_keys.app.key_limits import release_usage_key
from archie_keys.app.key_lookup import covered_key, no_such_key
from archie_keys.app.ports import FlushReport, NothingFlushed, Write
from archie_keys.app.services import Services
from archie_keys.app.verification import is_expired
from archie_keys.domain import limits
from archie_keys.domain.audit import hour_of
from archie_keys.domain.authorization_witness import WitnessBounds, idle_bound, proves_idle
from archie_keys.domain.clock import from_iso, to_iso
from archie_keys.domain.errors import KeyInUseError, NotFoundError, ServiceUnavailableError
from archie_keys.domain.identity import Identity
from archie_keys.domain.key_record import KeyRecord, with_changes


@dataclass(frozen=True)
class Revocation:
    record: KeyRecord
    flush: FlushReport


def forget_idempotent_response(services: Services, record: KeyRecord) -> None:
    """A key no longer active must not be handed back by a replay of the request that created it."""
    record_id = record.idempotency_id
    if record_id:
        after_commit(lambda: services.idempotency.forget_response(record_id, record.key_id), "drop the sealed response")


def _in_use(services: Services, place: Place, record: KeyRecord, since: float) -> KeyInUseError:
    hours = regional_usage(services, place, record.key_id, since).hours
    recent = sum(hour.allowed for hour in hours if hour.hour >= hour_of(since))
    return KeyInUseError(
        f"the key was used at {record.last_used_at}, within the last {int(services.clock() - since)} seconds; "
        "it is not revoked (move its consumers, then try again)",
        last_used_at=record.last_used_at,
        recent_requests=recent,
    )


def _witness_bounds(services: Services, place: Place) -> WitnessBounds:
    """The stack's witness bounds, with API Gateway's cache as long as the longest a registered stage serving
    the environment declares (never shorter than the stack's bound). A registry that cannot be read, or a
    registration that cannot, leaves the witness proving nothing: the audit decides."""
    bounds = services.config.witness
    try:
        declared = services.flusher.longest_declared_ttl(place.project, place.environment)
    except Exception:  # noqa: BLE001 - no registry, no bound on the stages' caches: no witness, never a guess
        declared = float("inf")
    if declared is None or declared <= bounds.result_ttl_seconds:
        return bounds
    if declared == float("inf"):
        return replace(bounds, in_force_since=None)
    return replace(bounds, result_ttl_seconds=declared)


# The witness item from before each region had its own (app.ports.KeyStore.authorizations).
LEGACY_WITNESS = ""


def _elsewhere(recorded: dict[str, float], regions: Sequence[str]) -> dict[str, float]:
    """The authorizations recorded by regions other than this one (regions[0]). The item from before each region
    had its own is this region's in a single-region stack; with several, any region may have written it last."""
    return {
        region or "an unknown region": at
        for region, at in recorded.items()
        if region != regions[0] and (region or len(regions) > 1)
    }


def _refuse_if_used_elsewhere(
    services: Services, place: Place, record: KeyRecord, since: float, recorded: dict[str, float], bound: float
) -> None:
    """Raise when another region authorized the key too recently for its witness to prove it idle: 409 when it
    authorized it within the window (it let a request through then), else 503 until its record is old enough.
    This region's audit cannot say what that region's authorizations led to: its requests are in its own."""
    recent = {region: at for region, at in recorded.items() if at >= bound}
    if not recent:
        return
    region, latest = max(recent.items(), key=lambda pair: pair[1])
    if latest >= since:
        used = max(record.last_used_at or "", to_iso(latest))
        raise _in_use(services, place, with_changes(record, {"last_used_at": used}), since)
    raise ServiceUnavailableError(
        f"the key was authorized in {region} at {to_iso(latest)}, too recently before the window for that to prove "
        "it idle from this region; the key is not revoked (retry after the time this answer gives)",
        # the bound moves with the clock: one second past `latest` the record proves the window idle
        retry_after=max(limits.GUARD_RETRY_AFTER_SECONDS, math.floor(latest - bound) + 1),
    )


def _prove_idle(services: Services, place: Place, record: KeyRecord, arrival: float, since: float) -> Sequence[Write]:
    """Raise KeyInUseError (409) when the key was used since `since`, ServiceUnavailableError (503) when that
    cannot be proven; return the witness's re-check for the revocation's write when the authorizer proved it."""
    if record.last_used_at and record.last_used_at >= to_iso(since):
        raise _in_use(services, place, record, since)  # the audit has already counted a use in the window
    bounds = _witness_bounds(services, place)
    bound = idle_bound(arrival, arrival - since, bounds)
    regions = services.regional_audit.regions
    if bound is not None:
        try:
            recorded = services.store.authorizations(place.project, place.environment, record.key_id)
        except Exception as error:  # the witness cannot be read: no proof either way, and no guess
            raise ServiceUnavailableError(
                "the key's last authorization cannot be read now; the key is not revoked (retry shortly)",
                retry_after=limits.GUARD_RETRY_AFTER_SECONDS,
            ) from error
        if proves_idle(max(recorded.values(), default=None), arrival, arrival - since, bounds):
            return services.store.not_authorized_since_checks(record, bound, (LEGACY_WITNESS, *regions))
        _refuse_if_used_elsewhere(services, place, record, since, _elsewhere(recorded, regions), bound)
    elif len(regions) > 1:
        # This region's audit cannot see another region's last minutes (each region compacts its own), and
        # the witness that could is not in force: refuse rather than guess (on AWS the audit alone is a 503 too).
        raise ServiceUnavailableError(
            "with several regions a guarded delete needs the authorizer's witness (AuthorizerWitnessSince), which "
            "is not in force; the key is not revoked",
            retry_after=limits.GUARD_RETRY_AFTER_SECONDS,
        )
    # The authorizer saw the key within the window plus its reach (or is not a witness here): the audit
    # decides. Every request answered before this delete arrived must be in it before it is read (else 503).
    wait_until_ingested(services.ingest_watermarks.proven_through, arrival)
    # last_used_at covers what the compactor has counted; the last couple of minutes are read here.
    latest = max(
        record.last_used_at or "",
        services.compactor.pending_use(place.project, place.environment, record.key_id, since) or "",
    )
    if latest and latest >= to_iso(since):
        raise _in_use(services, place, with_changes(record, {"last_used_at": latest}), since)
    if bound is None or len(regions) == 1:
        return []
    # This region's audit decided for this region; the other regions' witnesses proved them idle above, and
    # the revocation's write re-checks that, as it does when the witness alone decides.
    return services.store.not_authorized_since_checks(record, bound, (LEGACY_WITNESS, *regions[1:]))


def revoke_key(
    services: Services, caller: Identity, place: Place, key_id: str, if_unused_for: int | None = None
) -> Revocation:
    """Revoke a key; returns once the revocation is committed and the caches are flushed (or the stages that
    could not be flushed are named). With `if_unused_for`, only when its last accepted request is older than
    that many seconds (else 409 key_in_use, and nothing changes). A key already revoked is answered as
    revoked, with nothing written or recorded (DELETE is idempotent)."""
    arrival = services.clock()
    scope = caller.require(place.project, place.environment, "keys", "delete")
    record = covered_key(services, place, key_id, scope)
    if record.revoked_at:
        # Already revoked (a retry whose answer was lost, say): the same answer, and nothing is written. The
        # first DELETE may have died between its commit and its flush, so while a cache could still hold an
        # Allow, the retry flushes again (coalesced, as every flush), as a concurrent revocation's answer does.
        if arrival - from_iso(record.revoked_at) < limits.AUTHORIZER_CACHE_MAX_SECONDS:
            return Revocation(record, services.flusher.revoke_everywhere(place.project, place.environment))
        return Revocation(record, NothingFlushed())
    since = arrival - if_unused_for if if_unused_for is not None else None
    witness_checks: Sequence[Write] = ()
    if since is not None:
        witness_checks = _prove_idle(services, place, record, arrival, since)
    now = services.clock()
    writes = [
        *witness_checks,
        *services.store.key_revoke_writes(
            record,
            to_iso(now),
            caller.key_id,
            int(now + limits.REVOKED_RETENTION_SECONDS),
            unused_since=to_iso(since) if since is not None else None,
        ),
        services.audit.event_write(
            "key.deleted",
            place.project,
            place.environment,
            caller.key_id,
            key_id,
            {"name": record.name, **({"if_unused_for": if_unused_for} if if_unused_for is not None else {})},
        ),
    ]
    try:
        commit_change(services, writes, {"key": no_such_key()})
    except NotFoundError:
        # The write refused: revoked meanwhile (the same answer as a second DELETE: done), used since the read
        # above (409, with when), or gone.
        now_stored = services.store.get_key(place.project, place.environment, key_id)
        if now_stored is not None and now_stored.revoked_at:
            # The other revocation may still be flushing: this answer, too, waits until every layer refuses.
            return Revocation(now_stored, services.flusher.revoke_everywhere(place.project, place.environment))
        if since is not None and now_stored is not None:
            raise _in_use(services, place, now_stored, since) from None
        raise
    emit_key_event(services, "key.revoked", record, caller.key_id, {"reason": "revoked"}, now)
    forget_idempotent_response(services, record)
    if record.limits:
        # After the commit, so never raised: a failed read of the chain would answer 5xx for a revoked key and
        # skip the flush below, and a retried DELETE of a revoked key flushes nothing.
        after_commit(
            lambda: release_usage_key(services, record, _chain_still_live(services, place, record, now)),
            "release the chain's usage-plan API key",
        )
    # Its expiry's schedule stays: other keys may expire in that second, and one flush more is harmless.
    return Revocation(
        with_changes(record, {"revoked_at": to_iso(now)}),
        services.flusher.revoke_everywhere(place.project, place.environment),
    )


def _chain_still_live(services: Services, place: Place, record: KeyRecord, now: float) -> bool:
    """Whether another key of the revoked key's rotation chain is still accepted (its successor, or the key it
    was rolled from, in its grace period): they share the chain's usage-plan API key."""
    for other_id in (record.rolled_to, record.rolled_from):
        if not other_id:
            continue
        other = services.store.get_key(place.project, place.environment, other_id)
        if other is not None and not other.revoked_at and not is_expired(other.expires_epoch, now):
            return True
    return False
