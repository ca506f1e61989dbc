"""Coalesced cache flushes: at most one FlushStageAuthorizersCache per stage in each second (each interval of
the clock), across every instance of every function, however many changes ask; each change still gets a flush
that started after it was committed, within about one interval.

API Gateway allows about 10 flushes a second per account, shared with every other team's deploys, so a burst
of revocations, expiries or role edits must not call it once each. One small item per stage in the stack's
CoordinationTable (regional, never the keys table) coordinates them:

    pk = FLUSH#<rest_api_id>/<stage>, sk = STAGE
    requested     how many tickets were issued: a change takes one (ADD 1) after its commit
    claimed       the `requested` count the latest flush claim covered, claimed_slot the second it was made in
    flushed       the highest `claimed` count of a flush that completed
    expires       TTL: a stage not flushed for a day leaves no item behind

A change holding ticket R is served once `flushed >= R`. A claim copies `requested` as it stands when the
claim is applied, and DynamoDB applies the updates of one item one after another, so a claim covering R was
made after ticket R was issued, hence after the change's commit: the flush it starts comes after the commit,
whatever the clocks say. Clocks only ration the claims: one per stage in each second (claimed_slot, the
second of the clock; whole seconds, so flushes that must follow expiries on whole seconds, or a revocation's
two flushes a second apart, each get theirs at the start of their second instead of drifting later). A change
whose ticket the last claim missed waits for the next second. A claimant that dies frees the stage at the next
second; a flush that fails is claimed again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archie_keys.aws.dynamo import aws_error_code, conditional_write, from_item, to_item

# Flush attempts per change before its stage counts as not flushed (each attempt is a claim of its own, so a
# failing stage is still called at most once an interval).
from archie_keys.aws.flush_retry import FLUSH_ATTEMPTS

logger = logging.getLogger("archie_keys.flush_coordination")

# API Gateway's control plane takes about 10 FlushStageAuthorizersCache calls a second per account; one per
# stage in each second leaves room for other stages and other teams.
FLUSH_INTERVAL_SECONDS = 1.0
# How often a change waiting on another instance's flush of the same stage looks again.
POLL_SECONDS = 0.05
# A stage item lives a day after its last use.
ITEM_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class _State:
    """What the stage's item said when a claim was refused."""

    claimed: int
    claimed_slot: int
    flushed: int


class FlushCoordinator:
    """Runs `flush` for a stage once the stage's item says it may, or not at all when another instance's flush,
    started after this change's ticket, has completed meanwhile."""

    def __init__(
        self,
        table: str,
        client: Any,
        interval_seconds: float = FLUSH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = table
        self.client = client
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.sleep = sleep

    def _key(self, stage: str) -> dict[str, Any]:
        return to_item({"pk": f"FLUSH#{stage}", "sk": "STAGE"})

    def _slot(self, at: float) -> int:
        """Which interval of the clock `at` falls in: one claim per stage in each."""
        return math.floor(at / self.interval_seconds)

    def ticket(self, stage: str) -> int:
        """A ticket for a change committed before this call: the flush that serves it is claimed after."""
        response = self.client.update_item(
            TableName=self.table,
            Key=self._key(stage),
            UpdateExpression="ADD requested :one SET expires = :expires",
            ExpressionAttributeValues=to_item({":one": 1, ":expires": int(self.clock()) + ITEM_TTL_SECONDS}),
            ReturnValues="UPDATED_NEW",
        )
        return int(from_item(response["Attributes"])["requested"])

    def _claim(self, stage: str, ticket: int) -> int | _State:
        """The `requested` count this claim covers, or the item's state when the claim is refused (another
        claim within the interval, or a completed flush covering the ticket already)."""
        slot = self._slot(self.clock())
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=self._key(stage),
                UpdateExpression="SET claimed = requested, claimed_slot = :slot",
                ConditionExpression="(attribute_not_exists(claimed_slot) OR claimed_slot < :slot) "
                "AND (attribute_not_exists(flushed) OR flushed < :ticket)",
                ExpressionAttributeValues=to_item({":slot": slot, ":ticket": ticket}),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise
            item = from_item(getattr(error, "response", {}).get("Item") or {})
            if not item:  # an older DynamoDB (or emulator) that does not return the item: read it
                read = self.client.get_item(TableName=self.table, Key=self._key(stage), ConsistentRead=True)
                item = from_item(read.get("Item") or {})
            return _State(int(item.get("claimed", 0)), int(item.get("claimed_slot", 0)), int(item.get("flushed", 0)))
        return int(from_item(response["Attributes"])["claimed"])

    def _completed(self, stage: str, covered: int) -> None:
        # Refused: a later flush already recorded more; nothing to do.
        conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(stage),
            UpdateExpression="SET flushed = :covered",
            ConditionExpression="attribute_not_exists(flushed) OR flushed < :covered",
            ExpressionAttributeValues=to_item({":covered": covered}),
        )

    def flush_after_commit(self, stage: str, flush: Callable[[], bool]) -> bool:
        """Whether a flush of `stage` that started after this call's ticket completed: this instance's own
        (`flush`, called at most FLUSH_ATTEMPTS times, once per claim) or another's. Raises only when the
        coordination table itself fails (the caller then flushes without it)."""
        ticket = self.ticket(stage)
        failures = 0
        # Enough for the attempts, each an interval after the last, and a claimant that died on the way.
        deadline = self.clock() + self.interval_seconds * (FLUSH_ATTEMPTS + 2)
        while True:
            claim = self._claim(stage, ticket)
            if isinstance(claim, int):
                if flush():
                    self._completed(stage, claim)
                    return True
                failures += 1
                if failures >= FLUSH_ATTEMPTS:
                    return False
                continue  # the next claim is an interval later
            if claim.flushed >= ticket:
                return True
            now = self.clock()
            if now > deadline:
                logger.warning("no flush of %s served this change in time", stage)
                return False
            if claim.claimed >= ticket:
                # Another instance claimed a flush covering this change: wait for it to complete.
                self.sleep(POLL_SECONDS)
            else:
                # The last claim came before this change's ticket: the next may be made in the next interval.
                self.sleep(max(0.001, (claim.claimed_slot + 1) * self.interval_seconds - now))
