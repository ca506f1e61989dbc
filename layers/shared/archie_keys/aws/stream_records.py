"""The keys table's DynamoDB stream records (as Lambda's event source mapping delivers them, NEW_AND_OLD_IMAGES)
read as domain.replication.ItemChange, so the use case that plans the flushes (app.replicated_changes) never
sees DynamoDB's typed attribute values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archie_keys.aws.dynamo_types import from_item
from archie_keys.domain.replication import ItemChange


def item_change(record: Mapping[str, Any]) -> ItemChange:
    """One stream record as an ItemChange (an image the record lacks is None)."""
    data = record.get("dynamodb") or {}
    old, new = data.get("OldImage"), data.get("NewImage")
    return ItemChange(
        event=str(record.get("eventName", "")),
        keys=from_item(data.get("Keys") or {}),
        old=from_item(old) if old else None,
        new=from_item(new) if new else None,
    )
