"""A key's `limits` (domain.rate_limits): what a client may send, the calendar periods a quota runs over, the
quota as GET /keys/{key_id}/usage shows it, and the names the usage-plan engine gives plans and API keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archie_keys.domain import limits as bounds
from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.rate_limits import (
    Limits,
    Quota,
    limits_of,
    parse_limits,
    period_bounds,
    quota_usage,
    usage_plan_name,
    used_in_period,
)
from archie_keys.domain.usage_keys import usage_identifier


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def refused(value: object) -> ValidationFailedError:
    with pytest.raises(ValidationFailedError) as caught:
        parse_limits(value)
    return caught.value


# --- what a client may send --------------------------------------------------------------------------------


def test_a_rate_a_burst_and_a_quota_are_kept_as_sent() -> None:
    sent = {"rate_per_second": 2, "burst": 4, "quota": {"limit": 1000, "period": "month"}}
    parsed = parse_limits(sent)
    assert parsed == Limits(2, 4, Quota(1000, "month"))
    assert parsed is not None and parsed.to_dict() == sent
    assert limits_of(parsed.to_dict()) == parsed


def test_the_burst_defaults_to_one_seconds_worth() -> None:
    assert parse_limits({"rate_per_second": 7}) == Limits(7, 7, None)
    assert parse_limits({"rate_per_second": bounds.RATE_PER_SECOND_MAX}) == Limits(
        bounds.RATE_PER_SECOND_MAX, bounds.BURST_MAX, None
    )


def test_a_quota_alone_is_a_limit() -> None:
    parsed = parse_limits({"quota": {"limit": 5, "period": "day"}})
    assert parsed == Limits(None, None, Quota(5, "day"))
    assert parsed is not None and parsed.to_dict() == {"quota": {"limit": 5, "period": "day"}}


def test_limits_read_back_from_dynamodb_numbers_answer_as_json() -> None:
    import json
    from decimal import Decimal

    stored = {"rate_per_second": Decimal(2), "burst": Decimal(4), "quota": {"limit": Decimal(10), "period": "day"}}
    read = limits_of(stored)
    assert read == Limits(2, 4, Quota(10, "day")) and read is not None
    assert json.loads(json.dumps(read.to_dict())) == {
        "rate_per_second": 2,
        "burst": 4,
        "quota": {"limit": 10, "period": "day"},
    }


def test_null_means_no_limits() -> None:
    assert parse_limits(None) is None
    assert limits_of(None) is None and limits_of({}) is None


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({}, "limits"),
        ({"burst": 3}, "limits.burst"),
        ({"rate_per_second": 0}, "limits.rate_per_second"),
        ({"rate_per_second": -1}, "limits.rate_per_second"),
        ({"rate_per_second": bounds.RATE_PER_SECOND_MAX + 1}, "limits.rate_per_second"),
        ({"rate_per_second": 2.5}, "limits.rate_per_second"),
        ({"rate_per_second": "2"}, "limits.rate_per_second"),
        ({"rate_per_second": True}, "limits.rate_per_second"),
        ({"rate_per_second": 2, "burst": 0}, "limits.burst"),
        ({"rate_per_second": 2, "burst": bounds.BURST_MAX + 1}, "limits.burst"),
        ({"rate_per_second": 2, "per_minute": 100}, "limits.per_minute"),
        ({"quota": {"limit": 10}}, "limits.quota"),
        ({"quota": {"limit": 10, "period": "year"}}, "limits.quota.period"),
        ({"quota": {"limit": 10, "period": "Day"}}, "limits.quota.period"),
        ({"quota": {"limit": 0, "period": "day"}}, "limits.quota.limit"),
        ({"quota": {"limit": bounds.QUOTA_LIMIT_MAX + 1, "period": "day"}}, "limits.quota.limit"),
        ({"quota": {"limit": 10, "period": "day", "offset": 3}}, "limits.quota.offset"),
        ({"quota": [10, "day"]}, "limits.quota"),
        ([2, 4], "limits"),
        ("2/s", "limits"),
    ],
)
def test_limits_out_of_bounds_or_of_the_wrong_shape_are_refused_naming_the_field(sent: object, field: str) -> None:
    assert refused(sent).field == field


# --- periods -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", "2026-11-26T23:59:59", "2026-11-26T00:00:00", "2026-11-27T00:00:00"),
        ("day", "2026-11-27T00:00:00", "2026-11-27T00:00:00", "2026-11-28T00:00:00"),
        ("week", "2026-11-26T12:00:00", "2026-11-23T00:00:00", "2026-11-30T00:00:00"),  # a Thursday
        ("week", "2026-11-30T00:00:00", "2026-11-30T00:00:00", "2026-12-07T00:00:00"),  # a Monday
        ("month", "2026-12-31T23:00:00", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
        ("month", "2028-02-29T10:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),
    ],
)
def test_a_quota_runs_over_calendar_periods_in_utc(period: str, now: str, start: str, end: str) -> None:
    assert period_bounds(period, at(now)) == (at(start), at(end))


def test_the_usage_read_counts_only_the_days_of_the_current_period() -> None:
    daily = {"2026-10-31": 50, "2026-11-01": 3, "2026-11-20": 4, "2026-11-26": 5, "2026-11-27": 99}
    assert used_in_period(daily, "month", at("2026-11-26T08:00:00")) == 12
    assert used_in_period(daily, "week", at("2026-11-26T08:00:00")) == 5
    assert used_in_period(daily, "day", at("2026-11-26T08:00:00")) == 5


def test_the_quota_read_says_used_left_and_when_it_resets() -> None:
    usage = quota_usage(Quota(100, "day"), 40, at("2026-11-26T08:00:00"))
    assert usage == {"limit": 100, "period": "day", "used": 40, "left": 60, "resets_at": "2026-11-27T00:00:00.000Z"}


def test_a_quota_overrun_reads_as_nothing_left_never_a_negative() -> None:
    assert quota_usage(Quota(100, "month"), 103, at("2026-11-26T08:00:00"))["left"] == 0


# --- the engine's names ------------------------------------------------------------------------------------


def test_each_distinct_limit_has_its_own_usage_plan_and_keys_without_limits_share_one() -> None:
    names = {
        usage_plan_name("archie", parse_limits(sent))
        for sent in (
            {"rate_per_second": 2},
            {"rate_per_second": 2, "burst": 4},
            {"rate_per_second": 2, "quota": {"limit": 10, "period": "day"}},
            {"quota": {"limit": 10, "period": "day"}},
            {"quota": {"limit": 10, "period": "week"}},
            None,
        )
    }
    assert len(names) == 6
    assert usage_plan_name("archie", parse_limits({"rate_per_second": 2})) == usage_plan_name(
        "archie", parse_limits({"rate_per_second": 2, "burst": 2})
    )


def test_usage_identifiers_are_api_key_values_unique_per_stack_and_rotation_chain() -> None:
    first = usage_identifier("stack-a", "0NxQ3aB7kR2c")
    assert first.isalnum() and first.isascii() and 20 <= len(first) <= 128
    assert first == usage_identifier("stack-a", "0NxQ3aB7kR2c")
    assert len({first, usage_identifier("stack-b", "0NxQ3aB7kR2c"), usage_identifier("stack-a", "1NxQ3aB7kR2c")}) == 3
    assert usage_identifier("stack-a", None) not in (first, usage_identifier("stack-a", "unlimited"))
