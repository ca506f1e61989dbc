"""The background half of a mass revocation (app.mass_revocation holds the rule that refuses the keys meanwhile):
mark every key it covers revoked, each with its own `key.deleted` event, then end it.

Run by RevocationWorkerFunction, invoked asynchronously: each invocation marks pages of keys while its time
lasts, then invokes itself again with a cursor (the sort key it reached). A batch of keys is one transaction:
the keys, their `key.deleted` events, their roles' counts and the revocation's progress together, so a worker
that dies anywhere leaves every batch whole, and whoever resumes it (Lambda's retry of the same event, or the
sweep: every minute it starts again any revocation whose worker gave no sign of life) skips what is marked.

Keys created while the revocation began may commit after the marking went past them (their id, which holds
their creation time, is older than the rule, so the rule covers them): the last pass comes once no such
creation can still be under way (limits.REVOCATION_SETTLE_SECONDS after the start) and marks them too. When it
finds none left, one transaction moves the rule out of the authorizer's reads (status done).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from archie_keys.app.key_events import emit_key_events
from archie_keys.app.ports import Write
from archie_keys.app.revocation import forget_idempotent_response
from archie_keys.app.services import Services
from archie_keys.domain import limits
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConditionFailed, ConflictError, ServiceUnavailableError
from archie_keys.domain.keyformat import KEY_ID_RE, SLUG_RE

logger = logging.getLogger("archie_keys.revocation_worker")

# Keys read per Query while marking.
PAGE_KEYS = 200
# DynamoDB's limit on the items of one transaction: each key is two (its update and its event), each role one,
# the revocation's progress one.
TRANSACTION_ITEMS = 100
# An invocation takes no new page once fewer than this many seconds of its timeout are left, and goes on in a
# new invocation with its cursor.
RESERVE_SECONDS = 30.0
# A batch that met a concurrent transaction is tried again this many times before the invocation fails (and
# Lambda retries it).
CONFLICT_ATTEMPTS = 5


@dataclass(frozen=True)
class RevocationJob:
    project: str
    environment: str
    revocation_id: str
    phase: str = "mark"  # mark: pages of keys from `cursor`; final: the last pass, then the end
    cursor: str | None = None

    @classmethod
    def parse(cls, event: dict[str, Any]) -> RevocationJob:
        project, environment = event.get("project"), event.get("environment")
        revocation_id, phase, cursor = event.get("revocation_id"), event.get("phase", "mark"), event.get("cursor")
        if not (
            isinstance(project, str)
            and SLUG_RE.match(project)
            and isinstance(environment, str)
            and SLUG_RE.match(environment)
            and isinstance(revocation_id, str)
            and KEY_ID_RE.match(revocation_id)
            and phase in ("mark", "final")
            and (cursor is None or (isinstance(cursor, str) and cursor.startswith("KEY#")))
        ):
            raise ValueError("a revocation job needs project, environment, revocation_id (and a phase, a cursor)")
        return cls(project, environment, revocation_id, phase, cursor)

    def event(self, phase: str, cursor: str | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "project": self.project,
            "environment": self.environment,
            "revocation_id": self.revocation_id,
            "phase": phase,
        }
        if cursor is not None:
            event["cursor"] = cursor
        return event


def _batches(records: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Keys in groups whose transaction stays within TRANSACTION_ITEMS."""
    batches: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    roles: set[str] = set()
    for record in records:
        wider = roles | set(record.get("roles", ()))
        if batch and 2 * (len(batch) + 1) + len(wider) + 1 > TRANSACTION_ITEMS:
            batches.append(batch)
            batch, wider = [], set(record.get("roles", ()))
        batch.append(record)
        roles = wider
    if batch:
        batches.append(batch)
    return batches


class Marker:
    """Marks keys for one revocation, a transaction per batch."""

    def __init__(self, services: Services, rule: dict[str, Any], sleep: Callable[[float], None] = time.sleep) -> None:
        self.services = services
        self.rule = rule
        self.sleep = sleep
        self.ended = False  # the revocation ended meanwhile (another worker finished it)

    def _writes(self, batch: list[dict[str, Any]], now: float) -> list[Write | None]:
        rule, audit = self.rule, self.services.audit
        purge = int(now + limits.REVOKED_RETENTION_SECONDS)
        events = [
            audit.event_write(
                "key.deleted",
                rule["project"],
                rule["environment"],
                rule["created_by"],
                record["key_id"],
                {"name": record.get("name"), "revocation_id": rule["revocation_id"], "reason": rule.get("reason")},
            )
            for record in batch
        ]
        return [*self.services.revocations.mark_writes(rule, batch, to_iso(now), purge), *events]

    def mark(self, records: Sequence[dict[str, Any]]) -> int:
        """Revoke `records` (those revoked meanwhile by anyone are left alone); returns how many this did."""
        done = 0
        for batch in _batches(records):
            done += self._commit(batch)
            if self.ended:
                break
        return done

    def _commit(self, batch: list[dict[str, Any]]) -> int:
        conflicts = 0
        while batch and not self.ended:
            writes = self._writes(batch, self.services.clock())
            try:
                self.services.transactions.commit(writes)
            except ConditionFailed as refused:
                if "revocation" in refused.labels:
                    self.ended = True
                    return 0
                gone = {label.removeprefix("key:") for label in refused.labels if label.startswith("key:")}
                if not gone:
                    raise
                batch = [record for record in batch if record["key_id"] not in gone]
                continue
            except ConflictError:
                conflicts += 1
                if conflicts >= CONFLICT_ATTEMPTS:
                    raise ServiceUnavailableError("keys kept changing under the revocation; retry") from None
                self.sleep(0.05 * conflicts)
                continue
            self._forget_responses(batch)
            reason = {"reason": str(self.rule.get("reason") or "revoked")}
            emit_key_events(
                self.services, "key.revoked", [(record, reason) for record in batch], self.rule["created_by"]
            )
            return len(batch)
        return 0

    def _forget_responses(self, batch: list[dict[str, Any]]) -> None:
        """A key created with an Idempotency-Key must not be handed back by a replay: drop each one's response
        (replays check the key anyway; this keeps no sealed value of a dead key for the rest of its day)."""
        holding = [record for record in batch if record.get("idempotency_id")]
        if holding:
            tasks = [(contextvars.copy_context(), record) for record in holding]  # the caller's trace in each
            with ThreadPoolExecutor(min(8, len(holding)), thread_name_prefix="forget") as pool:
                list(pool.map(lambda task: task[0].run(forget_idempotent_response, self.services, task[1]), tasks))


def run_revocation(
    services: Services,
    job: RevocationJob,
    remaining_seconds: Callable[[], float],
    go_on: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """One invocation's share of the work. `go_on(event)` invokes the worker again (asynchronously) when this
    invocation's time runs short."""
    revocations = services.revocations
    rule = revocations.get(job.project, job.environment, job.revocation_id)
    if rule is None or rule.get("status") != "running":
        revocations.registry.unregister(job.project, job.environment, job.revocation_id)
        return {"status": "done", "revocation_id": job.revocation_id}
    revocations.registry.heartbeat(job.project, job.environment, job.revocation_id, int(services.clock() * 1000))
    marker = Marker(services, rule, sleep)
    marked = 0
    cursor, phase = job.cursor, job.phase
    while phase == "mark":
        if remaining_seconds() < RESERVE_SECONDS:
            go_on(job.event("mark", cursor))
            return {"status": "running", "marked": marked, "cursor": cursor}
        keys, cursor = revocations.uncovered_page(rule, cursor, PAGE_KEYS)
        marked += marker.mark(keys)
        revocations.registry.heartbeat(job.project, job.environment, job.revocation_id, int(services.clock() * 1000))
        if marker.ended:
            return {"status": "done", "marked": marked}
        if cursor is None:
            phase = "final"
    return _last_pass(services, job, rule, marker, marked, remaining_seconds, go_on, sleep)


def _last_pass(
    services: Services,
    job: RevocationJob,
    rule: dict[str, Any],
    marker: Marker,
    marked: int,
    remaining_seconds: Callable[[], float],
    go_on: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """Once every key created before the rule is committed, mark those committed late, then end it."""
    revocations, settle = services.revocations, services.config.revocation_settle_seconds
    settled = int(rule["before_ms"]) / 1000 + settle
    wait = settled - services.clock()
    if wait > 0:
        if wait > remaining_seconds() - RESERVE_SECONDS:
            go_on(job.event("final"))
            return {"status": "running", "marked": marked, "phase": "final"}
        sleep(wait)
    # A key committed after the marking went past it was created at most `settle` before the rule.
    since_ms = int(rule["before_ms"] - settle * 1000)
    while True:
        late, cursor = revocations.uncovered_page(rule, None, PAGE_KEYS, since_ms=since_ms)
        while cursor is not None:  # a page of late keys is rare; several, rarer still
            more, cursor = revocations.uncovered_page(rule, cursor, PAGE_KEYS, since_ms=since_ms)
            late += more
        if not late:
            break
        marked += marker.mark(late)
        if marker.ended:
            return {"status": "done", "marked": marked}
    _finish(services, job)
    return {"status": "done", "marked": marked}


def _finish(services: Services, job: RevocationJob) -> None:
    """Move the rule out of the authorizer's reads, with its final counts, in one transaction."""
    revocations = services.revocations
    for _ in range(CONFLICT_ATTEMPTS):
        rule = revocations.get(job.project, job.environment, job.revocation_id)
        if rule is None or rule.get("status") != "running":
            return  # another worker ended it
        now = services.clock()
        details = {
            "revocation_id": job.revocation_id,
            "matched": rule.get("matched"),
            "revoked": int(rule.get("revoked", 0)),
        }
        writes = [
            *revocations.finish_writes(rule, to_iso(now), int(now + limits.REVOKED_RETENTION_SECONDS)),
            services.audit.event_write(
                "revocation.finished", job.project, job.environment, rule["created_by"], None, details
            ),
        ]
        try:
            services.transactions.commit(writes)
            return
        except ConditionFailed as refused:
            if "revocation" not in refused.labels:
                raise
            # Another worker counted a batch since the read (or ended it): read again.
        except ConflictError:
            continue
    raise ServiceUnavailableError("the revocation could not be ended now; it will be retried")


def sweep(services: Services, go_on: Callable[[dict[str, Any]], None], now: float | None = None) -> int:
    """Resume every revocation under way here whose worker gave no sign of life for the stale time (a worker
    whose retries ran out, or that was never started). Returns how many it resumed."""
    current_ms = int((services.clock() if now is None else now) * 1000)
    stale_ms = int(services.config.revocation_stale_seconds * 1000)
    resumed = 0
    for entry in services.revocations.registry.registered():
        seen = int(entry.get("heartbeat_ms", 0))
        if current_ms - seen < stale_ms:
            continue
        project, environment, revocation_id = entry["project"], entry["environment"], entry["revocation_id"]
        # Claimed by one sweep only: two at once would start two workers (harmless, but wasted).
        if services.revocations.registry.heartbeat(project, environment, revocation_id, current_ms, seen_ms=seen):
            logger.warning("resuming revocation %s of %s/%s", revocation_id, project, environment)
            go_on({"project": project, "environment": environment, "revocation_id": revocation_id})
            resumed += 1
    return resumed
