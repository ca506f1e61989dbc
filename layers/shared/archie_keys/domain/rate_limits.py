"""A key's rate limit and quota (`limits`), and what `GET /keys/{key_id}/usage` says of its quota. Pure.

    {"rate_per_second": 2, "burst": 4, "quota": {"limit": 10000, "period": "month"}}

API Gateway enforces them (docs/limits.md, "Rate limits and quotas"): each distinct `limits` is one usage plan
(`usage_plan_name`), a limited key is one API key in it, and the authorizer returns that API key's value as
`usageIdentifierKey` (domain.usage_keys). Keys without limits share one API key in a plan without limits, so
they cost nothing more. Periods are calendar periods in UTC: a day from midnight, a week from Monday, a month
from the 1st.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ValidationFailedError, shown
from archie_keys.domain.limits import BURST_MAX, QUOTA_LIMIT_MAX, QUOTA_PERIODS, RATE_PER_SECOND_MAX

_LIMITS_FIELDS = frozenset({"rate_per_second", "burst", "quota"})
_QUOTA_FIELDS = frozenset({"limit", "period"})


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    period: str  # one of QUOTA_PERIODS


@dataclass(frozen=True, slots=True)
class Limits:
    """A steady rate with its burst (API Gateway's throttle: up to `burst` requests at once, refilled at
    `rate_per_second`), a quota per calendar period, or both."""

    rate_per_second: int | None = None
    burst: int | None = None
    quota: Quota | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stored and answered form: only what is set."""
        shown: dict[str, Any] = {}
        if self.rate_per_second is not None:
            shown.update(rate_per_second=self.rate_per_second, burst=self.burst)
        if self.quota is not None:
            shown["quota"] = {"limit": self.quota.limit, "period": self.quota.period}
        return shown


def _count(value: object, field: str, maximum: int) -> int:
    # bool is an int to Python; true is not a rate.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailedError("must be a whole number", field=field)
    if not 1 <= value <= maximum:
        raise ValidationFailedError(f"must be between 1 and {maximum}", field=field)
    return value


def _unknown(value: Mapping[Any, Any], known: frozenset[str], field: str) -> None:
    for name in value:
        if name not in known:
            raise ValidationFailedError(f"{field}.{name} is not a known field", field=f"{field}.{name}")


def parse_limits(value: object, field: str = "limits") -> Limits | None:
    """The limits a client sent, or ValidationFailedError naming the field at fault. `null` is no limits (on
    PATCH: remove them). `burst` needs `rate_per_second` and defaults to it (one second's worth)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationFailedError('must be an object such as {"rate_per_second": 10, "burst": 20}', field=field)
    _unknown(value, _LIMITS_FIELDS, field)
    if "burst" in value and "rate_per_second" not in value:
        raise ValidationFailedError("a burst needs a rate_per_second", field=f"{field}.burst")
    if "rate_per_second" not in value and "quota" not in value:
        raise ValidationFailedError("give rate_per_second, quota or both (null removes the limits)", field=field)
    rate = burst = None
    if "rate_per_second" in value:
        rate = _count(value["rate_per_second"], f"{field}.rate_per_second", RATE_PER_SECOND_MAX)
        burst = min(rate, BURST_MAX)
    if "burst" in value:
        burst = _count(value["burst"], f"{field}.burst", BURST_MAX)
    quota = None
    if "quota" in value:
        quota = _parse_quota(value["quota"], f"{field}.quota")
    return Limits(rate, burst, quota)


def _parse_quota(value: object, field: str) -> Quota:
    if not isinstance(value, dict):
        raise ValidationFailedError('must be an object such as {"limit": 10000, "period": "month"}', field=field)
    _unknown(value, _QUOTA_FIELDS, field)
    if "limit" not in value or "period" not in value:
        raise ValidationFailedError("a quota needs a limit and a period", field=field)
    limit = _count(value["limit"], f"{field}.limit", QUOTA_LIMIT_MAX)
    period = value["period"]
    if period not in QUOTA_PERIODS:
        raise ValidationFailedError("must be one of " + ", ".join(QUOTA_PERIODS), field=f"{field}.period")
    return Quota(limit, str(period))


def limits_of(stored: Mapping[str, Any] | None) -> Limits | None:
    """The limits a key record holds (written by `Limits.to_dict`), trusted as written."""
    if not stored:
        return None
    quota, rate, burst = stored.get("quota"), stored.get("rate_per_second"), stored.get("burst")
    # Numbers come back from DynamoDB as Decimal: held as int, so equal limits compare (and name plans) equal.
    return Limits(
        rate_per_second=None if rate is None else int(rate),
        burst=None if burst is None else int(burst),
        quota=Quota(int(quota["limit"]), str(quota["period"])) if quota else None,
    )


# --- periods -------------------------------------------------------------------------------------------------


def period_bounds(period: str, now: float) -> tuple[float, float]:
    """The calendar period (UTC) holding `now`, as epoch seconds [start, end)."""
    moment = datetime.fromtimestamp(now, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())  # Monday
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown quota period {shown(period)}")
    return start.timestamp(), end.timestamp()


def used_in_period(daily_used: Mapping[str, int], period: str, now: float) -> int:
    """What a key used in the period holding `now`, from per-day counts keyed "YYYY-MM-DD" (UTC), as API
    Gateway's GetUsage reports them."""
    start, _ = period_bounds(period, now)
    first = datetime.fromtimestamp(start, UTC).date().isoformat()
    today = datetime.fromtimestamp(now, UTC).date().isoformat()
    return sum(count for day, count in daily_used.items() if first <= day <= today)


class QuotaUsage(TypedDict):
    """`quota` in the answer of GET /keys/{key_id}/usage."""

    limit: int
    period: str
    used: int
    left: int
    resets_at: str


def quota_usage(quota: Quota, used: int, now: float) -> QuotaUsage:
    """The quota as a key's owner reads it. `used` may pass `limit` (API Gateway enforces quotas on a
    best-effort basis): `left` is then 0, never negative."""
    _, end = period_bounds(quota.period, now)
    return {
        "limit": quota.limit,
        "period": quota.period,
        "used": used,
        "left": max(0, quota.limit - used),
        "resets_at": to_iso(end),
    }


# --- the usage plan engine's names ----------------------------------------------------------------------


def usage_plan_name(namespace: str, limits: Limits | None) -> str:
    """One usage plan per distinct limits (a plan's throttle and quota apply to each of its API keys alone), and
    one without limits shared by every key that has none. The name is the plan's identity: the provisioner
    finds a plan by it before creating one."""
    if limits is None:
        return f"{namespace}-unlimited"
    parts = []
    if limits.rate_per_second is not None:
        parts.append(f"r{limits.rate_per_second}b{limits.burst}")
    if limits.quota is not None:
        parts.append(f"q{limits.quota.limit}{limits.quota.period}")
    return f"{namespace}-" + "-".join(parts)
