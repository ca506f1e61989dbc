"""The audit names who acted through a token (the pipeline with its run, or the person), and a token that
was exchanged once is recognised when it comes back, until it could no longer be used anyway."""

from __future__ import annotations

import pytest

from archie_keys.domain.limits import OIDC_ACTOR_DETAIL_MAX_CHARS, OIDC_CLOCK_SKEW_SECONDS
from archie_keys.domain.oidc_actor import person_actor, workload_actor
from archie_keys.domain.replay import replay_mark
from tests.fakes.oidc import ADA, GITHUB_MAIN, GITLAB_MAIN


def test_a_github_workload_is_named_by_issuer_and_subject_with_its_run() -> None:
    actor = workload_actor(GITHUB_MAIN)

    assert actor.name == "oidc:https://token.actions.githubusercontent.com#repo:acme/billing:ref:refs/heads/main"
    assert {k: actor.details[k] for k in ("repository", "workflow", "ref", "run_id")} == {
        "repository": "acme/billing",
        "workflow": "deploy",
        "ref": "refs/heads/main",
        "run_id": "9876543210",
    }
    assert "event_name" not in actor.details and not actor.is_person


def test_a_gitlab_workload_keeps_its_project_and_pipeline() -> None:
    actor = workload_actor(GITLAB_MAIN)

    assert actor.name == "oidc:https://gitlab.com#project_path:acme/platform/billing:ref_type:branch:ref:main"
    assert (actor.details["project_path"], actor.details["pipeline_id"], actor.details["ref"]) == (
        "acme/platform/billing",
        "777",
        "main",
    )


def test_workload_details_are_bounded_and_one_line() -> None:
    actor = workload_actor({**GITHUB_MAIN, "workflow": "deploy\nFORGED line" + "x" * 1000, "run_id": {"nested": 1}})

    assert "\n" not in actor.details["workflow"] and len(actor.details["workflow"]) == OIDC_ACTOR_DETAIL_MAX_CHARS
    assert "run_id" not in actor.details


def test_a_person_is_named_by_their_verified_email() -> None:
    assert person_actor(ADA).name == "user:ada@acme.example"
    assert person_actor(ADA).is_person


@pytest.mark.parametrize(
    "claims",
    [
        {**ADA, "email_verified": False},
        {k: v for k, v in ADA.items() if k != "email_verified"},
        {**ADA, "email": "not an address"},
        {**ADA, "email": 42},
    ],
)
def test_a_person_whose_email_is_not_verified_is_named_by_their_subject(claims: dict[str, object]) -> None:
    """Many providers let a user type any address: the audit must not say `user:ceo@...` on their word."""
    assert person_actor(claims).name == "user:3f1c2b9e-1111-2222-3333-444455556666"


def token(**claims: object) -> dict[str, object]:
    return {
        "iss": "https://gitlab.com",
        "sub": "project_path:acme/billing:ref_type:branch:ref:main",
        "iat": 1000,
        "exp": 1300,
        **claims,
    }


def test_a_token_is_remembered_by_its_jti_until_it_expires_plus_the_skew() -> None:
    mark = replay_mark(token(jti="abc"))

    assert mark.identity.startswith("jti:") and "abc" not in mark.identity
    assert mark.remember_until == 1300 + OIDC_CLOCK_SKEW_SECONDS
    assert replay_mark(token(jti="abc", iat=1001)) == mark  # the same token, whatever else differs
    assert replay_mark(token(jti="abd")).identity != mark.identity


def test_the_same_jti_from_two_issuers_is_two_tokens() -> None:
    assert replay_mark(token(jti="1")).identity != replay_mark(token(jti="1", iss="https://idp.example")).identity


def test_without_a_jti_a_token_is_its_issuer_subject_and_issue_time() -> None:
    mark = replay_mark(token())

    assert mark.identity.startswith("iat:")
    assert replay_mark(token(iat=1001)).identity != mark.identity
    assert replay_mark(token(sub="project_path:acme/other:ref_type:branch:ref:main")).identity != mark.identity
    assert replay_mark(token(exp=1299)).identity == mark.identity


def test_a_fractional_expiry_is_remembered_to_the_next_second() -> None:
    assert replay_mark(token(exp=1300.2)).remember_until == 1301 + OIDC_CLOCK_SKEW_SECONDS
