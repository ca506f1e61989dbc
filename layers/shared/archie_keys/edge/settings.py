"""Configuration from the environment, validated once per process on first use.

template.yaml sets these variables (Globals.Function.Environment); the local stack sets the same ones from
the same template. A missing or invalid value fails the first invocation loudly instead of half-working.

Plain dataclasses rather than pydantic: the authorizer imports this module, and pydantic would add ~40 ms
to its cold start for a dozen scalar fields (see `make bench`, authorizer_import_ms).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from archie_keys.aws.clients import PROFILES
from archie_keys.aws.flush_registrations import parse_flush_targets
from archie_keys.domain import limits
from archie_keys.domain.flush_targets import FlushTarget
from archie_keys.domain.hashing import Argon2Parameters
from archie_keys.domain.oidc_claims import issuer_url_problem
from archie_keys.domain.region_reads import parse_region_map


class ConfigurationError(RuntimeError):
    pass


def _bounded(
    default: Any = dataclasses.MISSING, low: float | None = None, high: float | None = None, min_length: int = 0
) -> Any:
    return field(default=default, metadata={"low": low, "high": high, "min_length": min_length})


@dataclass(frozen=True)
class Settings:
    keys_table: str = _bounded(min_length=3)
    idempotency_table: str = _bounded(min_length=3)
    pepper_secret_id: str = _bounded(min_length=1)
    # The keys of every key's tag (app.key_tags): needed to issue keys and to refuse forged ones for free.
    key_tag_secret_id: str = _bounded(min_length=1)
    audit_table: str = ""
    pepper_max_age_seconds: int = _bounded(300, 0, 3600)
    argon2_memory_kib: int = _bounded(19456, 8)
    argon2_time_cost: int = _bounded(2, 1)
    argon2_parallelism: int = _bounded(1, 1)
    # How long a warm authorizer instance trusts its own decision. It bounds how stale a revocation can be
    # at the function layer, so it is short; a refresh costs one GetItem, not another argon2 verify.
    authorizer_cache_ttl_seconds: float = _bounded(1.0, 0, 10)
    # How long a refused key is remembered, so a flood of the same bad key costs no DynamoDB reads.
    authorizer_negative_cache_ttl_seconds: float = _bounded(5.0, 0, 60)
    # How long a verified secret is remembered (the argon2 proof); the record itself is re-read every TTL.
    authorizer_proof_ttl_seconds: float = _bounded(300.0, 0, 3600)
    # Which API stages a revocation flushes: as deployed, the registry of protected APIs (one SSM parameter
    # per stage under PROTECTED_APIS_PATH); FLUSH_TARGETS, when set, replaces it (local runs and tests).
    flush_targets: tuple[FlushTarget, ...] = ()
    protected_apis_path: str = ""
    # Where flushes are coalesced across instances (aws.flush_coordination); empty: each change flushes alone.
    coordination_table: str = ""
    # At most one flush per stage this often (API Gateway takes about 10 a second per account).
    flush_interval_seconds: float = _bounded(1.0, 0.01, 10)
    # An expires_at closer than this is almost certainly a clock or unit mistake by the caller.
    key_min_lifetime_seconds: int = _bounded(60, 1, 3600)
    secret_name_prefix: str = "archie/keys/"
    # GitHub's secret scanning public keys: JSON {identifier: PEM} (locally), or the SSM parameter holding it.
    secret_scanning_public_keys: str = ""
    secret_scanning_public_keys_parameter: str = ""
    # Tags the secrets this stack creates (archie-keys:stack), so it writes only secrets it created.
    stack_name: str = _bounded("archie-keys", min_length=1)
    audit_retention_days: int = _bounded(90, 1, 3650)
    # Accepted requests reach a key's view through the compactor (app.compaction): the ingest lists what it
    # writes by arrival bucket, and a bucket is compacted once its end plus the settle time is past (the
    # settle time covers the arrival index's propagation). Shorter buckets: a key's view closer behind, and
    # more key blocks to pay for (`make cost`).
    audit_arrival_bucket_seconds: float = _bounded(60.0, 0.05, 600)
    audit_settle_seconds: float = _bounded(60.0, 0, 600)
    # Whose delivery attestations move the ingest watermark (domain.ingest_watermark): "local", the local
    # stack's log deliverer, which sets it. Deployed, none: CloudWatch Logs attests nothing, and an attestation
    # in a delivery is ignored, so nothing that can invoke the ingest can make a guarded delete pass.
    audit_trusted_deliverer: str = ""
    # The authorizer as witness (domain.authorization_witness). API Gateway's authorizer cache serves an answer
    # this long at most: the stack's AuthorizerResultTtl, which every protected API's stage must not exceed.
    authorizer_result_ttl_seconds: float = _bounded(300.0, 0, 3600)
    # An instance records a key's authorization at most once per this many seconds (one write per key per
    # interval per warm instance: `make cost`); a guarded delete's window widens by as much.
    authorizer_witness_seconds: float = _bounded(60.0, 0, 3600)
    # How long after recording an authorization its answer may still reach API Gateway's cache: the
    # authorizer's timeout (template.yaml, Globals.Function.Timeout; a test holds them together).
    authorizer_answer_seconds: float = _bounded(10.0, 0, 900)
    # From when (epoch seconds) every authorizer version in service records authorizations; negative: not
    # yet, and a guarded delete relies on the audit alone (on AWS: 503). The template's AuthorizerWitnessSince.
    authorizer_witness_since: float = _bounded(-1.0, -1)
    expiry_schedule_group: str = ""
    expiry_schedule_role_arn: str = ""
    expiry_flush_function_arn: str = ""
    # Where EventBridge Scheduler sends an expiry it could not deliver (after its retries).
    expiry_dead_letter_queue_arn: str = ""
    # The function that marks a mass revocation's keys in the background (app.revocation_worker).
    revocation_worker_function: str = ""
    # A mass revocation's last pass comes this long after it began (limits.REVOCATION_SETTLE_SECONDS: no key
    # created meanwhile can still be uncommitted); the tests, whose keys are written at once, shorten it.
    revocation_settle_seconds: float = _bounded(float(limits.REVOCATION_SETTLE_SECONDS), 0, 900)
    # A revocation whose worker gave no sign of life this long (longer than its final wait) is resumed.
    revocation_stale_seconds: float = _bounded(180.0, 1, 3600)
    # CloudWatch namespace of the EMF metrics (the template's alarms and dashboard read it); empty: none.
    metrics_namespace: str = "ArchieKeys"
    # Key events: the webhook delivery queue (SQS) and the events bus (EventBridge); empty: not sent there.
    webhook_queue_url: str = ""
    key_events_bus: str = ""
    # 1 on the local stack only: webhooks may then be http://127.0.0.1 (and nothing else that is not https).
    webhook_local_targets: int = _bounded(0, 0, 1)
    # 1: trust policies may name an issuer on http://127.0.0.1:<port> (the local stack's development issuer,
    # and the tests'); never set on AWS, where issuers are https with a DNS name.
    oidc_allow_loopback_http: int = _bounded(0, 0, 1)
    # The OIDC issuer people sign in with and the dashboard's client id there (template.yaml: SignInIssuer and
    # SignInClientId, or the stack's user pool). A person's bearer token is accepted only from this issuer and
    # for this audience, and a token for this audience is never exchanged for a key (docs/federation.md).
    # Both empty: nobody signs in with a token.
    sign_in_issuer: str = ""
    sign_in_client_id: str = ""
    # Timeouts and retry budget of every AWS client of this process (aws.clients.PROFILES).
    aws_client_profile: str = "request"
    # The region this process runs and writes in (Lambda sets AWS_REGION; AWS_DEFAULT_REGION stands in where
    # only it is set). Items written per region (a key's last use, a role's counter) carry its name, so two
    # regions never write the same one (docs/regions-consistency.md).
    aws_region: str = ""
    # Every region the stack runs in, comma-separated (empty: this one alone): whose audit and usage a key's
    # answers gather. It must include this region.
    archie_regions: str = ""
    # Another region's audit table, where it is not found from that region's stack (aws.regional_audit):
    # "<region>=<table>,...". Set by the local stack, whose tables are named by their logical id; empty on AWS.
    audit_tables: str = ""
    # Another region's endpoint, where it is not AWS's own: "<region>=<url>,..." (the local stack's second
    # region has a moto server of its own). Empty on AWS.
    region_endpoints: str = ""

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region of the stack, this one first."""
        others = [name.strip() for name in self.archie_regions.split(",") if name.strip()]
        return (self.aws_region, *(name for name in others if name != self.aws_region))

    @property
    def argon2(self) -> Argon2Parameters:
        return Argon2Parameters(self.argon2_memory_kib, self.argon2_time_cost, self.argon2_parallelism)


_CONVERTERS = {"str": str, "int": int, "float": float}


# The template's SignInClientId pattern (a Cognito app client id is 26 of these).
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}\Z")


def _sign_in_problems(values: Mapping[str, Any]) -> list[str]:
    """SIGN_IN_ISSUER and SIGN_IN_CLIENT_ID: both or neither; an issuer URL a trust policy could name; a client
    id as the template allows."""
    issuer, client_id = values.get("sign_in_issuer", ""), values.get("sign_in_client_id", "")
    if not issuer and not client_id:
        return []
    if not (issuer and client_id):
        return ["SIGN_IN_ISSUER and SIGN_IN_CLIENT_ID are set together or not at all"]
    problems = []
    loopback = bool(values.get("oidc_allow_loopback_http", 0))
    problem = issuer_url_problem(issuer, allow_loopback_http=loopback)
    if problem:
        problems.append(f"SIGN_IN_ISSUER: {problem}")
    if not _CLIENT_ID.match(client_id):
        problems.append("SIGN_IN_CLIENT_ID is 1-128 letters, digits and _.:-")
    return problems


# An AWS region's name (us-east-1, ap-southeast-2, us-gov-west-1, eu-central-2).
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\Z")


def _region_problems(values: Mapping[str, Any]) -> list[str]:
    """AWS_REGION is a region's name; ARCHIE_REGIONS, when set, names regions and this one among them."""
    region = values.get("aws_region", "")
    if not region:
        return ["AWS_REGION is required (Lambda sets it)"]
    problems = [] if _REGION.match(region) else [f"AWS_REGION={region!r} is not a region's name"]
    listed = [name.strip() for name in values.get("archie_regions", "").split(",") if name.strip()]
    problems += [f"ARCHIE_REGIONS: {name!r} is not a region's name" for name in listed if not _REGION.match(name)]
    if listed and region not in listed:
        problems.append(f"ARCHIE_REGIONS must include this region ({region})")
    for name in ("audit_tables", "region_endpoints"):
        try:
            mapped = parse_region_map(values.get(name, ""))
        except ValueError as error:
            problems.append(f"{name.upper()}: {error}")
            continue
        problems += [f"{name.upper()}: {key!r} is not a region's name" for key in mapped if not _REGION.match(key)]
    return problems


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    if "AWS_REGION" not in env and "AWS_DEFAULT_REGION" in env:
        env = {**env, "AWS_REGION": env["AWS_DEFAULT_REGION"]}
    values: dict[str, Any] = {}
    problems = []
    for spec in dataclasses.fields(Settings):
        raw = env.get(spec.name.upper())
        if spec.name == "flush_targets":
            try:
                values[spec.name] = parse_flush_targets(raw or "")
            except ValueError as error:
                problems.append(str(error))
            continue
        if raw is None:
            if spec.default is dataclasses.MISSING:
                problems.append(f"{spec.name.upper()} is required")
            continue
        try:
            value = _CONVERTERS[str(spec.type)](raw)
        except ValueError:
            problems.append(f"{spec.name.upper()}={raw!r} is not a {spec.type}")
            continue
        low, high, min_length = (spec.metadata.get(k) for k in ("low", "high", "min_length"))
        if (low is not None and value < low) or (high is not None and value > high):
            problems.append(f"{spec.name.upper()}={raw!r} is outside {low}..{high}")
        if min_length and len(str(value)) < min_length:
            problems.append(f"{spec.name.upper()} must have at least {min_length} characters")
        values[spec.name] = value
    if values.get("aws_client_profile", "request") not in PROFILES:
        problems.append(f"AWS_CLIENT_PROFILE must be one of {', '.join(PROFILES)}")
    problems.extend(_sign_in_problems(values))
    problems.extend(_region_problems(values))
    if problems:
        raise ConfigurationError("invalid configuration: " + "; ".join(problems))
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
