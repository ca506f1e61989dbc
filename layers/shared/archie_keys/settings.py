"""Configuration from the environment, validated once per process on first use.

template.yaml sets these variables (Globals.Function.Environment); the local stack sets the same ones from
the same template. A missing or invalid value fails the first invocation loudly instead of half-working.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archie_keys.hashing import Argon2Parameters


class FlushTarget(BaseModel):
    """A REST API stage whose authorizer cache is flushed when a key of a matching environment is revoked.
    project/environment "*" match every environment (the management API serves them all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rest_api_id: str
    stage: str
    project: str = "*"
    environment: str = "*"

    def serves(self, project: str, environment: str) -> bool:
        return self.project in ("*", project) and self.environment in ("*", environment)


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    keys_table: str = Field(min_length=3)
    idempotency_table: str = Field(min_length=3)
    pepper_secret_id: str = Field(min_length=1)
    audit_table: str = ""
    pepper_max_age_seconds: int = Field(default=300, ge=0, le=3600)
    argon2_memory_kib: int = Field(default=19456, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)
    # How long a warm authorizer instance trusts its own decision. It bounds how stale a revocation can be
    # at the function layer, so it is short; a refresh costs one GetItem, not another argon2 verify.
    authorizer_cache_ttl_seconds: float = Field(default=1.0, ge=0, le=10)
    # How long a refused key is remembered, so a flood of the same bad key costs no DynamoDB reads.
    authorizer_negative_cache_ttl_seconds: float = Field(default=5.0, ge=0, le=60)
    # How long a verified secret is remembered (the argon2 proof); the record itself is re-read every TTL.
    authorizer_proof_ttl_seconds: float = Field(default=300.0, ge=0, le=3600)
    flush_targets: tuple[FlushTarget, ...] = ()
    # Alternatively (as deployed) the name of an SSM parameter holding the same comma-separated list.
    flush_targets_parameter: str = ""
    # An expires_at closer than this is almost certainly a clock or unit mistake by the caller.
    key_min_lifetime_seconds: int = Field(default=60, ge=1, le=3600)
    secret_name_prefix: str = "archie/keys/"
    audit_retention_days: int = Field(default=90, ge=1, le=3650)
    expiry_schedule_group: str = ""
    expiry_schedule_role_arn: str = ""
    expiry_flush_function_arn: str = ""

    @property
    def argon2(self) -> Argon2Parameters:
        return Argon2Parameters(self.argon2_memory_kib, self.argon2_time_cost, self.argon2_parallelism)


class ConfigurationError(RuntimeError):
    pass


def parse_flush_targets(raw: str) -> list[dict[str, str]]:
    """FLUSH_TARGETS: comma-separated `restApiId/stage` or `restApiId/stage/project/environment`."""
    targets = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        pieces = item.split("/")
        if len(pieces) == 2:
            targets.append({"rest_api_id": pieces[0], "stage": pieces[1]})
        elif len(pieces) == 4:
            targets.append(
                {"rest_api_id": pieces[0], "stage": pieces[1], "project": pieces[2], "environment": pieces[3]}
            )
        else:
            raise ConfigurationError(f"FLUSH_TARGETS entry {item!r} is not restApiId/stage[/project/environment]")
    return targets


def load_settings(environ: dict[str, str] | os._Environ[str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    raw = {name.lower(): value for name, value in env.items() if name.lower() in Settings.model_fields}
    raw.pop("flush_targets", None)
    try:
        return Settings.model_validate({**raw, "flush_targets": parse_flush_targets(env.get("FLUSH_TARGETS", ""))})
    except ValidationError as error:
        raise ConfigurationError(f"invalid configuration: {error}") from error


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
