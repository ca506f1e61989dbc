"""Trust policies say exactly whom an environment trusts: a policy that would trust every repository, every
project or every person of an issuer is refused when it is written, and a token gets the roles of the one
policy it matches most specifically. GitHub Actions', GitLab CI's and a person's ID token are the examples."""

from __future__ import annotations

from typing import Any

import pytest

from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.limits import TRUST_PATTERN_MAX_LENGTH, TRUST_TTL_DEFAULT_SECONDS
from archie_keys.domain.trust import TrustPolicy, exchange_ttl_seconds, matching_policies, parse_trust_policy
from archie_keys.domain.trust_patterns import compile_pattern
from tests.fakes.oidc import ADA, COGNITO, GITHUB, GITHUB_MAIN, GITLAB, GITLAB_MAIN


def policy(name: str = "ci", **fields: Any) -> TrustPolicy:
    body = {"issuer": GITHUB, "audience": "archie-keys", "subject": "repo:acme/billing:ref:refs/heads/main"}
    body.update({"roles": ["deployer"]}, **fields)
    return parse_trust_policy(name, body)


def refused(field: str, name: str = "ci", **fields: Any) -> str:
    with pytest.raises(ValidationFailedError) as caught:
        policy(name, **fields)
    assert caught.value.field == field, caught.value.message
    return caught.value.message


# The pattern language --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("refs/heads/main", "refs/heads/main", True),
        ("refs/heads/main", "refs/heads/main2", False),
        ("refs/heads/*", "refs/heads/main", True),
        ("refs/heads/*", "refs/heads/feature/x", False),  # * stays within a segment
        ("refs/heads/**", "refs/heads/feature/x", True),
        ("refs/heads/*", "refs/heads/", True),
        ("repo:acme/billing:*", "repo:acme/billing:pull_request", True),
        ("repo:acme/billing:*", "repo:acme/billing:ref:refs/heads/main", False),  # nor across ':'
        ("repo:acme/billing:**", "repo:acme/billing:ref:refs/heads/main", True),
        ("repo:acme/billing:**", "repo:acme/billing-evil:ref:refs/heads/main", False),
        ("v*.*", "v1.2", True),
        ("v*.*", "v1/2", False),
        ("Main", "main", False),  # case-sensitive
        ("release-*-rc", "release-1.2-rc", True),
        ("release-*-rc", "release-1.2-rc-x", False),  # the whole value
    ],
)
def test_star_matches_within_a_segment_and_double_star_across(pattern: str, value: str, matches: bool) -> None:
    assert compile_pattern(pattern).matches(value) is matches


def test_a_hostile_pattern_against_a_hostile_value_is_answered() -> None:
    """Eight `**` against a long run of one letter: a backtracking regex takes time exponential in the
    wildcards; the matcher here is one pass per part."""
    pattern = compile_pattern("**a" * 8 + "b")
    assert pattern.matches("a" * 1000) is False
    assert pattern.matches("a" * 1000 + "b") is True


@pytest.mark.parametrize(
    "pattern", ["", "x" * (TRUST_PATTERN_MAX_LENGTH + 1), "a***b", "*/" * 9 + "x", "line\nbreak", None, 7]
)
def test_a_pattern_out_of_bounds_is_refused(pattern: object) -> None:
    with pytest.raises(ValueError):
        compile_pattern(pattern)


# Whom a policy trusts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "*",
        "**",
        "repo:*",
        "repo:**",
        "repo:acme/*",
        "repo:acme/**",
        "repo:acme/*:ref:refs/heads/main",  # every repository of the owner, today's and tomorrow's
        "repo:*/billing:**",
        "repo:acme/billing*",
        "project_path:acme:**",  # a group, not a project
        "project_path:acme/*:**",
        "project_path:**",
        "user-*",  # another issuer's subjects: only an exact one pins
        "3f1c2b9e-*",
    ],
)
def test_a_subject_that_pins_no_repository_project_or_person_is_refused(subject: str) -> None:
    refused("subject", subject=subject)


@pytest.mark.parametrize(
    "subject",
    [
        "repo:acme/billing:ref:refs/heads/main",
        "repo:acme/billing:ref:refs/heads/*",
        "repo:acme/billing:environment:production",
        "repo:acme/billing:**",
        "repo:acme/billing",
        "project_path:acme/platform/billing:ref_type:branch:ref:*",
        "project_path:acme/billing:**",
        "3f1c2b9e-1111-2222-3333-444455556666",  # one person
    ],
)
def test_a_subject_pinning_a_repository_a_project_or_one_subject_is_accepted(subject: str) -> None:
    assert policy(subject=subject).subject is not None


def test_without_a_subject_a_claim_must_pin_a_repository_project_or_managed_group() -> None:
    assert policy(subject=None, claims={"repository": "acme/billing"}).subject is None
    assert policy(issuer=COGNITO, subject=None, claims={"cognito:groups": "platform-admins"})
    assert policy(issuer=GITLAB, subject=None, claims={"project_id": "4242"})

    refused("subject", subject=None)
    refused("subject", subject=None, claims={"repository": "acme/*"})
    refused("subject", subject=None, claims={"repository_owner": "acme"})
    refused("subject", subject=None, claims={"groups": "*"})
    refused("subject", subject=None, claims={"email": "ada@acme.example"})  # many providers let users set it


# Validation of the other fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"issuer": "http://token.actions.githubusercontent.com"}, "issuer"),
        ({"issuer": "https://127.0.0.1"}, "issuer"),
        ({"issuer": "https://user@idp.example"}, "issuer"),
        ({"issuer": "https://idp.example/?tenant=x"}, "issuer"),
        ({"issuer": "https://Token.Actions.GitHubUserContent.com"}, "issuer"),
        ({"issuer": None}, "issuer"),
        ({"audience": ""}, "audience"),
        ({"audience": "has space"}, "audience"),
        ({"audience": "a" * 257}, "audience"),
        ({"roles": []}, "roles"),
        ({"roles": ["Admin"]}, "roles"),
        ({"roles": ["a", "a"]}, "roles"),
        ({"roles": [f"r{n}" for n in range(11)]}, "roles"),
        ({"context": {"tenant": 7}}, "context.tenant"),
        ({"context": {"1bad": "x"}}, "context"),
        ({"claims": {"sub": "repo:acme/billing:**"}}, "claims.sub"),
        ({"claims": {"aud": "x"}}, "claims.aud"),
        ({"claims": {"exp": "1"}}, "claims.exp"),
        ({"claims": {"bad name": "x"}}, "claims"),
        ({"claims": {"ref": "refs/***"}}, "claims.ref"),
        ({"claims": {f"c{n}": "x" for n in range(17)}}, "claims"),
        ({"max_ttl_seconds": 59}, "max_ttl_seconds"),
        ({"max_ttl_seconds": 12 * 3600 + 1}, "max_ttl_seconds"),
        ({"max_ttl_seconds": True}, "max_ttl_seconds"),
        ({"max_ttl_seconds": 900.5}, "max_ttl_seconds"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_policy_out_of_bounds_is_refused_naming_its_field(fields: dict[str, Any], field: str) -> None:
    refused(field, **fields)


def test_a_policy_name_is_a_slug() -> None:
    refused("name", name="Not A Slug")


def test_the_local_issuer_on_127_0_0_1_is_accepted_only_where_allowed() -> None:
    body = {"issuer": "http://127.0.0.1:3002", "audience": "archie-keys", "subject": "demo-ada", "roles": ["admin"]}
    with pytest.raises(ValidationFailedError):
        parse_trust_policy("local", body)
    assert parse_trust_policy("local", body, allow_loopback_http=True).issuer == "http://127.0.0.1:3002"


def test_defaults_and_the_body_read_back() -> None:
    written = policy(claims={"workflow": "deploy"}, context={"tenant": "t-17"})

    assert written.max_ttl_seconds == TRUST_TTL_DEFAULT_SECONDS == 900
    assert parse_trust_policy("ci", written.to_body()) == written


# Matching ----------------------------------------------------------------------------------------------------


def test_a_github_token_for_the_trusted_repository_and_branch_matches() -> None:
    trusted = policy(claims={"workflow": "deploy", "environment": "production"})

    assert matching_policies([trusted], GITHUB_MAIN) == [trusted]


@pytest.mark.parametrize(
    "change",
    [
        {"sub": "repo:acme/billing:ref:refs/heads/feature"},
        {"sub": "repo:acme/billing-fork:ref:refs/heads/main"},
        {"iss": "https://token.actions.githubusercontent.com/"},
        {"aud": "sts.amazonaws.com"},
        {"workflow": "anything-else"},
        {"workflow": None},
    ],
)
def test_a_github_token_differing_in_any_pinned_part_does_not_match(change: dict[str, Any]) -> None:
    trusted = policy(claims={"workflow": "deploy"})
    token = {k: v for k, v in {**GITHUB_MAIN, **change}.items() if v is not None}

    assert matching_policies([trusted], token) == []


def test_a_gitlab_token_matches_by_project_path_and_a_protected_ref() -> None:
    trusted = policy(
        issuer=GITLAB,
        subject="project_path:acme/platform/billing:ref_type:branch:ref:*",
        claims={"ref_protected": "true"},
    )

    assert matching_policies([trusted], GITLAB_MAIN) == [trusted]
    assert matching_policies([trusted], {**GITLAB_MAIN, "ref_protected": "false"}) == []
    # another issuer spelling true as a JSON boolean is read the same way
    assert matching_policies([trusted], {**GITLAB_MAIN, "ref_protected": True}) == [trusted]


def test_a_person_in_the_platform_admins_group_matches_the_admins_policy() -> None:
    admins = policy(
        "admins",
        issuer=COGNITO,
        audience="dashboard-client",
        subject=None,
        claims={"cognito:groups": "platform-admins"},
        roles=["admin"],
    )

    assert matching_policies([admins], ADA) == [admins]
    assert matching_policies([admins], {**ADA, "cognito:groups": ["developers"]}) == []
    assert matching_policies([admins], {k: v for k, v in ADA.items() if k != "cognito:groups"}) == []


def test_a_group_condition_is_never_met_by_an_odd_shaped_claim() -> None:
    admins = policy(issuer=COGNITO, audience="dashboard-client", subject=None, claims={"groups": "platform-admins"})

    for odd in ({"platform-admins": True}, [["platform-admins"]], 1.5, None):
        assert matching_policies([admins], {**ADA, "groups": odd}) == []


def test_when_several_policies_match_the_most_specific_is_chosen_whatever_their_order() -> None:
    whole_repo = policy("a-whole-repo", subject="repo:acme/billing:**", roles=["reader"])
    any_branch = policy("b-branches", subject="repo:acme/billing:ref:refs/heads/*", roles=["writer"])
    exact_main = policy("c-main", subject="repo:acme/billing:ref:refs/heads/main", roles=["deployer"])
    exact_main_deploy = policy("d-main-deploy", claims={"workflow": "deploy"}, roles=["deployer", "migrator"])
    by_claim = policy("e-by-claim", subject=None, claims={"repository": "acme/billing"}, roles=["reader"])
    twin = policy("c-main-twin", subject="repo:acme/billing:ref:refs/heads/main", roles=["other"])
    every = [by_claim, whole_repo, twin, exact_main_deploy, any_branch, exact_main]

    ordered = [p.name for p in matching_policies(every, GITHUB_MAIN)]

    assert ordered == ["d-main-deploy", "c-main", "c-main-twin", "b-branches", "a-whole-repo", "e-by-claim"]
    assert [p.name for p in matching_policies(reversed(every), GITHUB_MAIN)] == ordered


def test_an_exchanged_key_lives_as_asked_but_never_past_the_policys_maximum() -> None:
    trusted = policy(max_ttl_seconds=600)

    assert exchange_ttl_seconds(trusted, None) == 600
    assert exchange_ttl_seconds(trusted, 120) == 120
    for asked in (601, 59, 0, -1, True, 120.5, "120"):
        with pytest.raises(ValidationFailedError) as caught:
            exchange_ttl_seconds(trusted, asked)
        assert caught.value.field == "ttl_seconds"
