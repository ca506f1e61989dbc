"""Which rotation chains have been told their quota is used up, this period (app.quota_events): one item per
chain, quota and period in the coordination table (regional, like the usage plans whose quotas it follows;
each item expires by TTL once its period has ended).

    pk = QUOTA#<project>#<environment>#<lineage id>, sk = <period>#<limit>#<period start, epoch seconds>

The quota's limit is in the sort key because a change of limits moves the chain to another usage plan, whose
count starts afresh: using that one up is news again. A claim is one conditional PutItem: of every ingest
that sees the chain refused in the period, exactly one wins it and sends `key.quota_exhausted`.
"""

from __future__ import annotations

from typing import Any

from archie_keys.aws.dynamo import conditional_write, to_item

# How long a claim outlives its period: an ingest batch is processed hours late at most
# (MaximumEventAgeInSeconds: 6 h), and app.quota_events sends nothing for a period that has ended anyway.
_KEEP_SECONDS = 3600


class QuotaNoticeClaims:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    @staticmethod
    def _key(project: str, environment: str, lineage_id: str, period: str, limit: int, start: int) -> dict[str, Any]:
        return {"pk": f"QUOTA#{project}#{environment}#{lineage_id}", "sk": f"{period}#{limit}#{start}"}

    def claim(
        self, project: str, environment: str, lineage_id: str, period: str, limit: int, start: int, end: int
    ) -> bool:
        """True for the one caller that claims the chain's notice for the period starting at `start`; False
        when it was claimed already. A DynamoDB failure raises."""
        item = {**self._key(project, environment, lineage_id, period, limit, start), "expires": end + _KEEP_SECONDS}
        return conditional_write(
            self.client.put_item,
            TableName=self.table,
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def release(self, project: str, environment: str, lineage_id: str, period: str, limit: int, start: int) -> None:
        """Give a claim back (its notice could not be sent), so the next refusal of the period sends it."""
        self.client.delete_item(
            TableName=self.table, Key=to_item(self._key(project, environment, lineage_id, period, limit, start))
        )
