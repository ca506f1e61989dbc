"""Configuration is checked once, and a bad deployment fails loudly with every problem named."""

from __future__ import annotations

import dataclasses

import pytest

from archie_keys.domain.flush_scope import serves
from archie_keys.domain.flush_targets import FlushTarget
from archie_keys.edge.settings import ConfigurationError, load_settings
from archie_local.template import Resolver, load_template, parameter_defaults

BASE = {
    "KEYS_TABLE": "keys",
    "IDEMPOTENCY_TABLE": "idem",
    "PEPPER_SECRET_ID": "pepper",
    "KEY_TAG_SECRET_ID": "tags",
    "AWS_REGION": "us-east-1",
}


# Named after the stack it deploys into: no code default could be the deployed value.
PER_STACK = {"STACK_NAME", "PROTECTED_APIS_PATH"}


def deployed_environment() -> dict[str, str]:
    """What the template gives every function (Globals), with its parameters at their defaults: the values
    that need no resource (a table's or a queue's name is the stack's, not a default)."""
    template = load_template()
    resolver = Resolver(parameter_defaults(template))
    environment = {}
    for name, value in template["Globals"]["Function"]["Environment"]["Variables"].items():
        try:
            environment[name] = str(resolver.resolve(value))
        except KeyError:  # a resource the resolver has not provisioned
            continue
    return environment


def test_the_code_defaults_are_what_the_template_deploys() -> None:
    """A function that finds a variable unset (a test, a new function, a hand-made stack) behaves as a deployed
    one: every setting the template gives a value of its own has that value as the code's default."""
    deployed = {name: value for name, value in deployed_environment().items() if name not in PER_STACK}
    assert {"ARGON2_MEMORY_KIB", "ARGON2_TIME_COST", "AUTHORIZER_CACHE_TTL_SECONDS"} <= set(deployed)
    defaults, as_deployed = load_settings(BASE), load_settings({**deployed, **BASE})
    differ = {
        field.name: (getattr(defaults, field.name), getattr(as_deployed, field.name))
        for field in dataclasses.fields(defaults)
        if getattr(defaults, field.name) != getattr(as_deployed, field.name)
    }
    assert differ == {}
    assert defaults.flush_targets == ()  # the registry, not a variable, names the stages to flush


def test_every_problem_is_named() -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(
            {
                "KEYS_TABLE": "k",
                "ARGON2_TIME_COST": "two",
                "AUTHORIZER_CACHE_TTL_SECONDS": "60",
                "FLUSH_TARGETS": "api-only",
            }
        )
    message = str(error.value)
    for expected in (
        "IDEMPOTENCY_TABLE is required",
        "PEPPER_SECRET_ID is required",
        "KEYS_TABLE must have",
        "ARGON2_TIME_COST='two'",
        "AUTHORIZER_CACHE_TTL_SECONDS='60' is outside",
        "'api-only'",
    ):
        assert expected in message


def test_flush_targets_say_which_stages_serve_which_environment() -> None:
    settings = load_settings({**BASE, "FLUSH_TARGETS": "mgmt/v1, orders/prod/acme/prod"})
    management, orders = settings.flush_targets
    assert management == FlushTarget("mgmt", "v1") and serves(management, "any", "where")
    assert serves(orders, "acme", "prod") and not serves(orders, "acme", "dev")


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"SIGN_IN_ISSUER": "https://id.example.com"}, "set together"),
        ({"SIGN_IN_CLIENT_ID": "dashboard"}, "set together"),
        ({"SIGN_IN_ISSUER": "http://id.example.com", "SIGN_IN_CLIENT_ID": "dashboard"}, "SIGN_IN_ISSUER: "),
        ({"SIGN_IN_ISSUER": "http://127.0.0.1:3002", "SIGN_IN_CLIENT_ID": "dashboard"}, "SIGN_IN_ISSUER: "),
        ({"SIGN_IN_ISSUER": "https://id.example.com", "SIGN_IN_CLIENT_ID": "a b"}, "SIGN_IN_CLIENT_ID is"),
    ],
)
def test_the_sign_in_issuer_and_client_are_checked_at_start(given: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        load_settings({**BASE, **given})


def test_the_local_sign_in_issuer_is_accepted_where_loopback_issuers_are() -> None:
    local = {"SIGN_IN_ISSUER": "http://127.0.0.1:3002", "SIGN_IN_CLIENT_ID": "archie-dashboard"}
    settings = load_settings({**BASE, **local, "OIDC_ALLOW_LOOPBACK_HTTP": "1"})
    assert (settings.sign_in_issuer, settings.sign_in_client_id) == ("http://127.0.0.1:3002", "archie-dashboard")


def test_the_region_is_lambdas_and_the_stacks_regions_start_with_it() -> None:
    settings = load_settings({**BASE, "AWS_REGION": "eu-west-1", "ARCHIE_REGIONS": "us-east-1, eu-west-1"})
    assert settings.aws_region == "eu-west-1" and settings.regions == ("eu-west-1", "us-east-1")
    assert load_settings(BASE).regions == ("us-east-1",)
    only_default = {k: v for k, v in BASE.items() if k != "AWS_REGION"} | {"AWS_DEFAULT_REGION": "ap-south-1"}
    assert load_settings(only_default).aws_region == "ap-south-1"


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"AWS_REGION": "US_EAST"}, "AWS_REGION='US_EAST' is not a region"),
        ({"ARCHIE_REGIONS": "us-east-1,mars"}, "ARCHIE_REGIONS: 'mars'"),
        ({"ARCHIE_REGIONS": "eu-west-1,eu-central-1"}, r"must include this region \(us-east-1\)"),
        ({"AUDIT_TABLES": "eu-west-1"}, "AUDIT_TABLES: not <region>=<value>: eu-west-1"),
        ({"REGION_ENDPOINTS": "mars=http://127.0.0.1:5000"}, "REGION_ENDPOINTS: 'mars' is not a region"),
    ],
)
def test_a_region_that_is_not_one_fails_at_start(given: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_settings({**BASE, **given})
    without = {k: v for k, v in BASE.items() if k != "AWS_REGION"}
    with pytest.raises(ConfigurationError, match="AWS_REGION is required"):
        load_settings(without)
