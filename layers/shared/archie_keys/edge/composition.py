"""The composition root: builds the process's collaborators once, lazily, and forgets them in one place.

Nothing runs at import time, so every handler imports cheaply; each collaborator (and its boto3 client) is
created on first use, so a Lambda function pays only for what it touches: the authorizer builds the verifier
and nothing else. Tests and the local stack call `reset()` to follow a new environment.

`AwsServices` is assembled from one class per concern: the settings and shared clients (edge.wiring), the
decision path (edge.decision_wiring), the authorizer caches and usage plans (edge.flush_wiring); this module
adds the stores and the use cases' other collaborators, and holds the one instance of the process.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from archie_keys.app.services import AppConfig
from archie_keys.domain.authorization_witness import WitnessBounds
from archie_keys.domain.clock import now_epoch
from archie_keys.edge.audit_wiring import AuditWiring
from archie_keys.edge.decision_wiring import DecisionWiring
from archie_keys.edge.flush_wiring import FlushWiring
from archie_keys.edge.settings import Settings, load_settings

if TYPE_CHECKING:
    from archie_keys.app.compaction import AuditCompactor
    from archie_keys.app.ingest import AuditIngest
    from archie_keys.app.oidc_verifier import OidcVerifier
    from archie_keys.app.person_signin import PersonSignIn
    from archie_keys.app.ports import Clock
    from archie_keys.app.quota_events import QuotaNotices
    from archie_keys.aws.dynamo import Transactions
    from archie_keys.aws.environment_rate import EnvironmentRateLimiter
    from archie_keys.aws.idempotency import IdempotencyStore
    from archie_keys.aws.invoker import AsyncInvoker
    from archie_keys.aws.key_event_channels import DeliveryQueue, KeyEventBus
    from archie_keys.aws.key_store import KeyStore
    from archie_keys.aws.quota_notices import QuotaNoticeClaims
    from archie_keys.aws.revocation_store import RevocationStore
    from archie_keys.aws.schedules import ExpirySchedules
    from archie_keys.aws.secrets import SecretDelivery
    from archie_keys.aws.trust_store import TrustStore
    from archie_keys.aws.webhook_http import WebhookSender
    from archie_keys.aws.webhook_store import WebhookStore


class AwsServices(DecisionWiring, FlushWiring, AuditWiring):
    """`app.services.Services` on AWS (or moto): every attribute is built on first access."""

    @property
    def clock(self) -> Clock:
        return now_epoch

    @cached_property
    def config(self) -> AppConfig:
        return AppConfig(
            key_min_lifetime_seconds=self.settings.key_min_lifetime_seconds,
            secret_name_prefix=self.settings.secret_name_prefix,
            revocation_worker_function=self.settings.revocation_worker_function,
            revocation_settle_seconds=self.settings.revocation_settle_seconds,
            revocation_stale_seconds=self.settings.revocation_stale_seconds,
            expiry_flush_function=self.settings.expiry_flush_function_arn,
            oidc_allow_loopback_http=bool(self.settings.oidc_allow_loopback_http),
            sign_in_client_id=self.settings.sign_in_client_id,
            witness=WitnessBounds(
                result_ttl_seconds=self.settings.authorizer_result_ttl_seconds,
                coalesce_seconds=self.settings.authorizer_witness_seconds,
                answer_seconds=self.settings.authorizer_answer_seconds,
                in_force_since=since if (since := self.settings.authorizer_witness_since) >= 0 else None,
            ),
        )

    @cached_property
    def store(self) -> KeyStore:
        from archie_keys.aws.key_store import KeyStore

        return KeyStore(self.settings.keys_table, self.dynamodb, self.settings.aws_region)

    @cached_property
    def trust(self) -> TrustStore:
        from archie_keys.aws.trust_store import TrustStore

        return TrustStore(self.settings.keys_table, self.dynamodb)

    @cached_property
    def environment_rate(self) -> EnvironmentRateLimiter | None:
        """Per-environment limits on the federation routes; none without a coordination table (bootstrap)."""
        if not self.settings.coordination_table:
            return None
        from archie_keys.aws.environment_rate import EnvironmentRateLimiter

        return EnvironmentRateLimiter(self.settings.coordination_table, self.dynamodb)

    @cached_property
    def quota_notices(self) -> QuotaNoticeClaims | None:
        if not self.settings.coordination_table:
            return None
        from archie_keys.aws.quota_notices import QuotaNoticeClaims

        return QuotaNoticeClaims(self.settings.coordination_table, self.dynamodb)

    @cached_property
    def quota_events(self) -> QuotaNotices:
        """key.quota_exhausted from the ingest's refused lines; one per process, so its memory of the keys it
        settled lasts across a warm function's batches."""
        from archie_keys.app.quota_events import QuotaNotices

        return QuotaNotices(self)

    @cached_property
    def oidc_verifier(self) -> OidcVerifier:
        """One per process, so the issuers' keys it has fetched serve every invocation of a warm instance."""
        from archie_keys.app.issuer_keys import IssuerKeys
        from archie_keys.app.oidc_verifier import OidcVerifier
        from archie_keys.app.oidc_verifier import VerifierConfig as OidcVerifierConfig
        from archie_keys.aws.oidc_discovery import OidcDiscovery

        loopback = bool(self.settings.oidc_allow_loopback_http)
        keys = IssuerKeys(OidcDiscovery(allow_loopback_http=loopback))
        return OidcVerifier(keys, config=OidcVerifierConfig(allow_loopback_http=loopback))

    @cached_property
    def people(self) -> PersonSignIn:
        """People's sign-in tokens on the management API (the authorizer builds it for the first JWT only)."""
        from archie_keys.app.person_signin import PersonSignIn

        settings = self.settings
        return PersonSignIn(self, self.oidc_verifier, settings.sign_in_issuer, settings.sign_in_client_id)

    @cached_property
    def revocations(self) -> RevocationStore:
        from archie_keys.aws.revocation_store import RevocationStore

        return RevocationStore(
            self.settings.keys_table, self.dynamodb, self.settings.coordination_table, self.settings.aws_region
        )

    @cached_property
    def invoker(self) -> AsyncInvoker:
        from archie_keys.aws.invoker import AsyncInvoker

        return AsyncInvoker(self._client("lambda"))

    @cached_property
    def transactions(self) -> Transactions:
        from archie_keys.aws.dynamo import Transactions

        return Transactions(self.dynamodb)

    @cached_property
    def ingest(self) -> AuditIngest:
        from archie_keys.app.ingest import AuditIngest

        return AuditIngest(
            self.audit_writer,
            self.flusher.stage_environments,
            on_batch_lag=self.metrics.audit_lag,
            arrival_bucket_seconds=self.settings.audit_arrival_bucket_seconds,
            watermarks=self.ingest_watermarks,
            on_quota_exhausted=self.quota_events.notify,
        )

    @cached_property
    def compactor(self) -> AuditCompactor:
        from archie_keys.app.compaction import AuditCompactor
        from archie_keys.aws.clients import is_dependency_failure
        from archie_keys.aws.compaction_ledger import CompactionLedger

        return AuditCompactor(
            self.audit_writer,
            self.audit_reader,
            self.store,
            CompactionLedger(self.settings.audit_table, self.dynamodb),
            self.settings.audit_arrival_bucket_seconds,
            self.settings.audit_settle_seconds,
            on_behind=self.metrics.compaction_behind,
            on_skipped=self.metrics.bucket_skipped,
            is_unavailable=is_dependency_failure,
        )

    @cached_property
    def secrets(self) -> SecretDelivery:
        from archie_keys.aws.secrets import SecretDelivery

        return SecretDelivery(
            self.secretsmanager, self.settings.stack_name, on_unpromoted=self.metrics.secret_unpromoted
        )

    @cached_property
    def schedules(self) -> ExpirySchedules:
        from archie_keys.aws.schedules import ExpirySchedules, ScheduleTarget

        target = ScheduleTarget(
            self.settings.expiry_schedule_group,
            self.settings.expiry_schedule_role_arn,
            self.settings.expiry_flush_function_arn,
            self.settings.expiry_dead_letter_queue_arn,
        )
        return ExpirySchedules(self._client("scheduler"), target, self.invoker)

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        from archie_keys.aws.idempotency import IdempotencyStore

        return IdempotencyStore(self.settings.idempotency_table, self.dynamodb)

    @cached_property
    def webhooks(self) -> WebhookStore:
        from archie_keys.aws.dynamo_items import DynamoItems
        from archie_keys.aws.webhook_store import WebhookStore

        return WebhookStore(DynamoItems(self.dynamodb), self.settings.keys_table)

    @cached_property
    def webhook_targets(self) -> WebhookSender:
        from archie_keys.aws.webhook_http import WebhookSender

        return WebhookSender(local=bool(self.settings.webhook_local_targets))

    @cached_property
    def key_event_queue(self) -> DeliveryQueue | None:
        if not self.settings.webhook_queue_url:
            return None
        from archie_keys.aws.key_event_channels import DeliveryQueue

        return DeliveryQueue(self._client("sqs"), self.settings.webhook_queue_url)

    @cached_property
    def key_event_bus(self) -> KeyEventBus | None:
        if not self.settings.key_events_bus:
            return None
        from archie_keys.aws.key_event_channels import KeyEventBus

        return KeyEventBus(self._client("events"), self.settings.key_events_bus)


_services: AwsServices | None = None
_lock = threading.Lock()


def get_services() -> AwsServices:
    """The process's services, built on first use from the validated settings."""
    global _services
    services = _services
    if services is None:
        with _lock:
            if _services is None:
                _services = AwsServices(load_settings())
            services = _services
    return services


def get_settings() -> Settings:
    return get_services().settings


def reset() -> None:
    """Forget every collaborator and cached value (tests, and the local stack between runs)."""
    global _services
    from aws_lambda_powertools.utilities import parameters

    with _lock:
        _services = None
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
