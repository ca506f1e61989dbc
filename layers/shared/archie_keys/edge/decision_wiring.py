"""The composition root's decision path: what deciding on a presented key needs (the authorizer, /verify,
leak reports), built on clients that give up within about two seconds, since every protected API waits on
them. The authorizer builds this part and nothing else."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from archie_keys.app.services import HasherProvider
from archie_keys.app.verification import KeyVerifier, VerifierConfig
from archie_keys.domain.hashing import KeyHasher
from archie_keys.edge.wiring import Wiring

if TYPE_CHECKING:
    from archie_keys.app.authorization_witness import AuthorizationWitness
    from archie_keys.app.key_tags import TagKeyProvider, TagKeys
    from archie_keys.aws.decision_secrets import PepperSecret
    from archie_keys.domain.paging import PagingTokens


class DecisionWiring(Wiring):
    @cached_property
    def decision_clients(self) -> tuple[Any, Any]:
        """DynamoDB and Secrets Manager clients for deciding on a key, whatever the process."""
        from archie_keys.aws.clients import new_client

        return new_client("dynamodb", "decision"), new_client("secretsmanager", "decision")

    @cached_property
    def pepper(self) -> PepperSecret:
        from archie_keys.aws.decision_secrets import PepperSecret

        return PepperSecret(self.decision_clients[1], self.settings.pepper_secret_id)

    @cached_property
    def hasher_provider(self) -> HasherProvider:
        """Caches what it reads: the current version for PEPPER_MAX_AGE_SECONDS, older ones for good."""
        return HasherProvider(
            self.pepper,
            self.settings.argon2,
            self.settings.pepper_max_age_seconds,
            on_stale=self.metrics.pepper_stale,
        )

    def hasher(self) -> KeyHasher:
        return self.hasher_provider()

    def hasher_for(self, pepper_version: str | None) -> KeyHasher:
        return self.hasher_provider.for_version(pepper_version)

    @cached_property
    def tag_key_provider(self) -> TagKeyProvider:
        from archie_keys.app.key_tags import TagKeyProvider
        from archie_keys.aws.decision_secrets import TagKeySecret

        secret = TagKeySecret(self.decision_clients[1], self.settings.key_tag_secret_id)
        return TagKeyProvider(secret, self.settings.pepper_max_age_seconds, on_stale=self.metrics.pepper_stale)

    def key_tags(self) -> TagKeys:
        return self.tag_key_provider()

    def paging_tokens(self) -> PagingTokens:
        """Paging tokens are authenticated with a subkey of the pepper (so they follow its rotation)."""
        from archie_keys.domain.paging import PagingTokens

        return PagingTokens(self.hasher().derive(b"paging-tokens"))

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

    @cached_property
    def witness(self) -> AuthorizationWitness:
        """The authorizer's record of the keys it authorizes, written on the decision path's client."""
        from archie_keys.app.authorization_witness import AuthorizationWitness

        return AuthorizationWitness(self.verifier.store, self.settings.authorizer_witness_seconds)

    def secret_scanning_public_keys(self) -> dict[str, str]:
        """GitHub's secret scanning keys, {identifier: PEM} (aws.github_keys reads them, cached 5 min)."""
        from archie_keys.aws.github_keys import GitHubScanningKeys
        from archie_keys.edge.github_signatures import parse_public_keys

        settings = self.settings
        raw = GitHubScanningKeys(settings.secret_scanning_public_keys, settings.secret_scanning_public_keys_parameter)
        return parse_public_keys(raw())
