"""Use case: the synthetic canary. Every five minutes (template: CanaryFunction) it walks the path every
team's API depends on, end to end, as a client would see it:

1. in its own environment (canary/probe, declared on the first run with a role that grants nothing on the
   management API), create a key that expires in ten minutes, through the same use case as POST /keys, as
   the bootstrap actor (no admin key is stored anywhere);
2. call the management API's /whoami with it through API Gateway: 200 (the key works, so creation,
   hashing, the authorizer and the gateway do);
3. revoke it through the same use case as DELETE, with the every-layer flush;
4. call again: 401 or 403 (the revocation reached every cache);

and report `CanaryProbe` 1, or 0 with the step that failed. A key it made is revoked whatever happens (it
would expire in ten minutes anyway). Its flush reaches only the stages serving canary/probe: the management
API's, never a team's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from archie_keys.app.commands import CreateKey, Place, PutRole
from archie_keys.app.environments import declare_environment
from archie_keys.app.key_creation import create_key
from archie_keys.app.revocation import revoke_key
from archie_keys.app.roles import put_role
from archie_keys.app.services import Services
from archie_keys.domain.clock import now_epoch
from archie_keys.domain.identity import Identity

logger = logging.getLogger("archie_keys.canary")

CANARY_PLACE = Place("canary", "probe")
PROBE_ROLE = "probe"
# A role must grant something; this grants nothing any API serves (/whoami needs only a valid key).
PROBE_PERMISSIONS = [{"resource": "canary-probe", "actions": ["read"], "filters": {}}]
KEY_LIFETIME_SECONDS = 600
REFUSED = (401, 403)

# (path under the management API, key) -> the HTTP status API Gateway answered.
HttpCall = Callable[[str, str], int]


class ProbeFailedError(RuntimeError):
    pass


@dataclass(frozen=True)
class ProbeResult:
    passed: bool
    step: str  # "passed", or the step that failed: setup, create, accepted, revoke, refused
    detail: str
    key_id: str | None
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "step": self.step,
            "detail": self.detail,
            "key_id": self.key_id,
            "seconds": self.seconds,
        }


def whoami_path(place: Place) -> str:
    return f"/projects/{place.project}/environments/{place.environment}/whoami"


def _prepare(services: Services, actor: Identity, place: Place) -> None:
    """Declare the canary's environment and its role, once (both are idempotent)."""
    declare_environment(services, actor, place)
    if services.store.get_role(place.project, place.environment, PROBE_ROLE) is None:
        put_role(services, actor, PutRole(place, PROBE_ROLE, "the synthetic canary's keys", PROBE_PERMISSIONS))


def probe(
    services: Services,
    call: HttpCall,
    report: Callable[[ProbeResult], None],
    place: Place = CANARY_PLACE,
    clock: Callable[[], float] = time.monotonic,
) -> ProbeResult:
    """One canary run; never raises (a failure is a result, reported like a success)."""
    actor = Identity.bootstrap(place.project, place.environment)
    started, step, key_id, revoked = clock(), "setup", None, False
    path = whoami_path(place)
    try:
        _prepare(services, actor, place)
        step = "create"
        expires = datetime.fromtimestamp(now_epoch() + KEY_LIFETIME_SECONDS, UTC)
        new = create_key(
            services, actor, CreateKey(place=place, name="canary probe", roles=[PROBE_ROLE], expires_at=expires)
        )
        key_id = new.record.key_id
        step = "accepted"
        status = call(path, new.value)
        if status != 200:
            raise ProbeFailedError(f"a new key was answered {status} by {path}, not 200")
        step = "revoke"
        revocation = revoke_key(services, actor, place, key_id)
        revoked = True
        if revocation.flush.unflushed:
            raise ProbeFailedError(f"stages not flushed: {', '.join(revocation.flush.unflushed)}")
        step = "refused"
        status = call(path, new.value)
        if status not in REFUSED:
            raise ProbeFailedError(f"a revoked key was answered {status} by {path}, not 401 or 403")
        result = ProbeResult(True, "passed", "", key_id, round(clock() - started, 3))
    except Exception as error:  # every failure is the canary's finding, reported below
        logger.exception("canary probe failed", extra={"step": step, "key_id": key_id})
        result = ProbeResult(False, step, str(error)[:500], key_id, round(clock() - started, 3))
    finally:
        if key_id is not None and not revoked:
            _revoke_quietly(services, actor, place, key_id)
    report(result)
    return result


def _revoke_quietly(services: Services, actor: Identity, place: Place, key_id: str) -> None:
    """The probe's key must not outlive a failed probe (it would expire in ten minutes anyway)."""
    try:
        revoke_key(services, actor, place, key_id)
    except Exception:  # the probe's own failure is already reported
        logger.exception("the canary's key could not be revoked; it expires by itself", extra={"key_id": key_id})
