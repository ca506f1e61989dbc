"""Use case: GitHub's secret scanning reports tokens it found in public code; a token that is a key this
service issued (its checksum valid, its record found, its secret matching: a public key id glued to a random
secret is a false positive, so nobody can get a key revoked by publishing a look-alike) is revoked at once,
with the same every-layer guarantee as DELETE, unless its environment chose to be told only (`on_leak:
"report"`). Either way a `key.leaked` event with where it leaked lands in the key's audit trail and the key
records `leaked_at`. The answer says no more than GitHub's partner format asks: a label per token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from archie_keys.app.changes import after_commit
from archie_keys.app.revocation import forget_idempotent_response
from archie_keys.app.services import Services
from archie_keys.aws.dynamo import TransactionRefused, Write
from archie_keys.domain import limits
from archie_keys.domain.clock import now_epoch, to_iso
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.identity import SCANNER_ACTOR
from archie_keys.domain.keyformat import parse_key

TRUE_POSITIVE, FALSE_POSITIVE = "true_positive", "false_positive"
# Environment setting (its declaration's `on_leak`): what a reported leak of a live key does.
REVOKE, REPORT = "revoke", "report"


@dataclass(frozen=True)
class LeakedToken:
    token: str
    type: str
    url: str
    source: str


def _issued(services: Services, token: str) -> tuple[dict[str, Any] | None, bool]:
    """(record, live) when `token` is a key this service issued, else (None, False)."""
    try:
        verified = services.verifier.verify(token)
        live = True
        project, environment, key_id = (
            verified.identity.project,
            verified.identity.environment,
            verified.identity.key_id,
        )
    except KeyRefusedError as refusal:
        if refusal.reason not in ("revoked", "expired"):
            return None, False  # malformed, or no such key with this secret and prefix
        parsed = parse_key(token)  # revoked and expired are said only after the secret matched
        project, environment, key_id, live = parsed.project, parsed.environment, parsed.key_id, False
    return services.store.get_key(project, environment, key_id), live


def _react(services: Services, record: dict[str, Any], live: bool, leak: LeakedToken) -> tuple[str, bool]:
    """Record the leak (and revoke a live key unless its environment only reports). Returns (action, revoked)."""
    project, environment, key_id = record["project"], record["environment"], record["key_id"]
    declaration = services.store.get_environment(project, environment) or {}
    now = now_epoch()
    marks = {"leaked_at": to_iso(now), "leaked_url": leak.url}
    action = "already_inactive" if not live else REPORT if declaration.get("on_leak") == REPORT else REVOKE
    details = {"url": leak.url, "source": leak.source, "type": leak.type, "action": action}
    event = services.audit.event_write("key.leaked", project, environment, SCANNER_ACTOR, key_id, details)
    writes: list[Write | None] = [event]
    if action == REVOKE:
        purge = int(now + limits.REVOKED_RETENTION_SECONDS)
        writes[:0] = services.store.key_revoke_writes(record, to_iso(now), SCANNER_ACTOR, purge, also_set=marks)
    elif action == REPORT:
        writes.insert(0, services.store.key_mark_write(record, marks))
    try:
        services.transactions.commit(writes)
    except TransactionRefused:
        # Revoked between the read and the write (by someone, or an earlier token of this same alert).
        services.transactions.commit([event])
        return "already_inactive", False
    if action == REVOKE:
        forget_idempotent_response(services, record)
        after_commit(lambda: services.schedules.delete(project, environment, key_id), "delete schedule")
    return action, action == REVOKE


def report_leaks(services: Services, leaks: list[LeakedToken]) -> list[dict[str, str]]:
    """One label per reported token, in order; every live leaked key revoked (or reported) and audited, then
    each environment that lost a key flushed at every layer once."""
    answers, to_flush = [], set()
    try:
        for leak in leaks:
            record, live = _issued(services, leak.token)
            label = FALSE_POSITIVE
            if record is not None:
                label = TRUE_POSITIVE
                _, revoked = _react(services, record, live, leak)
                # A key this scanner revoked before (an alert GitHub redelivers after a failure that came
                # between that revocation and its flush) is flushed again: flushing twice costs nothing.
                if revoked or (not live and record.get("revoked_by") == SCANNER_ACTOR):
                    to_flush.add((record["project"], record["environment"]))
            token_hash = hashlib.sha256(leak.token.encode("utf-8")).hexdigest()
            answers.append({"token_hash": token_hash, "token_type": leak.type, "label": label})
    finally:
        # Even when a later token fails (GitHub then redelivers the alert): the keys revoked so far stop
        # being served from every cache now, not when the redelivery comes.
        for project, environment in sorted(to_flush):
            services.flusher.revoke_everywhere(project, environment)
    return answers
