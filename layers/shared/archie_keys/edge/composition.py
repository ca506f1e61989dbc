"""The composition root: builds the process's collaborators once, lazily, and forgets them in one place.

Nothing runs at import time, so every handler imports cheaply; each collaborator (and its boto3 client) is
created on first use, so a Lambda function pays only for what it touches: the authorizer builds the verifier
and nothing else. Tests and the local stack call `reset()` to follow a new environment. It is longer than
300 lines because it is the one place that knows how every collaborator is built.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from archie_keys.app.services import AppConfig, HasherProvider, NoAudit
from archie_keys.app.verification import KeyVerifier, VerifierConfig
from archie_keys.domain.authorization_witness import WitnessBounds
from archie_keys.domain.clock import now_epoch
from archie_keys.domain.hashing import KeyHasher
from archie_keys.edge.settings import Settings, load_settings

if TYPE_CHECKING:
    from archie_keys.app.authorization_witness import AuthorizationWitness
    from archie_keys.app.compaction import AuditCompactor
    from archie_keys.app.ingest import AuditIngest
    from archie_keys.app.key_tags import TagKeyProvider, TagKeys
    from archie_keys.app.oidc_verifier import OidcVerifier
    from archie_keys.app.person_signin import PersonSignIn
    from archie_keys.app.ports import Clock, EventRecorder
    from archie_keys.app.quota_events import QuotaNotices
    from archie_keys.aws.audit_reader import AuditReader
    from archie_keys.aws.audit_writer import AuditWriter
    from archie_keys.aws.cache_flush import CacheFlusher
    from archie_keys.aws.dynamo import Transactions
    from archie_keys.aws.environment_rate import EnvironmentRateLimiter
    from archie_keys.aws.flush_coordination import FlushCoordinator
    from archie_keys.aws.idempotency import IdempotencyStore
    from archie_keys.aws.ingest_watermarks import IngestWatermarks
    from archie_keys.aws.invoker import AsyncInvoker
    from archie_keys.aws.key_event_channels import DeliveryQueue, KeyEventBus
    from archie_keys.aws.key_store import KeyStore
    from archie_keys.aws.metrics import DecisionMetrics, MetricLines
    from archie_keys.aws.protected_api_registry import ProtectedApiRegistry
    from archie_keys.aws.quota_notices import QuotaNoticeClaims
    from archie_keys.aws.regional_audit import RegionalAudit
    from archie_keys.aws.revocation_store import RevocationStore
    from archie_keys.aws.schedules import ExpirySchedules
    from archie_keys.aws.secrets import SecretDelivery
    from archie_keys.aws.trust_store import TrustStore
    from archie_keys.aws.usage_plans import UsagePlanLimits
    from archie_keys.aws.webhook_http import WebhookSender
    from archie_keys.aws.webhook_store import WebhookStore
    from archie_keys.domain.flush_targets import FlushTarget
    from archie_keys.domain.paging import PagingTokens


class AwsServices:
    """`app.services.Services` on AWS (or moto): every attribute is built on first access."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        from archie_keys.aws.clients import new_client

        return new_client(service, self.settings.aws_client_profile)

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

    @property
    def clock(self) -> Clock:
        return now_epoch

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

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
    def audit(self) -> EventRecorder:
        if not self.settings.audit_table:
            return NoAudit()
        return self.audit_writer

    @cached_property
    def audit_writer(self) -> AuditWriter:
        from archie_keys.aws.audit_writer import AuditWriter

        return AuditWriter(self.settings.audit_table, self.dynamodb, self.settings.audit_retention_days)

    @cached_property
    def audit_reader(self) -> AuditReader:
        from archie_keys.aws.audit_reader import AuditReader

        return AuditReader(self.settings.audit_table, self.dynamodb)

    @cached_property
    def regional_audit(self) -> RegionalAudit:
        from archie_keys.aws.regional_audit import RegionalAudit

        return RegionalAudit.of_stack(self.settings, self.audit_reader)

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
    def ingest_watermarks(self) -> IngestWatermarks:
        from archie_keys.aws.ingest_watermarks import IngestWatermarks

        return IngestWatermarks(self.settings.audit_table, self.dynamodb)

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
    def protected_apis(self) -> ProtectedApiRegistry:
        from archie_keys.aws.protected_api_registry import ProtectedApiRegistry

        return ProtectedApiRegistry(self._client("ssm"), self.settings.protected_apis_path)

    def flush_targets(self) -> tuple[FlushTarget, ...]:
        """FLUSH_TARGETS when set (local runs, tests), else the registry of protected APIs (as deployed:
        read with one call, cached for 30 s)."""
        if self.settings.flush_targets or not self.settings.protected_apis_path:
            return self.settings.flush_targets
        return self.protected_apis()

    def protected_stages(self) -> list[tuple[str, str]]:
        """The registered stages of protected APIs (not the management API, which serves every environment
        and requires no API key): the stages every usage plan covers."""
        return [
            (target.rest_api_id, target.stage)
            for target in self.flush_targets()
            if not target.problem and target.project != "*"
        ]

    @cached_property
    def usage_plans(self) -> UsagePlanLimits:
        from archie_keys.aws.usage_plans import UsagePlanLimits

        return UsagePlanLimits(self._client("apigateway"), self.settings.stack_name, self.protected_stages)

    @cached_property
    def metrics(self) -> MetricLines:
        from archie_keys.aws.metrics import MetricLines

        return MetricLines(self.settings.metrics_namespace, self.settings.stack_name)

    @cached_property
    def decisions(self) -> DecisionMetrics:
        from archie_keys.aws.metrics import DecisionMetrics

        return DecisionMetrics(self.metrics)

    @cached_property
    def flusher(self) -> CacheFlusher:
        from archie_keys.aws.cache_flush import CacheFlusher

        return CacheFlusher(
            self._client("apigateway"),
            self.flush_targets,
            self.settings.authorizer_cache_ttl_seconds,
            on_unflushed=self.metrics.unflushed_stage,
            coordinator=self.flush_coordinator,
        )

    @cached_property
    def flush_coordinator(self) -> FlushCoordinator | None:
        if not self.settings.coordination_table:
            return None
        from archie_keys.aws.flush_coordination import FlushCoordinator

        return FlushCoordinator(self.settings.coordination_table, self.dynamodb, self.settings.flush_interval_seconds)

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

    @cached_property
    def secretsmanager(self) -> Any:
        return self._client("secretsmanager")

    @cached_property
    def decision_clients(self) -> tuple[Any, Any]:
        """DynamoDB and Secrets Manager clients for deciding on a key (the authorizer, /verify, leak reports):
        every protected API waits on them, so they give up within about two seconds, whatever process."""
        from archie_keys.aws.clients import new_client

        return new_client("dynamodb", "decision"), new_client("secretsmanager", "decision")

    def secret_scanning_public_keys(self) -> dict[str, str]:
        """GitHub's secret scanning keys: from SECRET_SCANNING_PUBLIC_KEYS, or the SSM parameter (cached 5 min)."""
        from archie_keys.edge.github_signatures import parse_public_keys

        if self.settings.secret_scanning_public_keys or not self.settings.secret_scanning_public_keys_parameter:
            return parse_public_keys(self.settings.secret_scanning_public_keys)
        from aws_lambda_powertools.utilities import parameters

        raw = parameters.get_parameter(self.settings.secret_scanning_public_keys_parameter, max_age=300)
        return parse_public_keys(str(raw))

    def fetch_pepper(self, version: str | None) -> tuple[bytes, str]:
        """One version of the pepper from Secrets Manager (the current one for None) and its version id. The
        HasherProvider caches what it reads (the current version for PEPPER_MAX_AGE_SECONDS)."""
        request = {"SecretId": self.settings.pepper_secret_id}
        request.update({"VersionId": version} if version else {"VersionStage": "AWSCURRENT"})
        secret = self.decision_clients[1].get_secret_value(**request)
        value = secret.get("SecretBinary") or str(secret["SecretString"]).encode("utf-8")
        return value, str(secret["VersionId"])

    @cached_property
    def hasher_provider(self) -> HasherProvider:
        return HasherProvider(
            self.fetch_pepper,
            self.settings.argon2,
            self.settings.pepper_max_age_seconds,
            on_stale=self.metrics.pepper_stale,
        )

    def hasher(self) -> KeyHasher:
        return self.hasher_provider()

    def fetch_tag_keys(self) -> str:
        """The key tag secret's JSON (app.key_tags), read with the decision path's client."""
        secret = self.decision_clients[1].get_secret_value(SecretId=self.settings.key_tag_secret_id)
        return str(secret["SecretString"])

    @cached_property
    def tag_key_provider(self) -> TagKeyProvider:
        from archie_keys.app.key_tags import TagKeyProvider

        return TagKeyProvider(
            self.fetch_tag_keys, self.settings.pepper_max_age_seconds, on_stale=self.metrics.pepper_stale
        )

    def key_tags(self) -> TagKeys:
        return self.tag_key_provider()

    def hasher_for(self, pepper_version: str | None) -> KeyHasher:
        return self.hasher_provider.for_version(pepper_version)

    def paging_tokens(self) -> PagingTokens:
        """Paging tokens are authenticated with a subkey of the pepper (so they follow its rotation)."""
        from archie_keys.domain.paging import PagingTokens

        return PagingTokens(self.hasher().derive(b"paging-tokens"))

    @cached_property
    def witness(self) -> AuthorizationWitness:
        """The authorizer's record of the keys it authorizes, written on the decision path's client."""
        from archie_keys.app.authorization_witness import AuthorizationWitness

        return AuthorizationWitness(self.verifier.store, self.settings.authorizer_witness_seconds)

    @cached_property
    def verifier(self) -> KeyVerifier:
        """One verifier per process, so its caches survive between invocations of a warm instance."""
        config = VerifierConfig(
            cache_ttl_seconds=self.settings.authorizer_cache_ttl_seconds,
            negative_cache_ttl_seconds=self.settings.authorizer_negative_cache_ttl_seconds,
            proof_ttl_seconds=self.settings.authorizer_proof_ttl_seconds,
        )
        from archie_keys.aws.key_store import KeyStore

        store = KeyStore(self.settings.keys_table, self.decision_clients[0], self.settings.aws_region)
        return KeyVerifier(store, self.hasher_provider, config, tag_keys=self.key_tags)


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
