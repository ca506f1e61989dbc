"""The authorizer as a witness: when was a key last authorized, and what that proves about its use.

Every request API Gateway accepts for a key was either authorized by an authorizer invocation, or answered from
API Gateway's authorizer cache, whose entry an invocation made at most the cache's TTL earlier. So the
authorizer records, before it answers Allow, that it authorized the key at time c (`recorded`), and a guarded
delete arriving at T can prove "no accepted request in (T - N, T]" without the audit, which on AWS cannot prove
it holds every request answered before T (docs/audit.md, "The ingest watermark").

What the record may leave out, each bounded by a setting (`WitnessBounds`):

* coalescing: an instance records a key at most once per `coalesce_seconds`, so an authorization it did not
  record came less than that after one it recorded (and the stored time only moves forward);
* the answer's way back: an invocation records c before it answers, and API Gateway caches the answer when it
  arrives, at most the authorizer's timeout later (`answer_seconds`);
* API Gateway's cache: it serves an answer for at most `result_ttl_seconds` (the longest TTL of any stage
  the authorizer serves: the stack's AuthorizerResultTtl, which protected APIs must not exceed);
* when the witness began: authorizations before `in_force_since` (before every authorizer version in service
  recorded them) were not recorded at all, so nothing is proven about a window reaching back before it.

Pure: no I/O, no clock of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from archie_keys.domain.limits import GUARD_WINDOW_MAX_SECONDS

# An instance writes a key's witness at most once per this many seconds (the authorizer's one write per key per
# instance; `make cost`): every second of it widens the window a guarded delete must find idle by as much.
DEFAULT_COALESCE_SECONDS = 60.0

# A witness item lives this long after its last write, then DynamoDB's TTL purges it: longer than the longest
# `if_unused_for` (limits.GUARD_WINDOW_MAX_SECONDS: seven digits, under 116 days) plus any reach, so a purged
# witness only ever means "not authorized within any window a guarded delete can ask about".
WITNESS_RETENTION_SECONDS = 120 * 24 * 3600
LONGEST_GUARD_WINDOW_SECONDS = GUARD_WINDOW_MAX_SECONDS


@dataclass(frozen=True)
class WitnessBounds:
    """How far after a recorded authorization a request may still be accepted on its strength."""

    result_ttl_seconds: float
    coalesce_seconds: float
    answer_seconds: float
    # Epoch seconds from which every authorizer in service records; None: the witness is not (yet) in force.
    in_force_since: float | None

    @property
    def reach(self) -> float:
        """A request accepted on the strength of authorizations recorded up to c was accepted before c + reach."""
        return self.result_ttl_seconds + self.coalesce_seconds + self.answer_seconds


def idle_bound(arrival: float, window: float, bounds: WitnessBounds) -> float | None:
    """The time the key's last recorded authorization must be before (strictly) for the witness to prove that
    no request was accepted in (arrival - window, arrival]; None when the witness cannot prove it at all (not
    in force, or not in force far enough back: an unrecorded authorization could have served the window)."""
    bound = arrival - window - bounds.reach
    if bounds.in_force_since is None or bound < bounds.in_force_since:
        return None
    return bound


def proves_idle(recorded: float | None, arrival: float, window: float, bounds: WitnessBounds) -> bool:
    """True when the witness alone proves the key had no accepted request in (arrival - window, arrival].
    `recorded` None: no authorization recorded since the witness came into force (or purged long after)."""
    bound = idle_bound(arrival, window, bounds)
    return bound is not None and (recorded is None or recorded < bound)


def recording_due(last_written: float | None, now: float, coalesce_seconds: float) -> bool:
    """Whether an instance that last wrote a key's witness at `last_written` must write it again before it
    answers Allow at `now` (a clock that stepped back writes too: the stored time never moves back anyway)."""
    return last_written is None or not (last_written <= now < last_written + coalesce_seconds)
