"""Use case: declare an environment (idempotent) and read it."""

from __future__ import annotations

from typing import Any

from archie_keys.audit import AuditLog
from archie_keys.clock import now_epoch, to_iso
from archie_keys.errors import ValidationFailedError
from archie_keys.keyformat import SLUG_RE
from archie_keys.permissions import Caller, require
from archie_keys.store import KeyStore


def check_slug(value: str, field: str) -> None:
    if not SLUG_RE.match(value):
        raise ValidationFailedError(
            f"{field} must be 1-24 lowercase letters or digits (it is carried inside every key)", field=field
        )


def declare_environment(
    store: KeyStore, caller: Caller | None, project: str, environment: str, audit: AuditLog | None = None
) -> tuple[dict[str, Any], bool]:
    """caller None is the bootstrap command (a person with AWS credentials, not an API key)."""
    check_slug(project, "project")
    check_slug(environment, "environment")
    if caller is not None:
        require(caller, project, environment, "environments", "write")
    record = {
        "project": project,
        "environment": environment,
        "created_at": to_iso(now_epoch()),
        "created_by": caller.key_id if caller else "bootstrap",
    }
    stored, created = store.put_environment(project, environment, record)
    if created and audit is not None:
        audit.record_event("environment.declared", project, environment, record["created_by"])
    return stored, created


def get_environment(store: KeyStore, caller: Caller, project: str, environment: str) -> dict[str, Any]:
    require(caller, project, environment, "environments", "read")
    return store.require_environment(project, environment)
