"""Which stages a change to a key must flush, and how long they may still serve a decision from before it.

The rule fails closed: a registration that cannot be read serves every environment (nobody can tell which it
serves), is never flushed (so every change names it as not flushed until it is fixed), and may cache for any
length of time (so a guarded delete's witness proves nothing while it exists). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from archie_keys.domain.flush_targets import ANY_SCOPE, FlushTarget


def serves(target: FlushTarget, project: str, environment: str) -> bool:
    """Whether the stage may answer for keys of project/environment."""
    if target.problem:
        return True
    return target.project in (ANY_SCOPE, project) and target.environment in (ANY_SCOPE, environment)


def serving(targets: Iterable[FlushTarget], project: str, environment: str) -> list[FlushTarget]:
    """The stages a change to a key of project/environment flushes."""
    return [target for target in targets if serves(target, project, environment)]


def longest_declared_ttl(targets: Iterable[FlushTarget], project: str, environment: str) -> float | None:
    """The longest authorizer cache a stage serving project/environment declares; None when none declares one;
    infinity when a registration serving it cannot be read (nobody can tell how long that stage caches)."""
    declared: list[float] = []
    for target in serving(targets, project, environment):
        if target.problem:
            return float("inf")
        if target.authorizer_ttl_seconds is not None:
            declared.append(float(target.authorizer_ttl_seconds))
    return max(declared, default=None)


def stage_environments(targets: Iterable[FlushTarget]) -> dict[str, tuple[str, str]]:
    """restApiId/stage -> (project, environment) of the stages that serve exactly one environment (a protected
    API's access log does not name them; the management API's stage serves every environment)."""
    return {
        target.label: (target.project, target.environment)
        for target in targets
        if not target.problem and ANY_SCOPE not in (target.project, target.environment)
    }
