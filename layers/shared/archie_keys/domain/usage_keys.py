"""The API key values that carry keys' rate limits and quotas on API Gateway (docs/limits.md): the authorizer
returns one as `usageIdentifierKey` on every Allow. Pure.

Kept apart from domain.rate_limits (what a client sends as `limits`, and quota periods) because the authorizer
needs only these names: its cold start imports this module, not the parsing and calendar code.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archie_keys.domain.key_record import KeyRecord


def lineage_of(record: KeyRecord) -> str:
    """The rotation chain a stored key belongs to: its first key's id (a roll carries it over as `lineage_id`),
    whose API key carries the chain's rate, burst and quota."""
    return record.lineage_id or record.key_id


def usage_identifier(namespace: str, lineage_id: str | None) -> str:
    """The API key value the authorizer returns as usageIdentifierKey: 42 alphanumeric characters (API Gateway
    takes 20 to 128), unique per stack. `lineage_id` is the id of the first key of a rotation chain, which a roll
    carries over, so an old key and its successor draw on one rate and burst and one quota; None is the shared key of
    every key without limits. Not a credential: with ApiKeySourceType AUTHORIZER no client can present it."""
    if lineage_id is None:
        return unlimited_usage_identifier(namespace)
    return "ak" + hashlib.sha256(f"{namespace}/key/{lineage_id}".encode()).hexdigest()[:40]


# The shared API key's value is declared in template.yaml (UnlimitedApiKey), which can only join and split:
# this prefix and the stack name without its hyphens (API key values are alphanumeric), 20 characters or more.
UNLIMITED_USAGE_PREFIX = "akunlimitedusagekey"


def unlimited_usage_identifier(namespace: str) -> str:
    """The value of the one API key every key without limits shares (template.yaml's UnlimitedApiKey). Two
    stacks whose names differ only by hyphens would share it: API Gateway refuses the second one's deployment
    (API key values are unique per region), loudly."""
    return UNLIMITED_USAGE_PREFIX + namespace.replace("-", "")
