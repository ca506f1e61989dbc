"""What the authorizer knows of an environment besides its keys: whether it still accepts keys of the first
format (untagged, so a forged one costs a database read and an argon2 verify to refuse), and the mass
revocations under way, each a rule refusing every key it covers before the keys themselves are marked.

Pure values: the key store reads them (one strongly consistent Query of the partition's `ENV` items) and the
verifier caches them briefly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from archie_keys.domain.keyformat import key_id_millis

LEGACY_KEYS_ACCEPT, LEGACY_KEYS_REFUSE = "accept", "refuse"


@dataclass(frozen=True)
class RevocationRule:
    """A mass revocation: every key created before `before_ms` whose context holds every `match` value.
    Keys created after it are not covered, whatever their context (a key's id says when it was created)."""

    revocation_id: str
    match: Mapping[str, str]
    before_ms: int

    def covers(self, key_id: str, context: Mapping[str, str]) -> bool:
        return key_id_millis(key_id) < self.before_ms and all(
            context.get(name) == value for name, value in self.match.items()
        )


@dataclass(frozen=True)
class EnvironmentState:
    legacy_keys_accepted: bool = True
    rules: tuple[RevocationRule, ...] = field(default_factory=tuple)

    def revoking_rule(self, key_id: str, context: Mapping[str, str]) -> RevocationRule | None:
        return next((rule for rule in self.rules if rule.covers(key_id, context)), None)
