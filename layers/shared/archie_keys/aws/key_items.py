"""A key's items, and the one record read from them (docs/regions-consistency.md).

    sk = KEY#<key_id>                 the key: name, roles, context, limits, expiry set by PATCH, and copies
                                      (hints) of the state below for the listings' filters
         KEY#<key_id>#HASH            its argon2 hash, hash parameters and pepper version (a rehash writes here)
         KEY#<key_id>#REVOKED         its revocation: put once (attribute_not_exists), never rewritten
         KEY#<key_id>#ROLLED          its roll: successor, who, and the grace's end (an expiry cap); put once
         KEY#<key_id>#STATE           disabled or enabled, and when: written only by a change of `enabled`
         KEY#<key_id>#USED#<region>   its latest accepted request as that region's compactor counted it

In a global table each item is resolved last-writer-wins and a condition holds in the writing region only.
So a rename, a rehash, a compactor's touch or a PATCH in one region, racing a revocation, a roll or a
disable in another, rewrites an item that does not decide the key's validity: the deciding items are each
written by the change they record, and merged here. Key ids are 12 base62 characters, so one key's items
sort together (`#` sorts before every id character) and one Query (`begins_with(sk, "KEY#<id>")`) reads them.

Keys written before this layout keep everything on the key item (no `layout`): what it says still decides,
together with any item written since.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from archie_keys.domain.clock import to_iso
from archie_keys.domain.key_record import KeyRecord, key_record

# The attribute naming an item's part of a key; the key item has none (so filters keep to key items).
PART = "part"
HASH, REVOKED, ROLLED, STATE, USED = "HASH", "REVOKED", "ROLLED", "STATE", "USED"
# The key item's `layout` from which its deciding state lives on items of its own.
LAYOUT = 2
# What the hash item holds, and what the revocation and roll items give the record.
HASH_FIELDS = ("hash", "hash_params", "pepper_version")
_ROLL_FIELDS = ("rolled_to", "rolled_at", "rolled_by")


def key_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


def part_sk(key_id: str, part: str, region: str | None = None) -> str:
    return f"KEY#{key_id}#{part}" + (f"#{region}" if region is not None else "")


def _parts(key_id: str, items: Iterable[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The key item and its parts by sort-key suffix (a longer id that shares the prefix is not this key's)."""
    own, head = key_sk(key_id), key_sk(key_id) + "#"
    main: dict[str, Any] | None = None
    parts: dict[str, dict[str, Any]] = {}
    for item in items:
        sk = str(item.get("sk", ""))
        if sk == own:
            main = item
        elif sk.startswith(head):
            parts[sk[len(head) :]] = item
    return main, parts


def _earliest(*epochs: Any) -> float | None:
    known = [float(epoch) for epoch in epochs if epoch is not None]
    return min(known) if known else None


def merge_key_items(key_id: str, items: Iterable[dict[str, Any]]) -> KeyRecord | None:
    """The key's record from its items, None when its key item is not there (never created, or purged):
    revoked when any item says so, rolled when its roll item or key item does, expiring at the earliest expiry
    any item sets, disabled as its latest change of `enabled` left it, last used at the latest any region
    counted. The one place a stored key becomes a KeyRecord (domain.key_record)."""
    main, parts = _parts(key_id, items)
    if main is None:
        return None
    record = {k: v for k, v in main.items() if k not in ("layout",)}
    stored_hash = parts.get(HASH, {})
    if "hash" in stored_hash:
        record.update({field: stored_hash[field] for field in HASH_FIELDS if field in stored_hash})
    revoked = parts.get(REVOKED)
    if revoked is not None:
        # The revocation's own item wins over the key item's copy, which a conflicting write may have lost.
        record.update({k: v for k, v in revoked.items() if k not in ("pk", "sk", PART, "kind", "written_in")})
    rolled = parts.get(ROLLED)
    if rolled is not None:
        record.update({field: rolled[field] for field in _ROLL_FIELDS if field in rolled})
        # A roll only shortens: a PATCH racing it in another region may have extended the key item's expiry.
        expires = _earliest(main.get("expires_epoch"), rolled.get("expires_epoch"))
        record["expires_epoch"] = expires
        record["expires_at"] = to_iso(float(expires)) if expires is not None else None
    state = parts.get(STATE)
    if state is not None:
        for field in ("disabled_at", "disabled_by"):
            record.pop(field, None)
            if state.get(field):
                record[field] = state[field]
    used = [str(item["last_used_at"]) for suffix, item in parts.items() if suffix.startswith(USED + "#")]
    latest = max([*used, str(main.get("last_used_at") or "")])
    if latest:
        record["last_used_at"] = latest
    return key_record(record)


def group_key_items(items: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Items of many keys (a listing's page) by key id."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        key_id = str(item.get("sk", "")).split("#")[1] if str(item.get("sk", "")).startswith("KEY#") else ""
        if key_id:
            grouped.setdefault(key_id, []).append(item)
    return grouped
