"""Use case: GitHub's secret scanning reports matches it found in public code. Each match is searched for
keys exactly as `python -m archie_keys scan` searches a line (`keyformat.keys_in`: every start, the checksum
picks the true one), so a key with text glued to it (`old_<key>`, `<key>X`) is found; each key found that
this service issued (its record found, its secret matching: a public key id glued to a random secret is a
false positive, so nobody can get a key revoked by publishing a look-alike) is revoked at once, with the same
every-layer guarantee as DELETE, unless its environment chose to be told only (`on_leak: "report"`). Either
way a `key.leaked` event with where it leaked lands in the key's audit trail, once per key and place however
often the alert is delivered, and the key records `leaked_at`. The answer says no more than GitHub's partner
format asks: a label per token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import islice

from archie_keys.app.key_events import emit_key_event
from archie_keys.app.ports import Write
from archie_keys.app.revocation import forget_idempotent_response
from archie_keys.app.services import Services
from archie_keys.domain import limits
from archie_keys.domain.change_records import EVENT_RECORDED
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConditionFailed, KeyRefusedError
from archie_keys.domain.identity import SCANNER_ACTOR
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.keyformat import keys_in, parse_key

TRUE_POSITIVE, FALSE_POSITIVE = "true_positive", "false_positive"
# Environment setting (its declaration's `on_leak`): what a reported leak of a live key does.
REVOKE, REPORT = "revoke", "report"


@dataclass(frozen=True)
class LeakedToken:
    token: str
    type: str
    url: str
    source: str


def _keys_reported(token: str) -> list[str]:
    """The keys a reported match holds, found as the scanner finds them, at most LEAK_KEYS_PER_TOKEN_MAX
    (each costs an argon2 verify). A token longer than any match is not searched: the edge refuses it, and
    the work here must not depend on that."""
    if len(token) > limits.LEAK_TOKEN_MAX_LENGTH:
        return []
    return [value for _, value, _ in islice(keys_in(token), limits.LEAK_KEYS_PER_TOKEN_MAX)]


def _issued(services: Services, value: str) -> tuple[KeyRecord | None, bool]:
    """(record, live) when `value` is a key this service issued, else (None, False)."""
    try:
        verified = services.verifier.verify(value)
        live = True
        project, environment, key_id = (
            verified.identity.project,
            verified.identity.environment,
            verified.identity.key_id,
        )
    except KeyRefusedError as refusal:
        if refusal.reason not in ("revoked", "expired", "disabled"):
            return None, False  # no such key with this secret and prefix
        # Revoked, expired and disabled are said only after the secret matched. A disabled key is live: it
        # can be enabled again, so a leak revokes it as any live key.
        parsed = parse_key(value)
        project, environment, key_id = parsed.project, parsed.environment, parsed.key_id
        live = refusal.reason == "disabled"
    return services.store.get_key(project, environment, key_id), live


def _event(services: Services, record: KeyRecord, leak: LeakedToken, action: str) -> Write | None:
    """The leak's `key.leaked` event, written once per key and place (url, source): a redelivered alert, or
    one replayed by whoever saw it (GitHub's signature carries no time), refuses its transaction instead of
    adding another event, and another match of the same key in the same place is the same leak."""
    details = {"url": leak.url, "source": leak.source, "type": leak.type, "action": action}
    project, environment, key_id = record.project, record.environment, record.key_id
    once_for = (key_id, leak.url, leak.source)
    return services.audit.event_write("key.leaked", project, environment, SCANNER_ACTOR, key_id, details, once_for)


def _react(services: Services, record: KeyRecord, live: bool, leak: LeakedToken) -> bool:
    """Record the leak (and revoke a live key unless its environment only reports), unless this leak is
    recorded already. Returns whether this call revoked the key."""
    project, environment = record.project, record.environment
    declaration = services.store.get_environment(project, environment)
    now = services.clock()
    marks = {"leaked_at": to_iso(now), "leaked_url": leak.url}
    action = "already_inactive" if not live else REPORT if declaration and declaration.on_leak == REPORT else REVOKE
    writes: list[Write | None] = []
    if action == REVOKE:
        purge = int(now + limits.REVOKED_RETENTION_SECONDS)
        writes = [*services.store.key_revoke_writes(record, to_iso(now), SCANNER_ACTOR, purge, also_set=marks)]
    elif action == REPORT:
        writes = [services.store.key_mark_write(record, marks)]
    try:
        services.transactions.commit([*writes, _event(services, record, leak, action)])
    except ConditionFailed as refused:
        if EVENT_RECORDED in refused.labels:
            return False  # this leak was handled when the alert first came: nothing more to do or record
        # Revoked between the read and the write (by someone, or an earlier token of this same alert).
        try:
            services.transactions.commit([_event(services, record, leak, "already_inactive")])
        except ConditionFailed as again:
            if EVENT_RECORDED not in again.labels:
                raise
            # Recorded meanwhile by a concurrent delivery of this alert.
        return False
    emit_key_event(services, "key.leaked", record, SCANNER_ACTOR, {"source": leak.source, "url": leak.url}, now)
    if action == REVOKE:
        emit_key_event(services, "key.revoked", record, SCANNER_ACTOR, {"reason": "leaked"}, now)
        forget_idempotent_response(services, record)
    return action == REVOKE


def report_leaks(services: Services, leaks: list[LeakedToken]) -> list[dict[str, str]]:
    """One label per reported token, in order: true_positive when it holds a key this service issued. Every
    live leaked key is revoked (or reported) and audited, then each environment that lost a key is flushed at
    every layer once."""
    answers, to_flush = [], set()
    try:
        for leak in leaks:
            label = FALSE_POSITIVE
            for value in _keys_reported(leak.token):
                record, live = _issued(services, value)
                if record is None:
                    continue
                label = TRUE_POSITIVE
                revoked = _react(services, record, live, leak)
                # A key this scanner revoked before (an alert GitHub redelivers after a failure that came
                # between that revocation and its flush) is flushed again: flushing twice costs nothing.
                if revoked or (not live and record.revoked_by == SCANNER_ACTOR):
                    to_flush.add((record.project, record.environment))
            token_hash = hashlib.sha256(leak.token.encode("utf-8")).hexdigest()
            answers.append({"token_hash": token_hash, "token_type": leak.type, "label": label})
    finally:
        # Even when a later token fails (GitHub then redelivers the alert): the keys revoked so far stop
        # being served from every cache now, not when the redelivery comes.
        for project, environment in sorted(to_flush):
            services.flusher.revoke_everywhere(project, environment)
    return answers
