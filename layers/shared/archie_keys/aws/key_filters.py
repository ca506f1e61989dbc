"""DynamoDB filter expressions over a key's item: a row filter (context fields), a status (domain.key_status's
rules at `:now`), and a counted Query. The status terms read the key item's own attributes, which every
change writes there as well as on the items that decide (aws.key_items); a listing re-checks each key it
returns against its merged items, so a status the key item lost to a conflicting write is never shown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archie_keys.domain.errors import ServiceUnavailableError
from archie_keys.domain.key_status import ACTIVE, DEFAULT_LISTED, DISABLED, EXPIRED, REVOKED, ROLLED

# Keys read per Query when a row filter applies: DynamoDB filters after reading, so a sparse filter reads
# this many keys per round trip instead of `limit + 1`.
FILTERED_READ_BATCH = 200
# A listing stops after this many round trips even when the filter keeps matching nothing (1 MB each at most).
MAX_QUERY_ROUND_TRIPS = 100


def count_query(client: Any, request: dict[str, Any], max_pages: int) -> int:
    """How many items a Query (`"Select": "COUNT"`) finds, page after page (1 MB read each); past `max_pages`
    it answers 503 rather than guess."""
    request = dict(request)
    count = 0
    for _ in range(max_pages):
        response = client.query(**request)
        count += int(response.get("Count", 0))
        if "LastEvaluatedKey" not in response:
            return count
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    raise ServiceUnavailableError("too many keys to count now; retry shortly")


def row_filter_expression(alternatives: Sequence[dict[str, Any]]) -> tuple[str, dict[str, str], dict[str, Any]] | None:
    """A condition selecting keys whose context matches any alternative (each: every field equal), or None
    when no key can match (a literal that is not a string never equals a context value). Parenthesized only
    where needed: DynamoDB refuses redundant parentheses."""
    clauses: list[list[str]] = []
    names: dict[str, str] = {"#ctx": "context"}
    values: dict[str, Any] = {}
    for alternative in alternatives:
        if not all(isinstance(value, str) for value in alternative.values()):
            continue
        terms = []
        for field, value in alternative.items():
            index = len(values)
            names[f"#f{index}"] = field
            values[f":f{index}"] = value
            terms.append(f"#ctx.#f{index} = :f{index}")
        clauses.append(terms or ["attribute_exists(pk)"])
    if not clauses:
        return None
    if len(clauses) == 1:
        return " AND ".join(clauses[0]), names, values
    either = " OR ".join(f"({' AND '.join(terms)})" if len(terms) > 1 else terms[0] for terms in clauses)
    return f"({either})", names, values


# Each status as DynamoDB conditions on a key's item at `:now`, the rules of domain.key_status: one or more
# alternatives, each a list of terms that must all hold.
_NOT_ENDED = "(attribute_not_exists(expires_epoch) OR expires_epoch > :now)"
_STATUS_ALTERNATIVES: dict[str, tuple[tuple[str, ...], ...]] = {
    ACTIVE: (
        (
            "attribute_not_exists(revoked_at)",
            "attribute_not_exists(disabled_at)",
            "attribute_not_exists(rolled_to)",
            _NOT_ENDED,
        ),
    ),
    DISABLED: (("attribute_not_exists(revoked_at)", "attribute_exists(disabled_at)", _NOT_ENDED),),
    ROLLED: (
        (
            "attribute_not_exists(revoked_at)",
            "attribute_not_exists(disabled_at)",
            "attribute_exists(rolled_to)",
            "expires_epoch > :now",
        ),
    ),
    EXPIRED: (("attribute_not_exists(revoked_at)", "attribute_not_exists(rolled_to)", "expires_epoch <= :now"),),
    # Revoked and still retained (DynamoDB's TTL deletes an item up to days after its purge_epoch), or rolled
    # away: rolled, and its grace over.
    REVOKED: (
        ("attribute_exists(revoked_at)", "purge_epoch > :now"),
        ("attribute_not_exists(revoked_at)", "attribute_exists(rolled_to)", "expires_epoch <= :now"),
    ),
}
# Every status but revoked, in one alternative (the default listing).
_NOT_REVOKED = ("attribute_not_exists(revoked_at)", "(attribute_not_exists(rolled_to) OR expires_epoch > :now)")


def status_filter(statuses: Sequence[str], joined: bool = True) -> str:
    """A condition selecting the keys in one of `statuses` at `:now`. Parenthesized when `joined` with AND to
    other terms, and only where needed: DynamoDB refuses redundant parentheses."""
    if set(statuses) == set(DEFAULT_LISTED):
        alternatives: list[tuple[str, ...]] = [_NOT_REVOKED]
    else:
        alternatives = [alternative for status in statuses for alternative in _STATUS_ALTERNATIVES[status]]
    if len(alternatives) == 1:
        return " AND ".join(alternatives[0])
    either = " OR ".join(f"({' AND '.join(terms)})" for terms in alternatives)
    return f"({either})" if joined else either
