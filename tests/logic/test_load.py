"""`make load`'s own promises, without a stack: the plan is reproducible and shaped as documented (Zipf
popularity, forged and malformed keys, revocations of keys still in use), every answer is judged against its
key's state at the moment it was sent, every request needs exactly one audit record, and the component named
as the limit is the one the measurements show saturated."""

from __future__ import annotations

from collections import Counter

import pytest

from archie_keys.domain.keyformat import MalformedKeyError, generate_key, parse_key
from archie_tools.load.audit import audit_check
from archie_tools.load.client import loopback
from archie_tools.load.keys import forged_keys, malformed_keys
from archie_tools.load.measure import limited_by
from archie_tools.load.plan import FORGED, GRANTED, ISSUED, MALFORMED, UNGRANTED, Plan, Request, Settings, build_plan
from archie_tools.load.verdict import RevocationOutcome, judge
from tests.support import TAG_KEY

SETTINGS = Settings(duration=30, rate=100, keys=200, seed=7)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    assert build_plan(SETTINGS) == build_plan(SETTINGS)
    assert build_plan(SETTINGS) != build_plan(Settings(duration=30, rate=100, keys=200, seed=8))


def test_requests_are_spaced_at_the_target_rate_over_the_duration() -> None:
    plan = build_plan(SETTINGS)
    assert len(plan.requests) == 3000
    assert [r.at for r in plan.requests[:3]] == [0, 0.01, 0.02]
    assert plan.requests[-1].at < SETTINGS.duration


def test_key_popularity_is_zipf_a_few_hot_keys_and_a_long_tail() -> None:
    plan = build_plan(Settings(duration=100, rate=1000, keys=200, seed=1))
    ranks = Counter(r.ref for r in plan.requests if r.kind == ISSUED)
    # Popularity 1/rank: the hottest key about twice the second and ten times the tenth, and most keys used.
    assert 1.8 < ranks[0] / ranks[1] < 2.2
    assert 8 < ranks[0] / ranks[9] < 12
    assert len(ranks) == 200
    assert sum(ranks[k] for k in range(10)) > sum(ranks[k] for k in range(100, 200))


def test_forged_malformed_and_ungranted_requests_take_their_shares() -> None:
    plan = build_plan(Settings(duration=100, rate=100, keys=50, seed=3))
    kinds = Counter(r.kind for r in plan.requests)
    assert 0.04 < kinds[FORGED] / len(plan.requests) < 0.06
    assert 0.01 < kinds[MALFORMED] / len(plan.requests) < 0.03
    issued = [r for r in plan.requests if r.kind == ISSUED]
    assert 0.02 < sum(r.method == UNGRANTED for r in issued) / len(issued) < 0.04


def test_each_forged_request_has_its_own_key_unless_a_pool_is_asked_for() -> None:
    plan = build_plan(SETTINGS)
    forged = [r.ref for r in plan.requests if r.kind == FORGED]
    assert sorted(forged) == list(range(len(forged))) and plan.forged_keys == len(forged)
    pooled = build_plan(Settings(duration=30, rate=100, keys=200, seed=7, forged=3))
    assert {r.ref for r in pooled.requests if r.kind == FORGED} == {0, 1, 2} and pooled.forged_keys == 3


def test_revoked_keys_are_revoked_mid_run_and_presented_again_afterwards() -> None:
    plan = build_plan(SETTINGS)
    assert len(plan.revocations) == 10 and len({r.key for r in plan.revocations}) == 10
    for revocation in plan.revocations:
        assert 0.2 * SETTINGS.duration < revocation.at < 0.7 * SETTINGS.duration
        later = [r for r in plan.requests if r.kind == ISSUED and r.ref == revocation.key and r.at > revocation.at + 2]
        assert later, f"key {revocation.key} is never presented after its revocation"


def test_forged_keys_are_well_formed_keys_of_the_place_that_were_never_issued() -> None:
    issued = [generate_key("archie_", "demo", "dev", TAG_KEY) for _ in range(5)]
    issued_ids = {parsed.key_id for _, parsed in issued}
    forged = forged_keys(20, "archie_", "demo", "dev", issued_ids)
    assert len(set(forged)) == 20
    for value in forged:
        parsed = parse_key(value)
        assert (parsed.project, parsed.environment) == ("demo", "dev") and parsed.key_id not in issued_ids


def test_malformed_keys_never_parse_as_keys() -> None:
    issued = [generate_key("archie_", "demo", "dev", TAG_KEY)[0] for _ in range(4)]
    for value in malformed_keys(12, issued):
        with pytest.raises(MalformedKeyError):
            parse_key(value)


def test_the_client_sends_to_127_0_0_1_only() -> None:
    assert loopback("http://127.0.0.1:3001") == ("127.0.0.1", 3001)
    for elsewhere in ("http://localhost:3001", "http://10.0.0.1:3001", "https://127.0.0.1:3001", "http://127.0.0.1"):
        with pytest.raises(SystemExit):
            loopback(elsewhere)


# A tiny plan: issued key 0 on a granted route, the same key on a route it is not granted, a forged key and a
# malformed one; key 0 is revoked at 1.0 s (its DELETE answered 204 at 1.5 s).
def plan_of(*requests: Request) -> Plan:
    return Plan(list(requests), [], 1)


REVOKED = [RevocationOutcome(key=0, sent=1.0, answered=1.5, status=204)]


def verdict_of(status: int, request: Request, sent: float = 0.1, answered: float = 0.2) -> Counter[str]:
    result = judge(plan_of(request), [], [[sent, answered, status, "id-1"]], REVOKED)
    return +result.violations


def test_every_answer_that_matches_its_keys_state_is_no_violation() -> None:
    assert verdict_of(200, Request(0, ISSUED, 0, GRANTED, "/orders/1")) == Counter()
    assert verdict_of(403, Request(0, ISSUED, 0, UNGRANTED, "/orders/1")) == Counter()
    assert verdict_of(403, Request(0, FORGED, 0, GRANTED, "/orders/1")) == Counter()
    assert verdict_of(401, Request(0, MALFORMED, 0, GRANTED, "/orders/1")) == Counter()


def test_a_forged_key_allowed_a_live_key_refused_or_a_malformed_key_not_401_are_violations() -> None:
    assert verdict_of(200, Request(0, FORGED, 0, GRANTED, "/orders/1")) == Counter(wrong_status=1)
    assert verdict_of(403, Request(0, ISSUED, 0, GRANTED, "/orders/1")) == Counter(wrong_status=1)
    assert verdict_of(403, Request(0, MALFORMED, 0, GRANTED, "/orders/1")) == Counter(wrong_status=1)
    assert verdict_of(200, Request(0, ISSUED, 0, UNGRANTED, "/orders/1")) == Counter(wrong_status=1)


def test_a_revoked_key_allowed_after_its_revocation_answered_is_a_violation() -> None:
    request = Request(1.6, ISSUED, 0, GRANTED, "/orders/1")
    assert verdict_of(200, request, sent=1.6, answered=1.7) == Counter(revoked_not_refused=1)
    assert verdict_of(403, request, sent=1.6, answered=1.7) == Counter()


def test_a_request_overlapping_the_revocation_may_get_either_answer_and_one_before_it_must_be_allowed() -> None:
    request = Request(0.9, ISSUED, 0, GRANTED, "/orders/1")
    assert verdict_of(200, request, sent=1.2, answered=1.3) == Counter()
    assert verdict_of(403, request, sent=1.2, answered=1.3) == Counter()
    assert verdict_of(403, request, sent=0.8, answered=0.9) == Counter(wrong_status=1)


def test_a_revocation_that_does_not_answer_204_fails_the_run() -> None:
    result = judge(plan_of(), [], [], [RevocationOutcome(key=0, sent=1.0, answered=1.5, status=202)])
    assert result.violations["revocation_not_confirmed"] == 1


def test_a_503_or_no_answer_is_counted_apart_from_wrong_decisions() -> None:
    assert verdict_of(503, Request(0, ISSUED, 0, GRANTED, "/orders/1")) == Counter(unavailable=1)
    assert verdict_of(0, Request(0, ISSUED, 0, GRANTED, "/orders/1")) == Counter(no_answer=1)


def test_a_refused_warm_up_of_an_issued_key_is_a_violation() -> None:
    result = judge(plan_of(), [[200, "a"], [403, "b"]], [], [])
    assert +result.violations == Counter(wrong_status=1)
    assert result.warm_up_answered == [("a", 200), ("b", 403)]


def test_figures_count_what_was_answered_and_what_was_never_sent() -> None:
    requests = [Request(i / 10, ISSUED, 0, GRANTED, f"/orders/{i}") for i in range(4)]
    results = [[0.0, 0.01, 200, "a"], [0.1, 0.13, 200, "b"], [0.2, 0.5, 403, "c"], None]
    counts = judge(plan_of(*requests), [], results, []).counts
    assert (counts["requests"], counts["allowed"], counts["refused"], counts["unsent"]) == (3, 2, 1, 1)
    assert counts["p50_ms"] == 30 and counts["p99_ms"] == 300 and counts["achieved_rps"] == 6.0


def test_a_request_with_no_audit_record_or_two_is_lost() -> None:
    records = (Counter({"a": 1, "b": 2, "d": 1}), {"a": 200, "b": 200, "d": 401})
    checked = audit_check(records, [("a", 200), ("b", 200), ("c", 403), ("d", 403)])
    assert checked == {"audited": 2, "lost": 2, "audit_duplicated": 1, "audit_status_mismatch": 1}


def figures(authorizer: float = 0.2, moto: float = 0.3, stack: float = 0.4, machine: float = 0.5) -> dict:
    function = {"calls": 10, "busy": authorizer, "ms_per_call": 5, "aws_ms_per_call": 4, "queued_ms_per_call": 1}
    return {
        "cores": {"stack_process": stack, "moto_server": 0.5, "client_process": 0.1, "other_processes": 0.2},
        "moto_occupied": moto,
        "machine": {"cores": 2, "busy": machine},
        "functions": {"AuthorizerFunction": function},
        "aws_calls_by_caller": {"AuthorizerFunction": {"calls": 10, "seconds": 0.04}},
    }


def test_a_met_target_is_what_limited_the_rate() -> None:
    assert limited_by(figures(), 99.0, 100, 0, 1, 16)["component"] == "target_rate"
    assert limited_by(figures(authorizer=0.97), 99.0, 100, 3, 1, 16)["component"] == "AuthorizerFunction"


def test_the_most_saturated_component_is_named_with_its_measurement() -> None:
    limit = limited_by(figures(authorizer=0.93, moto=0.98), 50.0, 100, 10, 5, 16)
    assert limit["component"] == "moto_server" and "occupied 98%" in limit["why"]
    assert "AuthorizerFunction's one local instance was busy 93%" in limit["why"]
    assert limited_by(figures(stack=0.95), 50.0, 100, 10, 5, 16)["component"] == "stack_process"


def test_the_machine_is_named_only_when_none_of_the_stacks_components_is_saturated() -> None:
    assert limited_by(figures(machine=0.99), 50.0, 100, 10, 5, 16)["component"] == "machine"
    assert limited_by(figures(authorizer=0.95, machine=0.99), 50.0, 100, 10, 5, 16)["component"] == "AuthorizerFunction"
    assert limited_by(figures(), 50.0, 100, 10, 15, 16)["component"] == "client_threads"
