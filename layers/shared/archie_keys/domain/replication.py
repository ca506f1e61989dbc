"""Which replicated changes of the keys table take a right away, so a region's stream consumer flushes its own
region's authorizer caches for them (functions/replication_flush, app.replicated_changes; docs/regions.md).

The keys table is a global table: a revocation, a role edit or a disable committed in one region reaches the
others by replication, where no writer flushes the API Gateway caches that may still hold an Allow from before
it. Each region's stream consumer sees every change of its replica; this module says which of them call for a
flush (and a local expiry schedule), and which region made them.

A change counts as replicated from another region when its image names that region in the replication
attribute (`aws:rep:updateregion`: global tables of version 2017.11.29, and the local emulation). A change
whose region cannot be told (version 2019.11.21 images carry no such attribute) is treated as replicated:
flushing an own-region change a second time costs at most one coalesced flush a second per stage, while
missing a remote one would leave a revoked key allowed for up to the stage's cache lifetime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The attribute a replica write carries naming the region the change was made in.
ORIGIN_ATTRIBUTES = ("aws:rep:updateregion",)
# Attributes the replication itself adds (they change on every replicated write and decide nothing).
REPLICATION_ATTRIBUTES = frozenset({"aws:rep:updateregion", "aws:rep:updatetime", "aws:rep:deleting"})
# Attributes that change without taking any right away: use and witness bookkeeping, a rehash of the same
# secret (argon2 parameters, pepper version), a role's count of the keys holding it, TTL bookkeeping.
BOOKKEEPING_ATTRIBUTES = frozenset(
    {"last_used_at", "authorized_epoch", "purge_epoch", "key_count", "hash", "hash_params", "pepper_version"}
)
_PARTITION_PREFIX = "PROJECT#"
_ENV_INFIX = "#ENV#"
# Sort keys whose items decide what a presented key may do (aws.key_store, aws.trust_store).
_DECIDING_PREFIXES = ("KEY#", "ROLE#", "TRUST#", "ENV#REVOCATION#")
_MASS_REVOCATION = "ENV#REVOCATION#"
# A key's last use in one region (KEY#<id>#USED#<region>, aws.key_items): bookkeeping, however it is written.
_USE_ITEM = "#USED#"


def _is_key_record(sk: str) -> bool:
    """The key's own item, KEY#<id> (not one of its #HASH, #REVOKED, ... items): its insert is the key arriving."""
    return sk.startswith("KEY#") and sk.count("#") == 1


@dataclass(frozen=True)
class ItemChange:
    """One stream record of the keys table, its images as plain values (None where the record has none)."""

    event: str  # INSERT, MODIFY or REMOVE
    keys: Mapping[str, Any]
    old: Mapping[str, Any] | None = None
    new: Mapping[str, Any] | None = None

    @property
    def origin_region(self) -> str | None:
        for image in (self.new, self.old):
            for name in ORIGIN_ATTRIBUTES:
                value = (image or {}).get(name)
                if isinstance(value, str) and value:
                    return value
        return None


@dataclass(frozen=True)
class ReplicationPlan:
    """What a batch of changes asks of this region: environments whose stages to flush, and expiry seconds to
    schedule here (the origin region scheduled its own; this one has none for a key it never wrote)."""

    flush: tuple[tuple[str, str], ...] = ()
    expiries: tuple[tuple[str, str, int], ...] = ()
    # Environments where a key arrived: a refusal of it, cached before, may be cached again after the flush
    # from the authorizers' negative cache, so they are flushed once more when that has run out.
    arrivals: tuple[tuple[str, str], ...] = ()
    own_region: int = 0  # changes made in this region: its writer flushed them
    ignored: int = 0  # changes that take nothing away
    unknown_origin: int = 0  # flushed because their region could not be told
    environments: dict[tuple[str, str], int] = field(default_factory=dict)


def environment_of(pk: str) -> tuple[str, str] | None:
    """(project, environment) of a partition key `PROJECT#<project>#ENV#<environment>`, else None."""
    if not pk.startswith(_PARTITION_PREFIX) or _ENV_INFIX not in pk:
        return None
    project, _, environment = pk[len(_PARTITION_PREFIX) :].partition(_ENV_INFIX)
    return (project, environment) if project and environment else None


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    return {name for name in set(old) | set(new) if old.get(name) != new.get(name)}


def takes_right_away(change: ItemChange) -> bool:
    """Whether gateway caches must be flushed for the change: it may turn an Allow cached before it into a
    refusal (a key, role, trust policy or the environment's declaration removed or changed beyond bookkeeping,
    a mass revocation started), or a refusal cached before a key arrived into an Allow (a key inserted)."""
    sk = str(change.keys.get("sk", ""))
    if sk.startswith("KEY#") and _USE_ITEM in sk:
        return False
    if sk == "ENV" or sk.startswith(_DECIDING_PREFIXES):
        if change.event == "REMOVE":
            return not sk.startswith(_MASS_REVOCATION)  # a finished mass revocation gives nothing back early
        if change.event == "INSERT":
            # A key arriving here may have been presented before it did: the refusal a gateway cached then
            # would hide it for up to ReauthorizeEvery. Flushed, it works here within seconds of its creation.
            return sk.startswith((_MASS_REVOCATION, "KEY#"))
        if change.event == "MODIFY":
            changed = _changed(change.old or {}, change.new or {})
            return bool(changed - BOOKKEEPING_ATTRIBUTES - REPLICATION_ATTRIBUTES)
    return False


def _expiry(change: ItemChange, now: float) -> int | None:
    """A replicated key's expiry second this region must schedule: new or moved, and still ahead."""
    if not str(change.keys.get("sk", "")).startswith("KEY#") or change.event == "REMOVE" or change.new is None:
        return None
    expires = change.new.get("expires_epoch")
    if expires is None or (change.old or {}).get("expires_epoch") == expires:
        return None
    second = int(expires)
    return second if second > now else None


def plan_replicated(changes: Iterable[ItemChange], own_region: str, now: float) -> ReplicationPlan:
    """The flushes and schedules a batch of changes calls for in `own_region`, each environment once."""
    environments: dict[tuple[str, str], int] = {}
    expiries: set[tuple[str, str, int]] = set()
    arrivals: set[tuple[str, str]] = set()
    own = ignored = unknown = 0
    for change in changes:
        place = environment_of(str(change.keys.get("pk", "")))
        origin = change.origin_region
        if origin == own_region:
            own += 1
            continue
        if place is None:
            ignored += 1
            continue
        second = _expiry(change, now)
        if second is not None:
            expiries.add((*place, second))
        if not takes_right_away(change):
            ignored += 1
            continue
        unknown += origin is None
        environments[place] = environments.get(place, 0) + 1
        if change.event == "INSERT" and _is_key_record(str(change.keys.get("sk", ""))):
            arrivals.add(place)
    return ReplicationPlan(
        flush=tuple(sorted(environments)),
        expiries=tuple(sorted(expiries)),
        arrivals=tuple(sorted(arrivals)),
        own_region=own,
        ignored=ignored,
        unknown_origin=unknown,
        environments=environments,
    )
