"""Data access for webhooks and their deliveries: items of the environment's partition of the keys table.

    pk = PROJECT#<project>#ENV#<environment>
    sk = WEBHOOK#<name>                  a webhook: url, events, its signing secret sealed (never in clear)
         WHDLV#<name>#<delivery id>      a delivery's last attempt; while it is a dead letter, also its URL and
                                         body (what a redrive sends again); expires by TTL (purge_epoch)

Delivery ids sort by the time the event was queued, so a reverse Query lists a webhook's newest deliveries
first. app.webhook_records writes them (the DeliveryLog of app.webhook_delivery) after each attempt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archie_keys.aws.items import Changes, Delete, Items, Put, Update, absent, eq, exists, prefix
from archie_keys.aws.key_store import partition

WEBHOOK_SK = "WEBHOOK#"
DELIVERY_SK = "WHDLV#"
# A dead-letter listing reads at most this many pages of a webhook's deliveries (its 30 days of records).
_DEAD_LETTER_PAGES = 20


class WebhookStore:
    def __init__(self, items: Items, table: str) -> None:
        self.items, self.table = items, table

    def _key(self, project: str, environment: str, sk: str) -> dict[str, Any]:
        return {"pk": partition(project, environment), "sk": sk}

    # --- webhooks -------------------------------------------------------------------------------------------

    def get(self, project: str, environment: str, name: str) -> dict[str, Any] | None:
        return self.items.get(self.table, self._key(project, environment, WEBHOOK_SK + name))

    def of_environment(self, project: str, environment: str) -> list[dict[str, Any]]:
        """Every webhook of the environment, by name (there are at most WEBHOOKS_PER_ENVIRONMENT_MAX)."""
        found: list[dict[str, Any]] = []
        start = None
        while True:
            page = self.items.query(
                self.table,
                ("pk", partition(project, environment)),
                sort=prefix("sk", WEBHOOK_SK),
                start=start,
                consistent=True,
            )
            found.extend(page.items)
            if page.last_key is None:
                return found
            start = page.last_key

    def put_write(self, item: dict[str, Any], previous: dict[str, Any] | None) -> Put:
        """Create a webhook (refused, label `webhook`, when one appeared meanwhile) or replace `previous`
        (refused when it changed meanwhile)."""
        key = self._key(item["project"], item["environment"], WEBHOOK_SK + item["name"])
        condition = absent("pk") if previous is None else eq("updated_at", previous["updated_at"])
        return Put(self.table, {**key, "kind": "webhook", **item}, condition=condition, label="webhook")

    def delete_write(self, project: str, environment: str, name: str) -> Delete:
        key = self._key(project, environment, WEBHOOK_SK + name)
        return Delete(self.table, key, condition=exists("pk"), label="webhook")

    def disable(self, project: str, environment: str, name: str, at: str) -> None:
        """The receiver answered 410 Gone: no more deliveries until the webhook is registered again."""
        key = self._key(project, environment, WEBHOOK_SK + name)
        self.items.write(Update(self.table, key, Changes(set={"disabled_at": at}), condition=exists("pk")))

    # --- deliveries -----------------------------------------------------------------------------------------

    def deliveries(
        self, project: str, environment: str, name: str, limit: int, start: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """A page of the webhook's deliveries, newest first, and where the next page starts."""
        page = self.items.query(
            self.table,
            ("pk", partition(project, environment)),
            sort=prefix("sk", f"{DELIVERY_SK}{name}#"),
            forward=False,
            limit=limit,
            start=start,
            consistent=True,
        )
        return page.items, page.last_key

    def update_delivery(
        self,
        project: str,
        environment: str,
        name: str,
        delivery_id: str,
        values: Mapping[str, Any],
        remove: Sequence[str] = (),
    ) -> None:
        """Create or change a delivery's record: set `values` (None values are left out) and remove `remove`."""
        key = self._key(project, environment, f"{DELIVERY_SK}{name}#{delivery_id}")
        self.items.write(Update(self.table, key, Changes(set=values, remove=tuple(remove))))
