"""An environment's declaration as the key store returns and takes it: one typed record, built in one place from
its stored fields (`environment_record`, which aws.environment_records and the fakes both call) and written from
one place (`environment_stored_fields`), so a misspelt setting is a type error rather than a silent None.

Its SHOWN fields, in order, are what the API shows (app.views.environment_view; edge.environment_schemas.
Environment documents each, and tests/logic/test_records.py holds the two to the same names). Adding a field
is one line here. What the authorizer needs of an environment is domain.environment_state, read by the store
from the same item without this record (no change to its cold start).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from archie_keys.domain.environment_state import LEGACY_KEYS_ACCEPT
from archie_keys.domain.key_record import SHOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentRecord:
    project: str = field(metadata=SHOWN)
    environment: str = field(metadata=SHOWN)
    created_at: str = field(metadata=SHOWN)
    # A key id, or `bootstrap`.
    created_by: str = field(metadata=SHOWN)
    # What a reported leak of a live key does: "revoke" or "report" (app.leaks).
    on_leak: str = field(default="revoke", metadata=SHOWN)
    # Whether keys of the first, untagged format are still checked: "accept" or "refuse". An environment
    # declared before key tags stores no setting and accepts the keys it holds; a new one stores "refuse".
    legacy_keys: str = field(default=LEGACY_KEYS_ACCEPT, metadata=SHOWN)


_FIELDS = tuple(f.name for f in fields(EnvironmentRecord))


def environment_shown_fields() -> tuple[str, ...]:
    """The fields the API shows, in the answer's order."""
    return tuple(f.name for f in fields(EnvironmentRecord) if f.metadata.get("shown"))


def environment_record(stored: Mapping[str, Any]) -> EnvironmentRecord:
    """The record of a declaration's stored fields (a None value is the field's default: not stored); storage
    attributes (pk, sk, kind) and any it does not know (one a newer release wrote during a deploy) are left out."""
    return EnvironmentRecord(**{name: stored[name] for name in _FIELDS if stored.get(name) is not None})


def environment_stored_fields(record: EnvironmentRecord) -> dict[str, Any]:
    """The record's fields as the declaration's item stores them."""
    return {name: getattr(record, name) for name in _FIELDS}
