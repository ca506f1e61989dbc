"""A role as the key store returns it: one typed record, built in one place from its stored fields (the DynamoDB
store's aws.role_records and the fakes both call `role_record`), so a misspelt field is a type error.

Its SHOWN fields, in order, are what the API shows (app.views.role_view; edge.environment_schemas.Role
documents each, and tests/logic/test_records.py holds the two to the same names). Adding a field is one line
here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from archie_keys.domain.key_record import SHOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleRecord:
    name: str = field(metadata=SHOWN)
    description: str = field(default="", metadata=SHOWN)
    # Each {"resource", "actions", "filters"} (domain.grants).
    permissions: tuple[dict[str, Any], ...] = field(default=(), metadata=SHOWN)
    created_at: str = field(metadata=SHOWN)
    updated_at: str = field(metadata=SHOWN)
    # How many keys hold it, every region's counts added (aws.role_counts); None when the caller may not see
    # it (app.roles: a count of every tenant's keys would tell a tenant administrator about the others).
    key_count: int | None = field(default=0, metadata=SHOWN)
    updated_by: str | None = None


_FIELDS = frozenset(f.name for f in fields(RoleRecord))


def role_shown_fields() -> tuple[str, ...]:
    """The fields the API shows, in the answer's order."""
    return tuple(f.name for f in fields(RoleRecord) if f.metadata.get("shown"))


def role_record(stored: Mapping[str, Any]) -> RoleRecord:
    """The record of a role's stored fields: permissions as stored (JSON text) or already decoded, its count
    as DynamoDB gives it back; storage attributes (pk, sk, kind) and any it does not know are left out."""
    values = {name: value for name, value in stored.items() if name in _FIELDS and value is not None}
    permissions = values.get("permissions", ())
    if isinstance(permissions, str):
        permissions = json.loads(permissions)
    values["permissions"] = tuple(permissions)
    values["key_count"] = int(values.get("key_count", 0))
    return RoleRecord(**values)
