"""A stage whose authorizer cache is flushed: the value every part of the flush shares (the registry that lists
stages, the parser that reads them, the flusher, the rule of which stages serve a key). Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass

# A registration's project or environment that matches every one (the management API serves them all).
ANY_SCOPE = "*"


@dataclass(frozen=True)
class FlushTarget:
    """A REST API stage whose authorizer cache is flushed when a key of a matching environment is revoked.
    project/environment "*" match every environment. A registration that cannot be read carries its
    `problem` (which stages it then serves: domain.flush_scope)."""

    rest_api_id: str
    stage: str
    project: str = ANY_SCOPE
    environment: str = ANY_SCOPE
    problem: str = ""
    # How long the stage caches an authorizer answer, as its registration declares (`authorizer_ttl_seconds`);
    # None: not declared, so no longer than the stack's AuthorizerResultTtl (docs/authorizer.md). A guarded
    # delete's witness counts on the longest of the stages serving the key (domain.authorization_witness).
    authorizer_ttl_seconds: int | None = None

    @property
    def label(self) -> str:
        """How reports, logs and metrics name the stage: `restApiId/stage`, or the registration and its problem."""
        if self.problem:
            return f"{self.rest_api_id} ({self.problem})"
        return f"{self.rest_api_id}/{self.stage}"
