"""The audit trail's vocabulary, shared by the authorizer (which writes refusal lines) and the ingest (which
reads them): nothing here does I/O."""

from __future__ import annotations

from datetime import UTC, datetime

# The message of the authorizer's structured log line when it could not decide (a dependency failed): the
# caller got 503, and operators find the cause here. Refusals need no line: the authorizer's Deny carries the
# key id and reason into API Gateway's access log (see PROVEN_REFUSALS).
UNDECIDED_MESSAGE = "key not decided"

# Refusals given after the presented secret was proven to be the key's: the request is the key's own traffic
# (a forgotten consumer of a revoked key), so the audit attributes it to the key and counts it in its usage.
# Every other refusal (not_found, wrong_environment, malformed) proves nothing about who holds the key id
# the token names: anyone can put any key id in a checksum-valid token, so such a request is recorded in
# the environment it was sent to with the id only as `claimed_key_id`, and never counted for that key.
# A key with an allow-list refused for where it was used from (or on a stage whose cache ignores the address)
# was proven too: the secret was checked first.
PROVEN_REFUSALS = frozenset({"revoked", "expired", "disabled", "source_ip_not_allowed", "source_ip_not_cache_keyed"})


# A request's record and the one list of its fields (REQUEST_RECORD_FIELDS) are domain.audit_records': not
# here, so the authorizer, which imports this module, does not load them.


def hour_of(epoch: float) -> str:
    """The hour a moment is counted in by the usage counters: 2026-11-26T09:00Z."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:00Z")
