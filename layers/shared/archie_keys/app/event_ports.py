"""Where key events go, as the use cases see it (app.ports holds the key changes'): the webhooks registered
for an environment and their deliveries' records, the URLs they are sent to, the delivery queue, and the
claims that send a quota notice once a period. Protocols with only the calls the use cases make; aws/
implements them structurally (aws.webhook_store, aws.webhook_http, aws.key_event_channels,
aws.quota_notices), and edge.composition hands them over where mypy checks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from archie_keys.app.ports import Write
from archie_keys.domain.webhook_retries import Outcome


class WebhookStore(Protocol):
    """Webhooks (one record each, changed in a transaction: `webhook` labels the write) and the records of
    their deliveries."""

    def get(self, project: str, environment: str, name: str) -> dict[str, Any] | None: ...
    def of_environment(self, project: str, environment: str) -> list[dict[str, Any]]: ...
    def put_write(self, item: dict[str, Any], previous: dict[str, Any] | None) -> Write: ...
    def delete_write(self, project: str, environment: str, name: str) -> Write: ...
    def disable(self, project: str, environment: str, name: str, at: str) -> None: ...
    def deliveries(
        self, project: str, environment: str, name: str, limit: int, start: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]: ...
    def update_delivery(
        self,
        project: str,
        environment: str,
        name: str,
        delivery_id: str,
        values: Mapping[str, Any],
        remove: Sequence[str] = (),
    ) -> None: ...


class WebhookTargets(Protocol):
    """Checks a URL a caller registers (normalised, or ValidationFailedError on `url`) and sends attempts."""

    def check(self, url: str) -> str: ...
    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Outcome: ...


class KeyEventQueue(Protocol):
    """The webhook delivery queue: one JSON message per delivery, a failed attempt postponed."""

    def send(self, messages: Sequence[dict[str, Any]]) -> None: ...
    def postpone(self, receipt_handle: str, seconds: float) -> None: ...


class QuotaNotices(Protocol):
    """One claim per rotation chain, quota and period: the one caller that claims it sends the notice."""

    def claim(
        self, project: str, environment: str, lineage_id: str, period: str, limit: int, start: int, end: int
    ) -> bool: ...
    def release(self, project: str, environment: str, lineage_id: str, period: str, limit: int, start: int) -> None: ...
