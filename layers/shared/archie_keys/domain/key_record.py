"""A key as the key store returns and takes it: one typed record, so a misspelt field is a type error rather
than a silent None, and each of its fields is declared here once.

    KeyRecord        the record; its fields marked SHOWN are what the API shows of it (app.views.KEY_FIELDS,
                     in this order), the others are the store's and the decision's own
    key_record       the one way in: a record from stored fields (aws.key_items.merge_key_items, the fakes)
    stored_fields    the one way out: the fields a new key's item holds (aws.key_writes, the fakes)
    with_changes     the record as a committed change leaves it (PATCH, a roll, a revocation)

Adding a field is one line in KeyRecord (SHOWN if the API shows it, and then in edge.key_schemas.Key, the
documented answer; tests/logic/test_records.py holds the two to the same names). Storage attributes
(pk, sk, kind, layout, part, ...) are not fields: key_record leaves them, and any attribute it does not know
(one written by a newer release during a deploy), out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

# Field metadata: the API shows this field as stored (app.views.key_view).
SHOWN: Mapping[str, bool] = {"shown": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRecord:
    # --- shown, in the answer's order ----------------------------------------------------------------------
    key_id: str = field(metadata=SHOWN)
    name: str = field(metadata=SHOWN)
    prefix: str = field(metadata=SHOWN)
    # The key's public beginning: prefix, project, environment, key id.
    start: str = field(metadata=SHOWN)
    project: str = field(metadata=SHOWN)
    environment: str = field(metadata=SHOWN)
    roles: tuple[str, ...] = field(default=(), metadata=SHOWN)
    context: dict[str, str] = field(default_factory=dict, metadata=SHOWN)
    created_at: str = field(metadata=SHOWN)
    # A key id, `bootstrap`, or `oidc:<issuer>#<sub>` for a key exchanged for an OIDC token.
    created_by: str = field(metadata=SHOWN)
    expires_at: str | None = field(default=None, metadata=SHOWN)
    last_used_at: str | None = field(default=None, metadata=SHOWN)
    rolled_from: str | None = field(default=None, metadata=SHOWN)
    rolled_to: str | None = field(default=None, metadata=SHOWN)
    leaked_at: str | None = field(default=None, metadata=SHOWN)
    # Canonical ranges (domain.network); () is anywhere, and is not stored.
    allowed_cidrs: tuple[str, ...] = field(default=(), metadata=SHOWN)
    # Limits.to_dict (domain.rate_limits); None for none.
    limits: dict[str, Any] | None = field(default=None, metadata=SHOWN)
    updated_at: str | None = field(default=None, metadata=SHOWN)
    # 2: tagged (domain.keyformat); None (shown as 1) for a key issued before key tags: such keys store none,
    # and an environment counts them by that (aws.environment_records).
    key_format: int | None = field(default=None, metadata=SHOWN)
    # --- the store's and the decision's own -----------------------------------------------------------------
    # For searching by name ignoring case (DynamoDB's contains() is case-sensitive).
    name_folded: str | None = None
    # The expiry the decisions compare (expires_at is its ISO form): whole seconds, None for never.
    expires_epoch: float | None = None
    hash: str = ""
    hash_params: dict[str, Any] | None = None
    pepper_version: str | None = None
    # The request that made it, whose sealed answer a replay returns while the key is active.
    idempotency_id: str | None = None
    # The trust policy a key exchanged for an OIDC token was made under.
    trust_policy: str | None = None
    # Rolled from the bootstrap key (domain.identity.is_break_glass).
    break_glass: bool = False
    # Its rotation chain's first key (domain.usage_keys.lineage_of), set once it has limits.
    lineage_id: str | None = None
    updated_by: str | None = None
    # How many PATCHes it has had: a change is refused if another came between its read and its write.
    revision: int | None = None
    disabled_at: str | None = None
    disabled_by: str | None = None
    rolled_at: str | None = None
    rolled_by: str | None = None
    revoked_at: str | None = None
    revoked_by: str | None = None
    # The mass revocation that revoked it.
    revocation_id: str | None = None
    # When DynamoDB's TTL deletes its items (a revoked key is kept this long).
    purge_epoch: int | None = None
    leaked_url: str | None = None


_FIELDS = {f.name: f for f in fields(KeyRecord)}
# Stored as lists (DynamoDB and JSON have no tuples).
_SEQUENCES = frozenset({"roles", "allowed_cidrs"})
_FLOATS = frozenset({"expires_epoch"})
_INTS = frozenset({"purge_epoch", "revision", "key_format"})


def shown_fields() -> tuple[str, ...]:
    """The fields the API shows as stored, in the answer's order."""
    return tuple(name for name, f in _FIELDS.items() if f.metadata.get("shown"))


def _value(name: str, value: Any) -> Any:
    # DynamoDB gives numbers back as ints where whole (aws.dynamo_types), lists for tuples.
    if name in _SEQUENCES:
        return tuple(value)
    if name in _FLOATS:
        return float(value)
    if name in _INTS:
        return int(value)
    if name == "break_glass":
        return bool(value)
    return value


def key_record(stored: Mapping[str, Any]) -> KeyRecord:
    """The record of a key's stored fields (a None value is the field's default: not stored)."""
    return KeyRecord(
        **{name: _value(name, value) for name, value in stored.items() if name in _FIELDS and value is not None}
    )


def stored_fields(record: KeyRecord) -> dict[str, Any]:
    """The record's fields as a key's item stores them: those not set (None, false, no ranges) are absent."""
    stored: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(record, name)
        if value is None or value is False or (name == "allowed_cidrs" and not value):
            continue
        stored[name] = list(value) if name in _SEQUENCES else value
    return stored


def with_changes(record: KeyRecord, sets: Mapping[str, Any], removes: Sequence[str] = ()) -> KeyRecord:
    """The record with `sets` written and `removes` removed, as the store applies a change to the key's item.
    A name that is no field is a bug in the caller, never a value silently dropped."""
    unknown = sorted((set(sets) | set(removes)) - _FIELDS.keys())
    if unknown:
        raise KeyError(f"not fields of a key record: {', '.join(unknown)}")
    changed = {name: getattr(record, name) for name in _FIELDS} | dict(sets)
    return key_record({name: value for name, value in changed.items() if name not in removes})
